"""Deny elimination: subtract every ``deny`` from the planned policies, exactly or not at all.

Runs between plan and optimize (``compile.py``), on the policy-level IR, so the
planner, the optimizer and the renderer never see a deny. Its guarantee: the
policies it returns, read by Kubernetes, allow exactly what the program allows
under docs/semantics.md ("Deny"), or it refuses with an SEG08x error.

How a deny is enforced. NetworkPolicy acts only at pods of the namespaces the
program manages, so a deny is subtracted at one *near* end, always chosen by
labels: the destination's ingress when the destination is pods of one managed
namespace, otherwise the source's egress when the source is. At that end

* every policy that isolates pods the deny names is split into the part the
  deny names (its rules minus the deny) and the rest (untouched);
* pods the deny names that nothing isolates yet get a new policy: everything
  (every pod, every IPv4 and IPv6 address) minus the deny.

Subtraction is set difference on the selector algebra: a conjunction's
complement is a union of peers with one requirement negated (``In`` <-> ``NotIn``,
``Exists`` <-> ``DoesNotExist``), namespaces likewise (``kubernetes.io/metadata.name``),
address blocks by ``except`` (a block split where the hole is not inside),
numeric ports and ranges split around the denied ones.

What has no exact form is refused (docs/semantics.md lists each case):
SEG080 a deny between two address blocks; SEG081 a near end outside the managed
namespaces; SEG082 pods named by labels that an address block would still admit;
SEG083 named ports that cannot be subtracted; SEG084 a complement too large;
SEG085 port ranges before Kubernetes 1.25. A deny that withdraws nothing is
warned about (SEG140).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from .. import ir
from ..cluster import NAME_LABEL
from ..diagnostics import Collector
from .plan import ENDPORT_SINCE, MAX_EXPANDED_PORTS, Match, _ports_may_overlap, ns_match
from .policy import EGRESS, INGRESS, Policy, PolicySet, Rule

PROTOCOLS = (ir.TCP, ir.UDP, ir.SCTP)
MAX_PIECES = 64
EVERYTHING = (
    ir.PodPeer(ir.NsAll(), ir.Selector()),
    ir.BlockPeer(ipaddress.ip_network("0.0.0.0/0")),
    ir.BlockPeer(ipaddress.ip_network("::/0")),
)


class Refusal(Exception):
    def __init__(self, code: str, message: str, *notes: str):
        super().__init__(message)
        self.code, self.message, self.notes = code, message, notes


@dataclass
class Cost:
    """What deny elimination added, for `segc build --stats`."""

    denies: int = 0
    split: int = 0  # policies split around a deny
    isolated: int = 0  # new policies for pods nothing isolated before


# ------------------------------------------------------------- selectors


def negate(r: ir.Requirement) -> ir.Requirement:
    op = {ir.IN: ir.NOT_IN, ir.NOT_IN: ir.IN, ir.EXISTS: ir.DOES_NOT_EXIST, ir.DOES_NOT_EXIST: ir.EXISTS}[r.op]
    return ir.Requirement(r.key, op, r.values)


def conjoin(reqs) -> ir.Selector | None:
    """The conjunction, simplified key by key; None when nothing can match it."""
    by_key: dict[str, list[ir.Requirement]] = {}
    for r in reqs:
        by_key.setdefault(r.key, []).append(r)
    out = []
    for key, rs in sorted(by_key.items()):
        exists: bool | None = None
        within: set[str] | None = None
        outside: set[str] = set()
        for r in rs:
            if r.op == ir.IN:
                if exists is False:
                    return None
                exists = True
                within = set(r.values) if within is None else within & set(r.values)
            elif r.op == ir.NOT_IN:
                outside |= set(r.values)
            elif r.op == ir.EXISTS:
                if exists is False:
                    return None
                exists = True
            else:
                if exists is True:
                    return None
                exists = False
        if exists is False:
            out.append(ir.Requirement(key, ir.DOES_NOT_EXIST))
        elif within is not None:
            within -= outside
            if not within:
                return None
            out.append(ir.Requirement(key, ir.IN, tuple(sorted(within))))
        else:
            if exists:
                out.append(ir.Requirement(key, ir.EXISTS))
            if outside:
                out.append(ir.Requirement(key, ir.NOT_IN, tuple(sorted(outside))))
    return ir.Selector.of(out)


def selector_minus(a: ir.Selector, b: ir.Selector) -> list[ir.Selector]:
    """``a`` and not ``b``, as a union of selectors."""
    out = []
    for r in b.requirements:
        s = conjoin((*a.requirements, negate(r)))
        if s is not None and s not in out:
            out.append(s)
    return out


def _within(a: ir.Selector, b: ir.Selector) -> bool:
    return conjoin((*a.requirements, *b.requirements)) == conjoin(a.requirements)


# ------------------------------------------------------------------ peers


def _ns_as_labels(ns: ir.NsSelector) -> tuple[ir.Requirement, ...]:
    if isinstance(ns, ir.NsNamed):
        return (ir.Requirement(NAME_LABEL, ir.IN, (ns.name,)),)
    if isinstance(ns, ir.NsAll):
        return ()
    return ns.selector.requirements


def _ns_from_labels(sel: ir.Selector) -> ir.NsSelector:
    r = sel.requirements
    if not r:
        return ir.NsAll()
    if len(r) == 1 and r[0].key == NAME_LABEL and r[0].op == ir.IN and len(r[0].values) == 1:
        return ir.NsNamed(r[0].values[0])
    return ir.NsLabels(sel)


def ns_minus(a: ir.NsSelector, b: ir.NsSelector) -> list[ir.NsSelector]:
    if isinstance(b, ir.NsAll):
        return []
    if isinstance(a, ir.NsNamed) and ns_match(b, a.name) is not Match.MAYBE:
        return [] if ns_match(b, a.name) is Match.YES else [a]
    return [_ns_from_labels(s) for s in selector_minus(ir.Selector(_ns_as_labels(a)), ir.Selector(_ns_as_labels(b)))]


def _ns_may_overlap(a: ir.NsSelector, b: ir.NsSelector) -> bool:
    return conjoin((*_ns_as_labels(a), *_ns_as_labels(b))) is not None


def pods_minus(a: ir.PodPeer, b: ir.PodPeer) -> list[ir.PodPeer]:
    """The pods ``a`` selects and ``b`` does not."""
    if not _ns_may_overlap(a.ns, b.ns) or conjoin((*a.pods.requirements, *b.pods.requirements)) is None:
        return [a]
    out = [ir.PodPeer(ns, a.pods) for ns in ns_minus(a.ns, b.ns)]
    out += [ir.PodPeer(a.ns, s) for s in selector_minus(a.pods, b.pods)]
    return out


def _net_key(n):
    return (n.version, int(n.network_address), n.prefixlen)


def block_minus(a: ir.BlockPeer, b: ir.BlockPeer) -> list[ir.BlockPeer]:
    """The addresses ``a`` covers and ``b`` does not: ``b`` is its net minus its holes."""
    if a.net.version != b.net.version or not a.net.overlaps(b.net):
        return [a]
    out = []
    # a minus b's net
    if not a.net.subnet_of(b.net):  # b.net lies strictly inside a.net
        if any(b.net.subnet_of(h) for h in a.excepts):
            return [a]
        holes = sorted([h for h in a.excepts if not h.subnet_of(b.net)] + [b.net], key=_net_key)
        out.append(ir.BlockPeer(a.net, tuple(holes)))
    # plus a within each of b's holes
    for hole in b.excepts:
        if not hole.overlaps(a.net):
            continue
        if a.net.subnet_of(hole):
            return [a]
        if any(hole.subnet_of(h) for h in a.excepts):
            continue
        out.append(ir.BlockPeer(hole, tuple(sorted((h for h in a.excepts if h.subnet_of(hole)), key=_net_key))))
    return out


# ------------------------------------------------------------------ ports


def ports_minus(a: ir.Ports, b: ir.Ports, k8s_version) -> tuple[ir.Port, ...]:
    """The ports of ``a`` that ``b`` does not cover (``()``: none)."""
    if b is None:
        return ()
    if a is None:
        named = [p for p in b if p.name]
        if named:
            raise Refusal(
                "SEG083",
                f"cannot compile exactly: this deny takes the named port {named[0].to_seg()} out of every port, and NetworkPolicy cannot say \"every port except a named port\"",
                "a named port stands for a different number on each pod, and a rule lists ports, it cannot exclude one",
                "deny the port by number (e.g. `:8080`), or list the ports the allow means instead of every port",
            )
        a = tuple(ir.Port(p, 1, 65535) for p in PROTOCOLS)
    out: list[ir.Port] = []
    for q in a:
        rs = [r for r in b if r.protocol == q.protocol]
        if not rs:
            out.append(q)
            continue
        if q.name:
            if any(r.name == q.name for r in rs):
                continue
            raise Refusal(
                "SEG083",
                f"cannot compile exactly: an allow grants the named port {q.to_seg()} and this deny takes out {', '.join(r.to_seg() for r in rs)} of the same protocol",
                f"segc cannot know which number {q.name!r} stands for on each pod, so it cannot tell what is left",
                "write the deny and the allow with the same kind of port (both by number, or the same port name)",
            )
        if any(r.name for r in rs):
            raise Refusal(
                "SEG083",
                f"cannot compile exactly: this deny names port {next(r for r in rs if r.name).to_seg()} and an allow grants {q.to_seg()} by number",
                "the named port stands for a different number on each pod, so the numbers left over are not known",
                "deny the port by number, or grant it by name in the allow",
            )
        spans = [(q.start, q.end)]
        for r in rs:
            nxt = []
            for s, e in spans:
                if r.end < s or e < r.start:
                    nxt.append((s, e))
                    continue
                if s < r.start:
                    nxt.append((s, r.start - 1))
                if r.end < e:
                    nxt.append((r.end + 1, e))
            spans = nxt
        out += [ir.Port(q.protocol, s, e) for s, e in spans]
    out = sorted(set(out))
    if k8s_version < ENDPORT_SINCE and any(p.end > p.start for p in out):
        count = sum(p.end - p.start + 1 for p in out if not p.name)
        if count > MAX_EXPANDED_PORTS:
            v = ".".join(map(str, k8s_version))
            raise Refusal(
                "SEG085",
                f"cannot compile for Kubernetes {v}: what this deny leaves of the allowed ports needs port ranges (endPort, Kubernetes 1.25), {count} ports one by one",
                "target a newer version with --k8s-version, or list the ports the allows grant so the deny leaves few",
            )
        out = sorted({ir.Port(p.protocol, n, n) for p in out if not p.name for n in range(p.start, p.end + 1)} | {p for p in out if p.name})
    return tuple(out)


# ------------------------------------------------------------------ rules


def peer_minus(x: ir.Peer, far: ir.Peer, near_text: str) -> list[ir.Peer]:
    if isinstance(x, ir.PodPeer):
        # A deny's address block withdraws what was granted by address only.
        return pods_minus(x, far) if isinstance(far, ir.PodPeer) else [x]
    if isinstance(far, ir.BlockPeer):
        return block_minus(x, far)
    raise Refusal(
        "SEG082",
        f"cannot compile exactly: an allow admits {near_text} from/to the address block {x.to_seg()}, and a block covers pods' IPs too, so the pods this deny names ({far.to_seg()}) would still get through",
        "NetworkPolicy cannot take pods out of an ipBlock",
        "keep address blocks for addresses outside the cluster and exclude the pod network with `except`, or deny those addresses by block too",
    )


def rules_minus(rules: tuple[Rule, ...], far: ir.Peer, ports: ir.Ports, pointer: str, near_text: str, k8s_version) -> tuple[tuple[Rule, ...], bool]:
    """The rules minus (far x ports), and whether anything changed."""
    out: list[Rule] = []
    changed = False
    for r in rules:
        if not _ports_may_overlap(r.ports, ports):
            out.append(r)
            continue
        kept: list[ir.Peer] = []
        touched: list[ir.Peer] = []
        for x in r.peers:
            rest = peer_minus(x, far, near_text)
            if rest == [x]:
                kept.append(x)
            else:
                touched.append(x)
                kept += rest
        if not touched:
            out.append(r)
            continue
        changed = True
        sources = r.sources | {pointer}
        if kept:
            out.append(Rule(tuple(dict.fromkeys(kept)), r.ports, sources))
        left = ports_minus(r.ports, ports, k8s_version)
        if left:
            out.append(Rule(tuple(touched), left, sources))
    return tuple(out), changed


# ------------------------------------------------------------ enforcement


def unisolated(pods: ir.Selector, isolating: list[ir.Selector]) -> list[ir.Selector]:
    """``pods`` minus every selector in ``isolating``, as a union (DNF)."""
    terms = [pods]
    for s in sorted(set(isolating)):
        if s.is_all:
            return []
        nxt: list[ir.Selector] = []
        for t in terms:
            if conjoin((*t.requirements, *s.requirements)) is None:
                nxt.append(t)
            else:
                nxt += selector_minus(t, s)
        terms = [t for i, t in enumerate(dict.fromkeys(nxt)) if not any(u != t and _within(t, u) for u in nxt)]
        if len(terms) > MAX_PIECES:
            raise Refusal(
                "SEG084",
                f"cannot compile this deny compactly: the pods it names that nothing isolates yet take more than {MAX_PIECES} selectors to write down",
                "add `deny-all ingress` (or `deny-all egress`) for the namespace, so every pod is isolated already, and allow what it needs",
            )
    return sorted(set(terms))


def enforce(policies: PolicySet, deny: ir.Deny, direction: str, managed, pointer: str, k8s_version, cost: Cost) -> list[Policy]:
    near, far = (deny.dst, deny.src) if direction == INGRESS else (deny.src, deny.dst)
    side = "destination" if direction == INGRESS else "source"
    if not isinstance(near, ir.PodPeer) or not isinstance(near.ns, ir.NsNamed) or near.ns.name not in managed:
        what = near.to_seg()
        raise Refusal(
            "SEG081",
            f"cannot enforce this deny: its {side} {what} is not pods of one namespace this program manages, and NetworkPolicy acts only at the pods it is written for",
            f"a deny is enforced at the destination's ingress, or else at the source's egress; {'an address block' if isinstance(near, ir.BlockPeer) else 'pods of other namespaces'} cannot be isolated here",
            "name the pods with a namespace this program manages (e.g. `app/db`), with a `namespace` line or a `deny-all ... in NS`",
        )
    ns, pods = near.ns.name, near.pods
    near_text = near.to_seg()
    out: list[Policy] = []
    isolating: list[ir.Selector] = []
    for p in policies:
        if p.namespace != ns or direction not in p.isolates:
            out.append(p)
            continue
        isolating.append(p.pods)
        inside = conjoin((*p.pods.requirements, *pods.requirements))
        if inside is None:
            out.append(p)
            continue
        rules, changed = rules_minus(p.rules(direction), far, deny.ports, pointer, near_text, k8s_version)
        if not changed:
            out.append(p)
            continue
        cost.split += 1
        for rest in selector_minus(p.pods, pods):
            out.append(Policy(ns, rest, p.isolates, p.ingress, p.egress, p.sources, p.from_deny))
        q = Policy(ns, inside, p.isolates, p.ingress, p.egress, p.sources | {pointer}, p.from_deny)
        out.append(q.replace_rules(direction, rules))
    fresh = unisolated(pods, isolating)
    if fresh:
        try:
            rules, _ = rules_minus((Rule(EVERYTHING, None),), far, deny.ports, pointer, near_text, k8s_version)
        except Refusal as r:
            if r.code != "SEG082":
                raise
            raise Refusal(
                "SEG082",
                f"cannot compile exactly: nothing isolates {near_text} at {direction.lower()} yet, so this deny must isolate it and re-allow everything else; outside addresses can only be re-allowed by an ipBlock, and an ipBlock covers pods' IPs too, so the pods this deny names ({far.to_seg()}) would still get through",
                "NetworkPolicy cannot take pods out of an ipBlock",
                f"isolate {near_text} first (`deny-all {direction.lower()} in {ns}`, or an allow that names it as {'destination' if direction == INGRESS else 'source'} in an egress-isolated namespace) and allow what it needs; the deny then subtracts from those allows",
            ) from None
        for t in fresh:
            cost.isolated += 1
            out.append(Policy(ns, t, frozenset([direction]), sources=frozenset([pointer])).replace_rules(direction, rules))
    return out


def _sides(deny: ir.Deny) -> list[str]:
    """Where the deny may be enforced, preferred first (docs/semantics.md, "Deny")."""
    src_pods, dst_pods = isinstance(deny.src, ir.PodPeer), isinstance(deny.dst, ir.PodPeer)
    if src_pods and dst_pods:
        return [INGRESS, EGRESS]
    return [INGRESS] if dst_pods else [EGRESS] if src_pods else []


def eliminate(policies: PolicySet, denies, managed, diags: Collector, pointer_of, k8s_version=(1, 30), cost: Cost | None = None) -> PolicySet:
    """``policies`` with every deny subtracted; refusals go to ``diags``.

    Denies are applied in a canonical order (by meaning), so statement order
    never shows in the output; each step is exact, so the result is too.
    """
    cost = cost if cost is not None else Cost()
    by_meaning: dict[ir.Deny, list[ir.Deny]] = {}
    for d in denies:
        by_meaning.setdefault(d, []).append(d)
    current = list(policies)
    for deny in sorted(by_meaning, key=lambda d: (d.to_seg(), repr(d))):
        cost.denies += 1
        pointer = sorted(pointer_of(d) for d in by_meaning[deny])[0]
        sides = _sides(deny)
        first = min(by_meaning[deny], key=lambda d: d.span)
        if not sides:
            diags.error(
                first.span,
                "SEG080",
                "cannot enforce this deny: both ends are address blocks, and NetworkPolicy acts only at pods chosen by labels",
                "a deny's address block withdraws what allows grant to those addresses at the other end, which must be pods",
                "name the pods on one side (e.g. `deny * -> 169.254.169.254/32` in a namespace this program manages)",
            )
            continue
        refusals = []
        for direction in sides:
            try:
                done = cost.split + cost.isolated
                current = enforce(tuple(current), deny, direction, managed, pointer, k8s_version, cost)
                if cost.split + cost.isolated == done:
                    diags.warning(
                        first.span,
                        "SEG140",
                        "this deny has no effect: no allow grants what it denies",
                        "remove it, or check its endpoints and ports",
                    )
                break
            except Refusal as r:
                refusals.append((direction, r))
        else:
            direction, r = refusals[0]
            notes = list(r.notes)
            for other, o in refusals[1:]:
                notes.append(f"enforcing it at the source's egress instead fails too: {o.message}")
            diags.error(first.span, r.code, r.message, *notes)
    return tuple(current)
