"""One NetworkPolicy per (namespace, pod selector), holding both directions.

Exact: pods selected by several policies get the union of their rules and of
their isolation, which is what one policy with the concatenated rules and the
union of policyTypes gives. ``deny-all`` policies and namespace-wide rules
share the empty selector, so they merge into one namespace-wide policy.
"""

from __future__ import annotations

from ..backend.policy import Policy, PolicySet


def run(policies: PolicySet) -> tuple[PolicySet, int]:
    groups: dict[tuple, list[Policy]] = {}
    for p in policies:
        key = (p.namespace, p.pods)
        group = groups.get(key)
        if group is None:
            groups[key] = [p]
        else:
            group.append(p)
    out = []
    for group in groups.values():
        if len(group) == 1:
            out.append(group[0])
            continue
        first = group[0]
        out.append(
            Policy(
                first.namespace,
                first.pods,
                frozenset().union(*[p.isolates for p in group]),
                tuple([r for p in group for r in p.ingress]),
                tuple([r for p in group for r in p.egress]),
                frozenset().union(*[p.sources for p in group]),
                any(p.from_deny for p in group),
            )
        )
    return tuple(out), len(policies) - len(groups)
