"""Plain-English explanations of NetworkPolicy objects, one per protected workload.

The explainer reads NetworkPolicy dicts (``segc build`` output or hand-written
YAML), through evaluator 2's policy model (:mod:`segc.k8s_eval`), so a .seg
program and a directory of manifests are explained by the same code.

A *workload* is a (namespace, podSelector) pair some policy uses. Its
explanation merges every policy that certainly selects all of its pods: the
policies of the same namespace whose podSelector is implied by the workload's
(the same selector, ``{}``, or one with fewer requirements). Policies whose
selector only overlaps (``tier=backend`` next to ``app=api``) are named as
"may also apply", never merged silently.

For each direction the explanation says either that the direction is not
restricted, or which peers on which ports are admitted and that everything
else is denied. The structured form (:class:`WorkloadExplanation`) is what
the text is rendered from; tests check that every peer and port of every
rule appears in it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from .cluster import NAME_LABEL, Cluster
from .k8s_eval import IPBlock, K8sEvaluator, Peer, Policy, PortSpec, Rule, Selector

DIRECTIONS = ("ingress", "egress")


# --------------------------------------------------------------------------
# Phrases
# --------------------------------------------------------------------------


def _requirements(sel: Selector) -> list[str]:
    out = [f"{k}={v}" for k, v in sel.match_labels]
    for key, op, values in sel.expressions:
        vs = ", ".join(sorted(values))
        if op == "In":
            out.append(f"{key}={vs}" if len(values) == 1 else f"{key} in ({vs})")
        elif op == "NotIn":
            out.append(f"{key}!={vs}" if len(values) == 1 else f"{key} not in ({vs})")
        elif op == "Exists":
            out.append(f"{key} (any value)")
        else:
            out.append(f"no {key} label")
    return sorted(out)


def selector_text(sel: Selector) -> str:
    """``app=api, tier=backend``; ``""`` for the empty selector."""
    return ", ".join(_requirements(sel))


def app_name(sel: Selector) -> str | None:
    """``X`` when the selector is exactly ``app=X``."""
    if not sel.expressions and len(sel.match_labels) == 1 and sel.match_labels[0][0] == "app":
        return sel.match_labels[0][1]
    return None


def ns_name(sel: Selector) -> str | None:
    """The namespace name when the selector is exactly ``kubernetes.io/metadata.name=X``."""
    if not sel.expressions and len(sel.match_labels) == 1 and sel.match_labels[0][0] == NAME_LABEL:
        return sel.match_labels[0][1]
    return None


def pods_text(sel: Selector | None) -> str:
    """``orders-api pods``, ``pods labelled tier=web``, ``all pods``."""
    if sel is None or not (sel.match_labels or sel.expressions):
        return "all pods"
    name = app_name(sel)
    if name is not None:
        return f"{name} pods"
    return f"pods labelled {selector_text(sel)}"


def namespace_scope(sel: Selector | None, policy_ns: str) -> tuple[str, str]:
    """What a peer's namespaceSelector chooses: ``("named", NAME)`` (absent:
    the policy's own namespace), ``("every", "")`` or ``("labelled", LABELS)``."""
    if sel is None:
        return "named", policy_ns
    if not (sel.match_labels or sel.expressions):
        return "every", ""
    name = ns_name(sel)
    if name is not None:
        return "named", name
    return "labelled", selector_text(sel)


def namespaces_text(sel: Selector | None, policy_ns: str) -> str:
    """``in data``, ``in namespaces labelled team=orders``, ``in every namespace``."""
    kind, text = namespace_scope(sel, policy_ns)
    return {"named": f"in {text}", "every": "in every namespace", "labelled": f"in namespaces labelled {text}"}[kind]


def _net_text(version: int, first: int, last: int) -> str:
    size = last - first + 1
    bits = (32 if version == 4 else 128) - (size.bit_length() - 1)
    addr = ipaddress.ip_address(first) if version == 4 else ipaddress.IPv6Address(first)
    return f"{addr}/{bits}"


def block_text(block: IPBlock) -> str:
    """``addresses 198.51.100.20/32``, ``any IPv4 address except 10.0.0.0/8``."""
    net = _net_text(block.version, block.first, block.last)
    if net in ("0.0.0.0/0", "::/0"):
        head = f"any IPv{block.version} address"
    else:
        head = f"addresses in {net}"
    if block.excepts:
        head += " except " + ", ".join(_net_text(v, a, b) for v, a, b in block.excepts)
    return head


def peer_text(peer: Peer, policy_ns: str) -> str:
    if peer.ip_block is not None:
        return block_text(peer.ip_block)
    return f"{pods_text(peer.pod_selector)} {namespaces_text(peer.namespace_selector, policy_ns)}"


def port_text(spec: PortSpec) -> str:
    """``TCP 5432``, ``TCP 8000-8100``, ``TCP port named http``, ``every TCP port``."""
    if spec.port is None:
        return f"every {spec.protocol} port"
    if isinstance(spec.port, str):
        return f"{spec.protocol} port named {spec.port}"
    if spec.end_port and spec.end_port != spec.port:
        return f"{spec.protocol} {spec.port}-{spec.end_port}"
    return f"{spec.protocol} {spec.port}"


def port_sort_key(spec: PortSpec):
    return (spec.protocol, spec.port is not None, isinstance(spec.port, str), str(spec.port).zfill(5), spec.end_port or 0)


def ports_text(ports: tuple[PortSpec, ...] | None) -> str:
    if ports is None:
        return "any port"
    return _join(list(dict.fromkeys(port_text(p) for p in sorted(ports, key=port_sort_key))))


def _join(items: list[str], word: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {word} " + items[-1]


# --------------------------------------------------------------------------
# Structure
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Admission:
    """One rule: these peers on these ports (phrases, for rendering and tests)."""

    policy: str  # NAMESPACE/NAME
    rule: int  # 1-based, in its direction
    peers: tuple[str, ...]  # () means every peer
    ports: tuple[str, ...]  # () means every port

    def sentence(self, direction: str) -> str:
        ports = _join(list(self.ports)) if self.ports else "any port"
        if direction == "ingress":
            verb, prep, anyone = "Accepts", "from", "from anywhere"
        else:
            verb, prep, anyone = "May connect to", "", "anywhere"
        if not self.peers:
            who = anyone
        else:
            who = (prep + " " if prep else "") + _join(list(self.peers), "or")
        if direction == "ingress":
            return f"{verb} {ports} {who}"
        return f"{verb} {who} on {ports}"


@dataclass
class DirectionExplanation:
    isolated: bool
    isolated_by: list[str] = field(default_factory=list)  # policy keys
    admissions: list[Admission] = field(default_factory=list)


@dataclass
class WorkloadExplanation:
    namespace: str
    selector: Selector
    policies: list[str]  # every policy merged in, NAMESPACE/NAME
    directions: dict[str, DirectionExplanation]
    also: list[str] = field(default_factory=list)  # policies whose selectors may overlap (keys)
    notes: list[str] = field(default_factory=list)  # one sentence per policy in ``also``
    denies: list[str] = field(default_factory=list)  # one sentence per deny of a .seg program protecting these pods

    @property
    def title(self) -> str:
        name = app_name(self.selector)
        sel = selector_text(self.selector)
        if name is not None:
            return f"{name} ({sel} in {self.namespace})"
        if not sel:
            return f"all pods in {self.namespace}"
        return f"pods labelled {sel} in {self.namespace}"

    @property
    def key(self) -> str:
        sel = selector_text(self.selector)
        return f"{self.namespace}/{{{sel}}}"

    def sentences(self) -> list[str]:
        out = []
        for direction in DIRECTIONS:
            d = self.directions[direction]
            word = "Ingress" if direction == "ingress" else "Egress"
            if not d.isolated:
                out.append(f"{word} is not restricted.")
                continue
            if not d.admissions:
                out.append(f"All {direction} is denied (isolated by {_join(d.isolated_by)}).")
                continue
            for a in d.admissions:
                out.append(f"{a.sentence(direction)} ({a.policy} {direction} rule {a.rule}).")
            by = _join(d.isolated_by)
            if any(not a.peers and not a.ports for a in d.admissions):
                out.append(f"So all {direction} is allowed (isolated by {by}, but a rule admits everything).")
            else:
                out.append(f"All other {direction} is denied (isolated by {by}).")
        return out


# --------------------------------------------------------------------------
# Selector relations (syntactic, and therefore safe)
# --------------------------------------------------------------------------


def _as_requirements(sel: Selector) -> set[tuple[str, str, frozenset[str]]]:
    reqs = {(k, "In", frozenset([v])) for k, v in sel.match_labels}
    reqs |= set(sel.expressions)
    return reqs


def implies(a: Selector, b: Selector) -> bool:
    """Every label set matching ``a`` matches ``b`` (checked requirement by
    requirement: sound, not complete)."""
    ra = _as_requirements(a)
    for key, op, values in _as_requirements(b):
        if (key, op, values) in ra:
            continue
        if op == "In" and any(k == key and o == "In" and v <= values for k, o, v in ra):
            continue
        if op == "Exists" and any(k == key and o == "In" for k, o, v in ra):
            continue
        if op == "NotIn" and any(k == key and (o == "DoesNotExist" or (o == "In" and not (v & values))) for k, o, v in ra):
            continue
        if op == "DoesNotExist" and any(k == key and o == "DoesNotExist" for k, o, v in ra):
            continue
        return False
    return True


def disjoint(a: Selector, b: Selector) -> bool:
    """No label set matches both (again requirement by requirement)."""
    ra, rb = _as_requirements(a), _as_requirements(b)
    for key, op, values in ra:
        for k2, op2, v2 in rb:
            if k2 != key:
                continue
            if op == "In" and op2 == "In" and not (values & v2):
                return True
            if {op, op2} == {"In", "DoesNotExist"} or {op, op2} == {"Exists", "DoesNotExist"}:
                return True
            if op == "In" and op2 == "NotIn" and values <= v2 or op2 == "In" and op == "NotIn" and v2 <= values:
                return True
    return False


# --------------------------------------------------------------------------
# The explainer
# --------------------------------------------------------------------------


def compile_policies(policies: list[dict]) -> list[Policy]:
    """Evaluator 2's model of the policies (raises k8s_eval.PolicyFileError)."""
    return K8sEvaluator(policies, Cluster()).policies


def _admission(policy: Policy, rule: Rule) -> Admission:
    peers = () if rule.peers is None else tuple(sorted(dict.fromkeys(peer_text(p, policy.namespace) for p in rule.peers)))
    ports = () if rule.ports is None else tuple(dict.fromkeys(port_text(p) for p in sorted(rule.ports, key=port_sort_key)))
    return Admission(policy.key, rule.number, peers, ports)


def workloads(policies: list[Policy]) -> list[tuple[str, Selector]]:
    """Distinct (namespace, podSelector) pairs, in a stable order."""
    seen = {(p.namespace, p.selector) for p in policies}
    return sorted(seen, key=lambda w: (w[0], bool(w[1].match_labels or w[1].expressions), selector_text(w[1])))


def explain_workload(policies: list[Policy], namespace: str, selector: Selector) -> WorkloadExplanation:
    applying = [p for p in policies if p.namespace == namespace and implies(selector, p.selector)]
    also = sorted(
        p.key
        for p in policies
        if p.namespace == namespace and p not in applying and not disjoint(selector, p.selector)
    )
    also_selectors = {p.key: selector_text(p.selector) for p in policies}
    directions = {}
    for direction in DIRECTIONS:
        isolating = [p for p in applying if p.rules(direction) is not None]
        d = DirectionExplanation(bool(isolating), sorted(p.key for p in isolating))
        admissions = [_admission(p, r) for p in isolating for r in p.rules(direction) or ()]
        d.admissions = sorted(set(admissions), key=lambda a: (a.policy, a.rule))
        directions[direction] = d
    notes = [f"Pods that also match {also_selectors[k]} are selected by {k} too (see its entry)." for k in also]
    return WorkloadExplanation(namespace, selector, sorted(p.key for p in applying), directions, also, notes)


def explain_policies(policy_dicts: list[dict]) -> list[WorkloadExplanation]:
    """One explanation per workload, namespaces and selectors sorted."""
    policies = compile_policies(policy_dicts)
    return [explain_workload(policies, ns, sel) for ns, sel in workloads(policies)]


# --------------------------------------------------------------------------
# Denies of a .seg program, in words
# --------------------------------------------------------------------------

DENIES_TITLE = "Denied whatever else is allowed"


def _k8s_selector(sel) -> Selector:
    """An ir.Selector as evaluator 2's Selector (every requirement an expression
    but single-value In, which reads as ``key=value`` either way)."""
    labels, exprs = [], []
    for r in sel.requirements:
        if r.op == "In" and len(r.values) == 1:
            labels.append((r.key, r.values[0]))
        else:
            exprs.append((r.key, r.op, frozenset(r.values)))
    return Selector(tuple(sorted(labels)), tuple(sorted(exprs, key=lambda e: (e[0], e[1], sorted(e[2])))))


def _ns_selector(ns) -> Selector:
    from . import ir

    if isinstance(ns, ir.NsNamed):
        return Selector(((NAME_LABEL, ns.name),))
    if isinstance(ns, ir.NsAll):
        return Selector()
    return _k8s_selector(ns.selector)


def _ir_peer_text(peer) -> str:
    from . import ir

    if isinstance(peer, ir.BlockPeer):
        net = peer.net
        if net.prefixlen == 0:
            head = f"any IPv{net.version} address"
        elif net.num_addresses == 1:
            head = str(net.network_address)
        else:
            head = f"addresses in {net}"
        if peer.excepts:
            head += " except " + ", ".join(map(str, peer.excepts))
        return head
    return f"{pods_text(_k8s_selector(peer.pods))} {namespaces_text(_ns_selector(peer.ns), '')}"


def _ir_ports_text(ports) -> str:
    if ports is None:
        return "any port"
    out = []
    for p in sorted(ports, key=lambda p: (p.protocol, bool(p.name), p.start, p.end, p.name)):
        if p.name:
            out.append(f"{p.protocol} port named {p.name}")
        elif p.start == p.end:
            out.append(f"{p.protocol} {p.start}")
        elif (p.start, p.end) == (1, 65535):
            out.append(f"every {p.protocol} port")
        else:
            out.append(f"{p.protocol} {p.start}-{p.end}")
    return _join(list(dict.fromkeys(out)))


def _deny_sentence(deny, direction: str) -> str:
    """``Never accepts TCP 5432 from ...``: the deny as the pods at ``direction``'s end see it."""
    from . import ir

    far = deny.src if direction == "ingress" else deny.dst
    ports = _ir_ports_text(deny.ports)
    if direction == "ingress":
        head = f"never accepts {ports} from {_ir_peer_text(far)}"
    else:
        head = f"never connects to {_ir_peer_text(far)} on {ports}"
    if isinstance(far, ir.BlockPeer):
        # docs/semantics.md, Deny: a block withdraws only what is granted by address.
        return f"{head}, whatever an address block allows (pods allowed by their labels are not affected; deny at {deny.span})."
    return f"{head}, whatever else is allowed (deny at {deny.span})."


def _ns_condition(ns, namespace: str) -> str | None:
    """"" when the deny's namespace part surely chooses ``namespace``, a
    condition on its labels when that depends on them, None when it never does."""
    from . import ir

    if isinstance(ns, ir.NsNamed):
        return "" if ns.name == namespace else None
    if isinstance(ns, ir.NsAll):
        return ""
    sel = _k8s_selector(ns.selector)
    if all(k == NAME_LABEL for k, _ in sel.match_labels) and all(e[0] == NAME_LABEL for e in sel.expressions):
        return "" if sel.matches({NAME_LABEL: namespace}) else None
    return f"its namespace is labelled {selector_text(sel)}"


def add_denies(explanations: list[WorkloadExplanation], program) -> list[str]:
    """Add a sentence per deny of ``program`` to each workload whose pods it
    may choose at its source (egress) or destination (ingress), qualified when
    it chooses only some of them. Returns the sentences of denies that choose
    no workload's pods (shown under :data:`DENIES_TITLE`).

    Only for programs explained alone: a deny wins over the program's allows,
    not over NetworkPolicy YAML explained beside it.
    """
    from . import ir

    leftover = []
    for deny in sorted(program.denies, key=lambda d: (d.span, d.to_seg())):
        placed = False
        for direction, near in (("ingress", deny.dst), ("egress", deny.src)):
            if not isinstance(near, ir.PodPeer):
                continue
            near_sel = _k8s_selector(near.pods)
            for w in explanations:
                ns_cond = _ns_condition(near.ns, w.namespace)
                if ns_cond is None or disjoint(w.selector, near_sel):
                    continue
                conditions = [] if implies(w.selector, near_sel) else [f"labelled {selector_text(near_sel)}"]
                conditions += [ns_cond] if ns_cond else []
                sentence = _deny_sentence(deny, direction)
                if conditions:
                    sentence = f"If {' and '.join(conditions)}: {sentence}"
                else:
                    sentence = sentence[0].upper() + sentence[1:]
                if sentence not in w.denies:
                    w.denies.append(sentence)
                placed = True
        if not placed:
            leftover.append(
                f"From {_ir_peer_text(deny.src)} to {_ir_peer_text(deny.dst)} on {_ir_ports_text(deny.ports)} (deny at {deny.span})."
            )
    return leftover


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------


def render_text(explanations: list[WorkloadExplanation], denied: list[str] = ()) -> str:
    if not explanations and not denied:
        return "No NetworkPolicy: every pod accepts and opens every connection.\n"
    out = []
    for w in explanations:
        out.append(w.title + ":")
        for s in [*w.sentences(), *w.denies]:
            out.append("  " + s)
        for note in w.notes:
            out.append("  " + note)
        out.append("")
    if denied:
        out.append(DENIES_TITLE + ":")
        out += ["  " + s for s in denied]
        out.append("")
    return "\n".join(out)


def _md_escape(text: str) -> str:
    for ch in "\\`*_[]<>|":
        text = text.replace(ch, "\\" + ch)
    return text


def render_md(explanations: list[WorkloadExplanation], denied: list[str] = ()) -> str:
    if not explanations and not denied:
        return "No NetworkPolicy: every pod accepts and opens every connection.\n"
    out = ["## What these policies allow", ""]
    for w in explanations:
        out.append(f"### {_md_escape(w.title)}")
        out.append("")
        for s in [*w.sentences(), *w.denies]:
            out.append(f"- {_md_escape(s)}")
        for note in w.notes:
            out.append(f"- {_md_escape(note)}")
        out.append("")
    if denied:
        out += [f"### {DENIES_TITLE}", ""] + [f"- {_md_escape(s)}" for s in denied] + [""]
    return "\n".join(out)


# --------------------------------------------------------------------------
# Inputs: .seg programs, NetworkPolicy YAML files and directories
# --------------------------------------------------------------------------


class InputError(Exception):
    """An input that is neither a .seg file nor NetworkPolicy YAML; the message says why."""


def load_inputs(paths: list[str], texts: dict | None = None):
    """(policy dicts, compile Result or None) for FILE... arguments.

    .seg files are compiled as one program (``Result.ok`` False: the caller
    reports its diagnostics); YAML files and directories of them are read
    with evaluator 2's loader. Both kinds may be mixed.
    """
    from .compile import compile_paths
    from .k8s_eval import PolicyFileError, load_policies
    from .reach_inputs import PolicyInputError, _expand

    texts = texts or {}
    stdin = [p for p in paths if p in texts]
    try:
        seg, yml = _expand([p for p in paths if p not in texts])
    except PolicyInputError as e:
        raise InputError(str(e)) from None
    seg = stdin + seg
    policies: list[dict] = []
    for path in yml:
        try:
            policies += load_policies(path)
        except PolicyFileError as e:
            raise InputError(str(e)) from None
    result = None
    if seg:
        result = compile_paths(seg, texts)
        if not result.ok:
            return None, result
        policies = list(result.policies) + policies
    return policies, result
