"""Apply a rewrite to every rule list (or every rule) of every policy."""

from __future__ import annotations

from ..backend.policy import EGRESS, INGRESS, PolicySet


def each_rule_list(policies: PolicySet, rewrite) -> tuple[PolicySet, int]:
    """``rewrite(rules) -> (rules, times_fired)`` on each direction of each policy."""
    out, fired = [], 0
    for p in policies:
        for d in (INGRESS, EGRESS):
            rules, n = rewrite(p.rules(d))
            fired += n
            p = p.replace_rules(d, rules)
        out.append(p)
    return tuple(out), fired


def each_rule(policies: PolicySet, rewrite) -> tuple[PolicySet, int]:
    """``rewrite(rule) -> rule`` on every rule; fired counts the rules it changed."""

    def on_list(rules):
        new = tuple(rewrite(r) for r in rules)
        return new, sum(a != b for a, b in zip(new, rules))

    return each_rule_list(policies, on_list)
