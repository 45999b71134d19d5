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
from .plan import EGRESS, INGRESS, Plan, PolicyPlan

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


def _policy_name(pol: PolicyPlan) -> str:
    suffix = "-ingress" if pol.direction == INGRESS else "-egress"
    return selector_name(pol.pods) + suffix


def _deny_name(directions: set[str]) -> str:
    if directions == {INGRESS, EGRESS}:
        return "default-deny"
    return "default-deny-ingress" if INGRESS in directions else "default-deny-egress"


# ------------------------------------------------------------------- objects


def _metadata(name: str, ns: str, sources: list[str]) -> dict:
    return {
        "name": name,
        "namespace": ns,
        "labels": dict(MANAGED_BY),
        "annotations": {SOURCE_ANNOTATION: "\n".join(sources) + "\n"},
    }


def _deny_policy(ns: str, directions: set[str], sources: set[str]) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _metadata(_deny_name(directions), ns, sorted(sources)),
        "spec": {"podSelector": {}, "policyTypes": [d for d in (INGRESS, EGRESS) if d in directions]},
    }


def _rule_policy(pol: PolicyPlan, name: str) -> dict:
    section, peers_key = ("ingress", "from") if pol.direction == INGRESS else ("egress", "to")
    rules = []
    for (p, ps), srcs in pol.rules.items():
        rule: dict = {peers_key: [peer(p, pol.namespace)]}
        rendered_ports = ports(ps)
        if rendered_ports is not None:
            rule["ports"] = rendered_ports
        rules.append((_canonical(rule), rule, sorted(srcs)))
    rules.sort(key=lambda r: r[0])
    pointers = []
    for i, (_, _, srcs) in enumerate(rules):
        for s in srcs:
            pointers.append(f"{section}[{i}] <- {s}")
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _metadata(name, pol.namespace, pointers),
        "spec": {
            "podSelector": label_selector(pol.pods),
            "policyTypes": [pol.direction],
            section: [r[1] for r in rules],
        },
    }


def render(plan: Plan) -> list[dict]:
    """Every policy of the plan, sorted by (namespace, name)."""
    out: list[dict] = []
    by_ns: dict[str, list[tuple[str, str, PolicyPlan]]] = {}
    for pol in plan.policies.values():
        identity = _canonical([pol.direction, label_selector(pol.pods)])
        by_ns.setdefault(pol.namespace, []).append((_fit(_policy_name(pol), identity), identity, pol))
    for ns, directions in plan.deny.items():
        out.append(_deny_policy(ns, directions, plan.deny_sources[ns]))
    for ns, entries in by_ns.items():
        taken = {o["metadata"]["name"] for o in out if o["metadata"]["namespace"] == ns}
        counts: dict[str, int] = {}
        for name, _, _ in entries:
            counts[name] = counts.get(name, 0) + 1
        for name, identity, pol in entries:
            if counts[name] > 1 or name in taken:
                # Two selectors that slug to one name (app=Web, app=web): both get a
                # hash of their own selector, so neither depends on the other's presence.
                tail = "-" + _digest(identity)
                name = name[: MAX_NAME - len(tail)].rstrip("-") + tail
            out.append(_rule_policy(pol, name))
    out.sort(key=lambda o: (o["metadata"]["namespace"], o["metadata"]["name"]))
    return out
