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


def namespaces_text(sel: Selector | None, policy_ns: str) -> str:
    """``in data``, ``in namespaces labelled team=orders``, ``in every namespace``."""
    if sel is None:
        return f"in {policy_ns}"
    if not (sel.match_labels or sel.expressions):
        return "in every namespace"
    name = ns_name(sel)
    if name is not None:
        return f"in {name}"
    return f"in namespaces labelled {selector_text(sel)}"


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
# Rendering
# --------------------------------------------------------------------------


def render_text(explanations: list[WorkloadExplanation]) -> str:
    if not explanations:
        return "No NetworkPolicy: every pod accepts and opens every connection.\n"
    out = []
    for w in explanations:
        out.append(w.title + ":")
        for s in w.sentences():
            out.append("  " + s)
        for note in w.notes:
            out.append("  " + note)
        out.append("")
    return "\n".join(out)


def _md_escape(text: str) -> str:
    for ch in "\\`*_[]<>|":
        text = text.replace(ch, "\\" + ch)
    return text


def render_md(explanations: list[WorkloadExplanation]) -> str:
    if not explanations:
        return "No NetworkPolicy: every pod accepts and opens every connection.\n"
    out = ["## What these policies allow", ""]
    for w in explanations:
        out.append(f"### {_md_escape(w.title)}")
        out.append("")
        for s in w.sentences():
            out.append(f"- {_md_escape(s)}")
        for note in w.notes:
            out.append(f"- {_md_escape(note)}")
        out.append("")
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
