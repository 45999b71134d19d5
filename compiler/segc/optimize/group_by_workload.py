"""One NetworkPolicy per (namespace, pod selector), holding both directions.

Exact: pods selected by several policies get the union of their rules and of
their isolation, which is what one policy with the concatenated rules and the
union of policyTypes gives. ``deny-all`` policies and namespace-wide rules
share the empty selector, so they merge into one namespace-wide policy.
"""

from __future__ import annotations

from ..backend.policy import Policy, PolicySet


def run(policies: PolicySet) -> tuple[PolicySet, int]:
    merged: dict[tuple, Policy] = {}
    fired = 0
    for p in policies:
        key = (p.namespace, p.pods)
        old = merged.get(key)
        if old is None:
            merged[key] = p
            continue
        fired += 1
        merged[key] = Policy(
            p.namespace,
            p.pods,
            old.isolates | p.isolates,
            old.ingress + p.ingress,
            old.egress + p.egress,
            old.sources | p.sources,
            old.from_deny or p.from_deny,
        )
    return tuple(merged.values()), fired
