"""Policy plan to ``networking.k8s.io/v1`` NetworkPolicy objects (plain dicts).

Naming: a policy is named after the pods it selects and its direction
(``backend-ingress``, ``all-pods-egress``, ``default-deny``); names are DNS-1123,
at most 63 characters (a hash keeps long ones unique) and unique per namespace.
Every rule is sorted, so the order of statements never shows in the output.
"""

from __future__ import annotations

import hashlib
import json
import re

from .. import ir
from ..cluster import NAME_LABEL
from .policy import EGRESS, INGRESS, Policy, PolicySet

MANAGED_BY = {"app.kubernetes.io/managed-by": "segc"}
SOURCE_ANNOTATION = "segc.io/source"
MAX_NAME = 63


# ----------------------------------------------------------------- selectors


def label_selector(sel: ir.Selector) -> dict:
    """A Kubernetes LabelSelector; ``{}`` selects everything."""
    match_labels: dict[str, str] = {}
    expressions = []
    for r in sel.requirements:
        if r.op == ir.IN and len(r.values) == 1 and r.key not in match_labels:
            match_labels[r.key] = r.values[0]
            continue
        e = {"key": r.key, "operator": r.op}
        if r.op in (ir.IN, ir.NOT_IN):
            e["values"] = list(r.values)
        expressions.append(e)
    out: dict = {}
    if match_labels:
        out["matchLabels"] = dict(sorted(match_labels.items()))
    if expressions:
        out["matchExpressions"] = expressions
    return out


def peer(p: ir.Peer, policy_ns: str) -> dict:
    if isinstance(p, ir.BlockPeer):
        block: dict = {"cidr": str(p.net)}
        if p.excepts:
            block["except"] = [str(e) for e in p.excepts]
        return {"ipBlock": block}
    out: dict = {}
    if isinstance(p.ns, ir.NsNamed):
        if p.ns.name != policy_ns:
            out["namespaceSelector"] = {"matchLabels": {NAME_LABEL: p.ns.name}}
    elif isinstance(p.ns, ir.NsAll):
        out["namespaceSelector"] = {}
    else:
        out["namespaceSelector"] = label_selector(p.ns.selector)
    out["podSelector"] = label_selector(p.pods)
    return out


def ports(ps: ir.Ports) -> list[dict] | None:
    if ps is None:
        return None
    out = []
    for p in ps:
        if p.name:
            out.append({"protocol": p.protocol, "port": p.name})
        elif p.start == p.end:
            out.append({"protocol": p.protocol, "port": p.start})
        else:
            out.append({"protocol": p.protocol, "port": p.start, "endPort": p.end})
    return out


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


# --------------------------------------------------------------------- names

_INVALID = re.compile(r"[^a-z0-9]+")


def _slug(text: str) -> str:
    return _INVALID.sub("-", text.lower()).strip("-")


def selector_name(sel: ir.Selector) -> str:
    if sel.is_all:
        return "all-pods"
    parts = []
    for r in sel.requirements:
        key = r.key.rpartition("/")[2]
        if r.key == "app.kubernetes.io/name":
            key = "app"
        if r.op == ir.IN:
            vals = "-".join(r.values)
            parts.append(vals if key == "app" and len(r.values) == 1 else f"{key}-{vals}")
        elif r.op == ir.NOT_IN:
            parts.append(f"{key}-not-" + "-".join(r.values))
        elif r.op == ir.EXISTS:
            parts.append(f"with-{key}")
        else:
            parts.append(f"no-{key}")
    return _slug("-".join(parts)) or "pods"


def _digest(text: str, n: int = 8) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def _fit(name: str, identity: str) -> str:
    if len(name) <= MAX_NAME:
        return name
    tail = "-" + _digest(identity)
    return name[: MAX_NAME - len(tail)].rstrip("-") + tail


def _direction_suffix(directions) -> str:
    if set(directions) == {INGRESS, EGRESS}:
        return ""
    return "-ingress" if INGRESS in directions else "-egress"


def policy_name(p: Policy) -> str:
    """``backend-ingress``, ``backend-egress``, ``backend`` (both), ``default-deny``..."""
    # "default-deny" only while it denies and nothing else; once it carries rules
    # it is the namespace-wide policy, and its name should not promise a deny.
    base = "default-deny" if p.from_deny and p.pods.is_all and p.deny_only else selector_name(p.pods)
    return base + _direction_suffix(p.isolates)


# ------------------------------------------------------------------- objects


def _pointers(p: Policy) -> list[str]:
    out = sorted(p.sources)
    for section, rules in (("ingress", p.ingress), ("egress", p.egress)):
        for i, r in enumerate(rules):
            out += [f"{section}[{i}] <- {s}" for s in sorted(r.sources)]
    return out


def _rules(p: Policy, direction: str) -> list[dict]:
    key = "from" if direction == INGRESS else "to"
    out = []
    for r in p.rules(direction):
        rule: dict = {key: [peer(x, p.namespace) for x in r.peers]}
        rendered = ports(r.ports)
        if rendered is not None:
            rule["ports"] = rendered
        out.append(rule)
    return out


def to_object(p: Policy, name: str) -> dict:
    spec: dict = {"podSelector": label_selector(p.pods), "policyTypes": [d for d in (INGRESS, EGRESS) if d in p.isolates]}
    if p.ingress:
        spec["ingress"] = _rules(p, INGRESS)
    if p.egress:
        spec["egress"] = _rules(p, EGRESS)
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": name,
            "namespace": p.namespace,
            "labels": dict(MANAGED_BY),
            "annotations": {SOURCE_ANNOTATION: "\n".join(_pointers(p)) + "\n"},
        },
        "spec": spec,
    }


def render(policies: PolicySet) -> list[dict]:
    """Every policy as an object, with names unique per namespace, sorted by (namespace, name).

    A name two policies would share gets a hash of the policy's selector and
    directions (and, when even those are equal, as in unoptimized output, of its
    sources), so it does not depend on which other policies exist.
    """
    wanted: dict[tuple[str, str], list[Policy]] = {}
    for p in policies:
        identity = _canonical([sorted(p.isolates), label_selector(p.pods)])
        wanted.setdefault((p.namespace, _fit(policy_name(p), identity)), []).append(p)
    out = []
    for (ns, name), group in wanted.items():
        if len(group) == 1:
            out.append(to_object(group[0], name))
            continue
        seen: dict[str, int] = {}
        for p in group:
            identity = _canonical([sorted(p.isolates), label_selector(p.pods)])
            if sum(1 for q in group if q.pods == p.pods and q.isolates == p.isolates) > 1:
                identity += _canonical(sorted(p.sources) + _pointers(p))
            tail = "-" + _digest(identity)
            unique = name[: MAX_NAME - len(tail)].rstrip("-") + tail
            seen[unique] = seen.get(unique, 0) + 1
            if seen[unique] > 1:
                unique = f"{unique[: MAX_NAME - 3]}-{seen[unique]}"
            out.append(to_object(p, unique))
    out.sort(key=lambda o: (o["metadata"]["namespace"], o["metadata"]["name"]))
    return out
