"""NetworkPolicy YAML to the shortest faithful .seg program (``segc import``).

The import reads the policies with evaluator 2's own reading of Kubernetes
(``k8s_eval``: defaults, ``policyTypes``, null selectors), turns every rule into
``.seg`` allows, and accepts the result only where the .seg meaning
(docs/semantics.md) equals the Kubernetes meaning on every cluster:

* the namespaces holding policies become the managed namespaces; a policy with
  an empty pod selector becomes ``deny-all`` (its direction) in its namespace;
* an ingress rule of a policy on pods ``N/S`` becomes ``allow PEER -> N/S:PORTS``
  for each peer; an egress rule becomes ``allow N/S -> PEER:PORTS``.

One pattern becomes ``deny``: a namespace whose egress is open to every pod
and every address but some blocks gets no egress isolation and a
``deny NS/* -> HOLE`` per hole (``_open_egress_holes``).

A .seg allow speaks for both ends, a Kubernetes rule for one. So each allow is
checked for what it would add at the other end (SEG173, SEG174), and the
forms .seg has no word for are refused (SEG171: egress isolation of part of a
namespace; SEG172: ingress isolation of part of a namespace with no rule).
Refusals name the file, the line of the object and the object. Finally the
program text is parsed and resolved again and must give exactly the intended
program (SEG179 otherwise): the renderer cannot widen or narrow unnoticed.

Codes: SEG170 unreadable input, SEG171-SEG174 no exact .seg form, SEG175 a
selector, block or namespace .seg cannot write, SEG176 a port it cannot write, SEG177 the
compiler refuses the imported statement, SEG178 nothing to import, SEG179
internal self-check.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache

from . import ir
from .backend.plan import _ports_may_overlap, _selectors_may_overlap
from .cluster import NAME_LABEL
from .diagnostics import Collector, Diagnostic
from .ir import Span

YAML_SUFFIXES = (".yaml", ".yml", ".json")
# A bare name like this reads as an address; after `NS/` it is a label.
_LOOKS_LIKE_ADDRESS = re.compile(r"[0-9]+(\.[0-9]+)+")

# An endpoint used twice gets a group when it is at least this long to write.
GROUP_MIN_LENGTH = 24


class ImportRefused(Exception):
    def __init__(self, message: str, code: str = "SEG175"):
        super().__init__(message)
        self.code = code


# ------------------------------------------------------------------ reading


@dataclass
class SourceObject:
    """One NetworkPolicy object as read: where it is, what it says."""

    span: Span
    raw: dict
    policy: object = None  # k8s_eval.Policy

    @property
    def label(self) -> str:
        meta = self.raw.get("metadata") or {}
        return f"NetworkPolicy {meta.get('namespace') or 'default'}/{meta.get('name') or '<unnamed>'}"


def expand_paths(paths: list[str]) -> list[str]:
    """Files as given; a directory contributes its YAML files (sorted, not recursive)."""
    out = []
    for p in paths:
        if os.path.isdir(p):
            out += sorted(os.path.join(p, f) for f in os.listdir(p) if f.endswith(YAML_SUFFIXES))
        else:
            out.append(p)
    return out


def read_objects(path: str, text: str, diags: Collector) -> list[SourceObject]:
    """The NetworkPolicy objects of one YAML text, each with the line it starts on."""
    import yaml

    loader_cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_cls(text)
    found: list[SourceObject] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            data = loader.construct_document(node)
            _collect(path, node, data, found, diags)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        span = Span(path, mark.line + 1, mark.column + 1) if mark else Span(path, 1, 1)
        diags.error(span, "SEG170", f"not valid YAML: {getattr(e, 'problem', None) or e}")
    finally:
        loader.dispose()
    return found


def _collect(path: str, node, data, found: list[SourceObject], diags: Collector) -> None:
    span = Span(path, node.start_mark.line + 1, node.start_mark.column + 1)
    if data is None:
        return
    if not isinstance(data, dict):
        diags.error(span, "SEG170", f"expected a Kubernetes object (a mapping), found {type(data).__name__}")
        return
    kind = data.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(data.get("items"), list):
        item_nodes = next((v.value for k, v in node.value if getattr(k, "value", None) == "items"), [])
        for item_node, item in zip(item_nodes, data["items"]):
            _collect(path, item_node, item, found, diags)
        return
    if kind == "NetworkPolicy":
        found.append(SourceObject(span, data))


# ------------------------------------------------------------ translation


@dataclass(frozen=True)
class Candidate:
    """An allow the import would write, and the rule it stands for."""

    allow: ir.Allow
    direction: str  # the Kubernetes side it comes from: "ingress" or "egress"
    origin: int  # index of the SourceObject


@dataclass
class Imported:
    program: ir.Program | None = None
    text: str | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)  # the YAML read, for carets

    @property
    def ok(self) -> bool:
        return self.text is not None and not any(d.severity == "error" for d in self.diagnostics)


def _selector(sel, what: str) -> ir.Selector:
    """evaluator 2's selector as IR, or ImportRefused when .seg cannot write it."""
    from .parser import label_key_problem, label_value_problem

    reqs = [ir.Requirement(k, ir.IN, (v,)) for k, v in sel.match_labels]
    reqs += [ir.Requirement(k, op, tuple(sorted(vs))) for k, op, vs in sel.expressions]
    for r in reqs:
        problem = label_key_problem(r.key) or next(filter(None, map(label_value_problem, r.values)), None)
        if problem:
            raise ImportRefused(f"{what}: {problem}; .seg cannot write this selector")
    return ir.Selector.of(reqs)


def _namespace(sel: ir.Selector | None, own: str) -> ir.NsSelector:
    from .parser import namespace_problem

    if sel is None:
        return ir.NsNamed(own)
    if sel.is_all:
        return ir.NsAll()
    r = sel.requirements
    if len(r) == 1 and r[0].key == NAME_LABEL and r[0].op == ir.IN and len(r[0].values) == 1 and not namespace_problem(r[0].values[0]):
        return ir.NsNamed(r[0].values[0])
    return ir.NsLabels(sel)


def _network(version: int, first: int, last: int):
    size = last - first + 1
    bits = 32 if version == 4 else 128
    prefix = bits - (size.bit_length() - 1)
    return ipaddress.ip_network((first, prefix)) if version == 4 else ipaddress.IPv6Network((first, prefix))


def _block(b, what: str) -> ir.BlockPeer:
    net = _network(b.version, b.first, b.last)
    holes = []
    for v, a, z in b.excepts:
        if v != b.version or z < b.first or a > b.last:
            continue  # an except outside the block removes nothing
        if a <= b.first and z >= b.last:
            raise ImportRefused(f"{what}: the ipBlock's except removes all of {net}, so the peer matches nothing; .seg cannot write it")
        holes.append(_network(v, a, z))
    # An except inside another except removes nothing more.
    holes = sorted({h for h in holes if not any(h != o and h.subnet_of(o) for o in holes)}, key=lambda n: (int(n.network_address), n.prefixlen))
    return ir.BlockPeer(net, tuple(holes))


EVERYTHING = (
    ir.PodPeer(ir.NsAll(), ir.Selector()),
    ir.BlockPeer(ipaddress.ip_network("0.0.0.0/0")),
    ir.BlockPeer(ipaddress.ip_network("::/0")),
)


def _peers(rule, own: str, what: str) -> tuple[ir.Peer, ...]:
    if rule.peers is None:  # no from/to: every source or destination, in the cluster or not
        return EVERYTHING
    out = []
    for i, p in enumerate(rule.peers):
        where = f"{what} peer {i + 1}"
        if p.ip_block is not None:
            out.append(_block(p.ip_block, where))
            continue
        pods = _selector(p.pod_selector, where + " podSelector") if p.pod_selector is not None else ir.Selector()
        ns_sel = _selector(p.namespace_selector, where + " namespaceSelector") if p.namespace_selector is not None else None
        out.append(ir.PodPeer(_namespace(ns_sel, own), pods))
    return tuple(out)


def _ports(rule, what: str) -> ir.Ports:
    from .parser import port_name_problem

    if rule.ports is None:
        return None
    out = set()
    for spec in rule.ports:
        if spec.port is None:
            out.add(ir.Port(spec.protocol, 1, 65535))
        elif isinstance(spec.port, str):
            problem = port_name_problem(spec.port)
            if problem:
                raise ImportRefused(f"{what}: {problem[0]}; .seg cannot write this port", "SEG176")
            out.add(ir.Port(spec.protocol, name=spec.port))
        else:
            out.add(ir.Port(spec.protocol, spec.port, spec.end_port or spec.port))
    return tuple(sorted(out))


# ---------------------------------------------------------- coverage tests
# Each is a sufficient condition: "True" is certain, "False" may be caution.


def _pods_superset(big: ir.Selector, small: ir.Selector) -> bool:
    return set(big.requirements) <= set(small.requirements)


def _ns_may_choose(ns: ir.NsSelector, name: str) -> bool:
    if isinstance(ns, ir.NsNamed):
        return ns.name == name
    if isinstance(ns, ir.NsAll):
        return True
    return all(r.matches({NAME_LABEL: name}) for r in ns.selector.requirements if r.key == NAME_LABEL)


def _ns_superset(big: ir.NsSelector, small: ir.NsSelector) -> bool:
    if isinstance(big, ir.NsAll) or big == small:
        return True
    if isinstance(big, ir.NsLabels):
        if isinstance(small, ir.NsNamed):
            return all(r.key == NAME_LABEL and r.matches({NAME_LABEL: small.name}) for r in big.selector.requirements)
        if isinstance(small, ir.NsLabels):
            return _pods_superset(big.selector, small.selector)
    return False


def _peer_superset(big: ir.Peer, small: ir.Peer) -> bool:
    if isinstance(big, ir.PodPeer) and isinstance(small, ir.PodPeer):
        return _ns_superset(big.ns, small.ns) and _pods_superset(big.pods, small.pods)
    return big == small


def _ports_superset(big: ir.Ports, small: ir.Ports) -> bool:
    if big is None:
        return True
    if small is None:
        return False
    for p in small:
        if not any(
            q.protocol == p.protocol
            and ((not q.name and q.start == 1 and q.end == 65535) or (p.name and q.name == p.name) or (not p.name and not q.name and q.start <= p.start and p.end <= q.end))
            for q in big
        ):
            return False
    return True


def _merge(items: list[Candidate]) -> list[Candidate]:
    """Allows with the same two ends as one allow with the union of their ports
    (the same meaning: "some allow covers" is a disjunction)."""
    by_ends: dict[tuple, list[Candidate]] = {}
    for c in items:
        by_ends.setdefault((c.allow.src, c.allow.dst), []).append(c)
    out = []
    for (src, dst), group in by_ends.items():
        if any(c.allow.ports is None for c in group):
            ports = None
        else:
            ports = tuple(sorted({p for c in group for p in c.allow.ports}))
        out.append(Candidate(ir.Allow(src, dst, ports), group[0].direction, min(c.origin for c in group)))
    return out


# --------------------------------------------------------------- the import


def import_objects(objects: list[SourceObject], diags: Collector) -> Imported:
    """The .seg program meaning what ``objects`` mean, or refusals in ``diags``."""
    from .k8s_eval import PolicyFileError, _compile_policy, _RuleCounter
    from .parser import namespace_problem

    result = Imported(diagnostics=diags.items)
    good: list[SourceObject] = []
    for obj in objects:
        try:
            obj.policy = _compile_policy(obj.raw, _RuleCounter())
        except PolicyFileError as e:
            diags.error(obj.span, "SEG170", f"not a valid NetworkPolicy: {e}")
            continue
        problem = namespace_problem(obj.policy.namespace)
        if problem:
            diags.error(obj.span, "SEG175", f"{obj.label}: {problem}")
            continue
        good.append(obj)
    if diags.has_errors:
        return result
    if not good:
        diags.error(Span("<input>", 0, 0), "SEG178", "no NetworkPolicy objects found in the input")
        return result

    managed = {o.policy.namespace for o in good}
    deny_in = {o.policy.namespace for o in good if o.policy.ingress is not None and _selector_is_all(o.policy.selector)}
    deny_out = {o.policy.namespace for o in good if o.policy.egress is not None and _selector_is_all(o.policy.selector)}

    inbound: list[Candidate] = []
    outbound: list[Candidate] = []
    targets: dict[int, ir.PodPeer] = {}
    for i, obj in enumerate(good):
        pol = obj.policy
        try:
            own = ir.PodPeer(ir.NsNamed(pol.namespace), _selector(pol.selector, "spec.podSelector"))
            targets[i] = own
            for n, rule in enumerate(pol.ingress or ()):
                what = f"spec.ingress[{n}]"
                ports = _ports(rule, what)
                inbound += [Candidate(ir.Allow(src, own, ports), "ingress", i) for src in _peers(rule, pol.namespace, what)]
            for n, rule in enumerate(pol.egress or ()):
                what = f"spec.egress[{n}]"
                ports = _ports(rule, what)
                outbound += [Candidate(ir.Allow(own, dst, ports), "egress", i) for dst in _peers(rule, pol.namespace, what)]
        except ImportRefused as e:
            diags.error(obj.span, e.code, f"{obj.label}: {e}")
    if diags.has_errors:
        return result

    def refuse(i: int, code: str, message: str, *notes: str) -> None:
        diags.error(good[i].span, code, f"{good[i].label}: {message}", *notes)

    # Open egress with holes: no egress isolation, one deny per hole.
    holes = {ns: h for ns in sorted(deny_out) if (h := _open_egress_holes(ns, outbound)) is not None}
    isolated_out = deny_out - holes.keys()
    outbound = [c for c in outbound if c.allow.src.ns.name not in holes]

    # Isolation .seg can write: egress only namespace-wide; ingress through allows.
    for i, obj in enumerate(good):
        pol, own = obj.policy, targets[i]
        if pol.egress is not None and pol.namespace not in deny_out:
            refuse(
                i,
                "SEG171",
                f"isolates the egress of only some pods of {pol.namespace} ({own.pods.to_seg()}); in .seg egress isolation is namespace-wide (`deny-all egress`)",
                f"add a policy with an empty podSelector and policyTypes [Egress] in {pol.namespace} if the whole namespace should be egress-isolated",
            )
        if pol.ingress is not None and not pol.ingress and pol.namespace not in deny_in:
            if not any(c.allow.dst.ns == own.ns and _pods_superset(c.allow.dst.pods, own.pods) for c in inbound):
                refuse(
                    i,
                    "SEG172",
                    f"isolates the ingress of {own.to_seg()} without admitting anything; .seg isolates part of a namespace only through an allow towards it",
                    "write the rules that should reach these pods in the same policy, or isolate the whole namespace (empty podSelector)",
                )

    # The other end of each allow: it must add nothing Kubernetes does not already allow.
    outbound_from: dict[str, list[Candidate]] = {}
    for o in outbound:
        outbound_from.setdefault(o.allow.src.ns.name, []).append(o)
    inbound_to: dict[str, list[Candidate]] = {}
    for o in inbound:
        inbound_to.setdefault(o.allow.dst.ns.name, []).append(o)
    for c in inbound:
        src = c.allow.src
        if not isinstance(src, ir.PodPeer):
            continue
        for ns in sorted(isolated_out):
            if not _ns_may_choose(src.ns, ns):
                continue
            if not any(
                _pods_superset(o.allow.src.pods, src.pods)
                and _peer_superset(o.allow.dst, c.allow.dst)
                and _ports_superset(o.allow.ports, c.allow.ports)
                for o in outbound_from.get(ns, ())
            ):
                refuse(
                    c.origin,
                    "SEG173",
                    f"an ingress rule admits {src.to_seg()}, which includes egress-isolated pods of {ns}; the .seg allow `{c.allow.to_seg()}` would also open their egress, which no egress rule of {ns} does",
                    f"add the matching egress rule in {ns}, or narrow the peer to exclude {ns}",
                )
    unneeded: set[ir.Allow] = set()
    for c in outbound:
        dst = c.allow.dst
        if not isinstance(dst, ir.PodPeer):
            continue
        uncovered = [
            ns
            for ns in sorted(managed)
            if _ns_may_choose(dst.ns, ns)
            and not any(
                _pods_superset(o.allow.dst.pods, dst.pods)
                and _peer_superset(o.allow.src, c.allow.src)
                and _ports_superset(o.allow.ports, c.allow.ports)
                for o in inbound_to.get(ns, ())
            )
        ]
        if not uncovered:
            continue
        if _rechecked_at_destination(c.allow, managed, deny_in, inbound_to.get(getattr(dst.ns, "name", None), [])):
            unneeded.add(c.allow)
            continue
        ns = uncovered[0]
        reach = "every pod (*/*)" if dst == EVERYTHING[0] else dst.to_seg()
        refuse(
            c.origin,
            "SEG174",
            f"an egress rule reaches {reach}, which includes pods of {ns}, a namespace with policies; the .seg allow `{c.allow.to_seg()}` would also isolate them and admit this source, which no ingress rule of {ns} does",
            f"add the matching ingress rule in {ns}, or use an ipBlock or a namespaceSelector excluding {ns} "
            f"({{{NAME_LABEL} notin ({ns})}})",
        )
    if diags.has_errors:
        return result

    deny_alls = tuple(
        ir.DenyAll(ns, ns in deny_in, ns in isolated_out) for ns in sorted(deny_in | isolated_out)
    )
    allows = _drop_subsumed(_merge(inbound + [c for c in outbound if c.allow not in unneeded]))
    denies = tuple(ir.Deny(ir.PodPeer(ir.NsNamed(ns), ir.Selector()), hole, None) for ns in sorted(holes) for hole in holes[ns])
    program = ir.Program(frozenset(managed), deny_alls, tuple(c.allow for c in allows), denies=denies)
    text = _self_checked(program, [good[c.origin] for c in allows], diags)
    if text is not None:
        result.program, result.text = program, text
    return result


MAX_HOLES = 16


def _open_egress_holes(ns: str, outbound: list[Candidate]) -> list[ir.BlockPeer] | None:
    """The holes of an egress-isolated namespace whose egress is open but for
    some address blocks, or None when its egress is not of that form.

    The form: rules of namespace-wide policies of ``ns``, on every port, reach
    every pod of every namespace (``namespaceSelector: {}``) and the address
    blocks of at least one whole family (``0.0.0.0/0`` or ``::/0``, with
    ``except`` blocks); what the blocks of those rules leave out, in both
    families, are the holes; and no egress rule of any policy of ``ns`` (any
    pods, any ports) reaches an address in a hole. Then every pod of ``ns``
    may send to every pod (by labels), on every port, and to every address
    outside the holes, and to nothing else: exactly what the namespace means
    in .seg without egress isolation and with ``deny ns/* -> HOLE`` per hole
    (a deny to a block withdraws only grants by address; docs/semantics.md,
    "Deny"). Sufficient, not necessary: pods reached through several pod
    rules, or holes some rule covers on a few ports, do not match.
    """
    whole = ir.PodPeer(ir.NsNamed(ns), ir.Selector())
    mine = [c for c in outbound if c.allow.src.ns == whole.ns]
    wide = [c.allow.dst for c in mine if c.allow.src == whole and c.allow.ports is None]
    if EVERYTHING[0] not in wide:
        return None
    blocks = [d for d in wide if isinstance(d, ir.BlockPeer)]
    if not any(b.net.prefixlen == 0 for b in blocks):
        return None
    holes: list[ir.BlockPeer] = []
    for version, bits in ((4, 32), (6, 128)):
        covered = sorted(
            iv for b in blocks if b.net.version == version for iv in _block_intervals(b)
        )
        at = 0
        for first, last in covered + [(1 << bits, 1 << bits)]:
            if first > at:
                address = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
                start, end = address(at), address(first - 1)
                holes += [ir.BlockPeer(n) for n in ipaddress.summarize_address_range(start, end)]
            at = max(at, last + 1)
    if len(holes) > MAX_HOLES:
        return None
    for c in mine:
        d = c.allow.dst
        if isinstance(d, ir.BlockPeer) and any(
            h.net.version == d.net.version and _intervals_meet(_block_intervals(d), _block_intervals(h)) for h in holes
        ):
            return None
    return holes


def _block_intervals(b: ir.BlockPeer) -> list[tuple[int, int]]:
    """The addresses a block covers (its net minus its excepts), as closed integer intervals."""
    out = [(int(b.net.network_address), int(b.net.broadcast_address))]
    for e in b.excepts:
        if e.version != b.net.version:
            continue
        a, z = int(e.network_address), int(e.broadcast_address)
        nxt = []
        for x, y in out:
            if z < x or a > y:
                nxt.append((x, y))
                continue
            if x < a:
                nxt.append((x, a - 1))
            if z < y:
                nxt.append((z + 1, y))
        out = nxt
    return out


def _intervals_meet(xs: list[tuple[int, int]], ys: list[tuple[int, int]]) -> bool:
    return any(a <= z and x <= b for a, b in xs for x, z in ys)


def _rechecked_at_destination(a: ir.Allow, managed, deny_in, inbound: list[Candidate]) -> bool:
    """Whether the egress rule ``a`` can be left out of the .seg program.

    It can when its destination lies in one namespace with policies, whose pods
    there are ingress-isolated anyway, and every ingress rule that may admit
    traffic to them selects its sources by labels: then a connection the egress
    rule lets out gets in only through an ingress rule whose .seg allow also
    opens the source's egress (the SEG061 case, as `segc build` writes it).
    """
    dst = a.dst
    if not isinstance(dst.ns, ir.NsNamed) or dst.ns.name not in managed:
        return False
    own = dst.ns
    isolated = own.name in deny_in or any(o.allow.dst.ns == own and _pods_superset(o.allow.dst.pods, dst.pods) for o in inbound)
    if not isolated:
        return False
    return not any(
        o.allow.dst.ns == own
        and isinstance(o.allow.src, ir.BlockPeer)
        and _selectors_may_overlap(o.allow.dst.pods, dst.pods)
        and _ports_may_overlap(o.allow.ports, a.ports)
        for o in inbound
    )


def _dst_bucket(p: ir.Peer):
    """Where the allows whose destination may cover ``p``'s are filed."""
    if isinstance(p, ir.BlockPeer):
        return p
    return p.ns.name if isinstance(p.ns, ir.NsNamed) else _WIDE


_WIDE = object()


def _drop_subsumed(items: list[Candidate]) -> list[Candidate]:
    """Leave out an allow another one covers at both ends and on every port: it
    isolates nothing and opens nothing the other does not."""
    buckets: dict[object, list[int]] = {}
    for j, o in enumerate(items):
        buckets.setdefault(_dst_bucket(o.allow.dst), []).append(j)
    out = []
    for i, c in enumerate(items):
        a = c.allow
        key = _dst_bucket(a.dst)
        # A destination by name may be covered by one by name or a wide one; a block only by itself.
        near = buckets.get(key, []) + (buckets.get(_WIDE, []) if key is not _WIDE and not isinstance(a.dst, ir.BlockPeer) else [])
        covered = False
        for j in near:
            b = items[j].allow
            if i == j or not (_peer_superset(b.dst, a.dst) and _peer_superset(b.src, a.src) and _ports_superset(b.ports, a.ports)):
                continue
            mutual = _peer_superset(a.src, b.src) and _peer_superset(a.dst, b.dst) and _ports_superset(a.ports, b.ports)
            if not mutual or j < i:
                covered = True
                break
        if not covered:
            out.append(c)
    return out


def _selector_is_all(sel) -> bool:
    return not sel.match_labels and not sel.expressions


# ---------------------------------------------------------------- rendering


def _self_checked(program: ir.Program, origins: list[SourceObject], diags: Collector) -> str | None:
    """Render, then parse and resolve the text again: it must be the same program.
    Groups are a nicety: if the text with groups does not check, try without."""
    from .compile import compile_paths

    why = []
    for use_groups in (True, False):
        text, line_origin = render(program, use_groups)
        result = compile_paths(["imported.seg"], {"imported.seg": text}, optimize=False)  # plan: refusals
        if result.program is None or not _same(result.program, program):
            why += [f"{d.span}: {d.message}" for d in result.diagnostics if d.severity == "error"][:3]
            continue
        errors = [d for d in result.diagnostics if d.severity == "error"]
        if errors:
            lines = text.split("\n")
            for d in errors:
                stmt = lines[d.span.line - 1].strip() if 0 < d.span.line <= len(lines) else ""
                i = line_origin.get(d.span.line)
                origin = origins[i] if i is not None else None
                span = origin.span if origin else Span("<input>", 0, 0)
                label = f"{origin.label}: " if origin else ""
                diags.error(span, "SEG177", f"{label}segc refuses the imported statement `{stmt}`: {d.message} [{d.code}]", *d.notes)
            return None
        return text
    diags.error(Span("<input>", 0, 0), "SEG179", "internal error: the rendered program does not mean what was imported", *why, "please report this with the input")
    return None


def _same(got: ir.Program, want: ir.Program) -> bool:
    def norm(p: ir.Program):
        allows = {(a.src, a.dst, None if a.ports is None else frozenset(a.ports)) for a in p.allows}
        denies = {(d.namespace, d.ingress, d.egress) for d in p.deny_alls}
        ins = {d[0] for d in denies if d[1]}
        outs = {d[0] for d in denies if d[2]}
        withdrawn = {(d.src, d.dst, None if d.ports is None else frozenset(d.ports)) for d in p.denies}
        return p.managed, ins, outs, allows, withdrawn

    return norm(got) == norm(want)


@lru_cache(maxsize=1)
def _stdlib_names() -> dict[tuple, str]:
    """(peer, ports) of each standard library group, for `allow dns` and friends."""
    from .compile import resolve_paths
    from .loader import _stdlib_files

    names = []
    for _, text in _stdlib_files():
        for line in text.splitlines():
            words = line.split()
            if len(words) > 2 and words[0] in ("group", "service") and words[2] == "=":
                names.append(words[1])
    probe = "segc-import-probe"
    text = f"namespace {probe}\n" + "".join(f"allow {n}\n" for n in names)
    result = resolve_paths(["p.seg"], {"p.seg": text})
    out = {}
    for n, a in zip(names, result.program.allows if result.program else ()):
        if probe in a.dst.to_seg():
            continue  # a group taking the namespace of its use: not a fixed endpoint
        out[(a.dst, None if a.ports is None else frozenset(a.ports))] = n
    return out


def _home(a: ir.Allow, managed) -> str:
    for peer in (a.dst, a.src):
        if isinstance(peer, ir.PodPeer) and isinstance(peer.ns, ir.NsNamed) and peer.ns.name in managed:
            return peer.ns.name
    return sorted(managed)[0]


class _Writer:
    def __init__(self, program: ir.Program, use_groups: bool):
        self.program = program
        self.stdlib = _stdlib_names()
        self.stdlib_peers = {peer: name for (peer, _), name in self.stdlib.items()}
        self.groups: dict[ir.Peer, str] = {}
        self.reserved = set(self.stdlib.values())
        bare = {p.pods.requirements[0].values[0] for a in program.allows for p in (a.src, a.dst) if self._app_name(p)}
        if use_groups:
            self._choose_groups(bare)
        self.group_names = set(self.groups.values()) | self.reserved

    @staticmethod
    def _app_name(p: ir.Peer) -> bool:
        from .parser import label_value_problem

        if not isinstance(p, ir.PodPeer):
            return False
        r = p.pods.requirements
        return len(r) == 1 and r[0].key == "app" and r[0].op == ir.IN and len(r[0].values) == 1 and r[0].values[0] != "" and not label_value_problem(r[0].values[0])

    def _choose_groups(self, bare: set[str]) -> None:
        from .backend.render import selector_name

        counts: dict[ir.Peer, int] = {}
        for a in self.program.allows:
            for p in (a.src, a.dst):
                if p in self.stdlib_peers:
                    continue
                long_form = (isinstance(p, ir.PodPeer) and (p.pods.requirements and not self._app_name(p) or isinstance(p.ns, ir.NsLabels))) or (
                    isinstance(p, ir.BlockPeer) and p.excepts
                )
                if long_form and len(p.to_seg()) >= GROUP_MIN_LENGTH:
                    counts[p] = counts.get(p, 0) + 1
        taken = set(self.reserved) | bare
        for p in sorted((p for p, n in counts.items() if n >= 2), key=ir.peer_sort_key):
            if isinstance(p, ir.PodPeer):
                base = selector_name(p.pods)
                if isinstance(p.ns, ir.NsLabels):
                    base = selector_name(p.ns.selector) + ("" if p.pods.is_all else "-" + base)
            else:
                base = "net-" + str(p.net.network_address).replace(".", "-").replace(":", "-").strip("-")
            base = base[:50].strip("-") or "pods"
            name, n = base, 2
            while name in taken or difflib.get_close_matches(name, list(bare), n=1, cutoff=0.8):
                name, n = f"{base}-{n}", n + 1
            taken.add(name)
            self.groups[p] = name

    def endpoint(self, p: ir.Peer, current: str, ports: ir.Ports = None, is_dst: bool = False) -> str:
        if p in self.groups:
            return self.groups[p] + _ports_text(ports)
        if p in self.stdlib_peers:
            name = self.stdlib_peers[p]
            own = next(pp for (peer, pp), n in self.stdlib.items() if n == name)
            if not is_dst:
                return name
            if ports is None and own is None:
                return name
            if ports is not None and own is not None and frozenset(ports) == own:
                return name
            if ports is not None:
                return name + _ports_text(ports)  # an explicit list replaces the group's
            # every port, but the group brings its own: spell the endpoint out
        return self._plain(p, current) + _ports_text(ports)

    def _plain(self, p: ir.Peer, current: str) -> str:
        if isinstance(p, ir.BlockPeer):
            return p.to_seg()
        if isinstance(p.ns, ir.NsNamed) and p.ns.name == current:
            if p.pods.is_all:
                return "*"
            if self._app_name(p):
                name = p.pods.requirements[0].values[0]
                if (
                    name not in self.group_names
                    and not _LOOKS_LIKE_ADDRESS.fullmatch(name)
                    and not difflib.get_close_matches(name, list(self.group_names), n=1, cutoff=0.8)
                ):
                    return name
                return f"{current}/{name}"
            return p.pods.to_seg()
        return p.to_seg()

    def allow(self, a: ir.Allow, current: str) -> str:
        dst = self.endpoint(a.dst, current, a.ports, is_dst=True)
        if a.src == ir.PodPeer(ir.NsNamed(current), ir.Selector()) and dst != "*":
            return f"allow {dst}"
        return f"allow {self.endpoint(a.src, current)} -> {dst}"


def _ports_text(ports: ir.Ports) -> str:
    if ports is None:
        return ""
    order = {"UDP": 0, "SCTP": 1, "TCP": 2}
    items = sorted(ports, key=lambda p: (order[p.protocol], p.name, p.start, p.end))
    only_tcp = all(p.protocol == ir.TCP for p in items)
    out = []
    for p in items:
        text = p.name if p.name else (str(p.start) if p.start == p.end else f"{p.start}-{p.end}")
        out.append(text if only_tcp else f"{text}/{p.protocol.lower()}")
    return ":" + ",".join(out)


def render(program: ir.Program, use_groups: bool = True) -> tuple[str, dict[int, int]]:
    """The program as .seg text (groups, then one block per managed namespace),
    and for each allow line (1-based) the index of its allow in ``program.allows``."""
    w = _Writer(program, use_groups)
    lines = []
    for p, name in sorted(w.groups.items(), key=lambda kv: kv[1]):
        lines.append(f"group {name} = {p.to_seg()}")
    if w.groups:
        lines.append("")
    by_ns: dict[str, list[tuple[str, int]]] = {ns: [] for ns in sorted(program.managed)}
    for i, a in enumerate(program.allows):
        ns = _home(a, program.managed)
        by_ns[ns].append((w.allow(a, ns), i))
    origin: dict[int, int] = {}
    for ns, allows in by_ns.items():
        lines.append(f"namespace {ns}")
        d = next((d for d in program.deny_alls if d.namespace == ns), None)
        if d is not None:
            lines.append("deny-all" if d.ingress and d.egress else f"deny-all {'ingress' if d.ingress else 'egress'}")
        for text, i in sorted(allows, key=lambda ti: _allow_order(ti[0])):
            lines.append(text)
            origin[len(lines)] = i
        for x in sorted((x for x in program.denies if x.src.ns == ir.NsNamed(ns)), key=lambda x: ir.peer_sort_key(x.dst)):
            lines.append(f"deny {w.endpoint(x.src, ns)} -> {x.dst.to_seg()}{_ports_text(x.ports)}")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n", origin


def _allow_order(line: str):
    """One-endpoint allows (`allow dns`) first, then by text."""
    return ("->" in line, line)


def import_paths(paths: list[str], texts: dict[str, str] | None = None) -> Imported:
    """Read FILE... (directories: their YAML files) and import their NetworkPolicy objects."""
    diags = Collector()
    objects: list[SourceObject] = []
    read: dict[str, str] = {}
    for path in expand_paths(paths):
        if texts is not None and path in texts:
            text = texts[path]
        else:
            try:
                with open(path, encoding="utf-8") as fh:
                    text = fh.read()
            except OSError as e:
                diags.error(Span(path, 0, 0), "SEG170", f"cannot read {path}: {e.strerror}")
                continue
            except UnicodeDecodeError as e:
                diags.error(Span(path, 0, 0), "SEG170", f"{path} is not UTF-8 text: {e.reason}")
                continue
        read[path] = text
        objects += read_objects(path, text, diags)
    if diags.has_errors:
        return Imported(diagnostics=diags.items, texts=read)
    result = import_objects(objects, diags)
    result.texts = read
    return result
