"""Drop rules that repeat another rule of the same policy exactly.

Duplicates come from the same path written twice, in two files, or reached
through a group or a stdlib name. The survivor keeps every source pointer.
"""

from __future__ import annotations

from ..backend.policy import PolicySet, Rule
from .each import each_rule_list


def dedupe(rules: tuple[Rule, ...]) -> tuple[tuple[Rule, ...], int]:
    if len(rules) < 2:
        return rules, 0
    seen: dict[Rule, Rule] = {}
    for r in rules:
        old = seen.setdefault(r, r)
        if old is not r:
            seen[r] = old.with_sources(r.sources)
    if len(seen) == len(rules):
        return rules, 0  # no duplicates: the list as it was
    return tuple(seen.values()), len(rules) - len(seen)


def run(policies: PolicySet) -> tuple[PolicySet, int]:
    return each_rule_list(policies, dedupe)
