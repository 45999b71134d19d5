"""Apply a rewrite to every rule list (or every rule) of every policy."""

from __future__ import annotations

from operator import is_not

from .. import ir
from ..backend.policy import Policy, PolicySet


def port_key(p: ir.Port):
    """``ir.Port``'s order (its fields in turn) as a plain tuple, compared without Python calls."""
    return (p.protocol, p.start, p.end, p.name)


def sorted_ports(ports) -> tuple[ir.Port, ...]:
    return tuple(sorted(ports, key=port_key))


def each_rule_list(policies: PolicySet, rewrite) -> tuple[PolicySet, int]:
    """``rewrite(rules) -> (rules, times_fired)`` on each direction of each policy.

    A policy whose rule lists come back unchanged (the same objects) stays the
    same object, so later stages can skip it cheaply. An empty list has
    nothing to rewrite and is not passed to ``rewrite``.
    """
    out, fired = [], 0
    for p in policies:
        ingress, egress = p.ingress, p.egress
        if ingress:
            ingress, n = rewrite(ingress)
            fired += n
        if egress:
            egress, n = rewrite(egress)
            fired += n
        if not (_same(ingress, p.ingress) and _same(egress, p.egress)):
            p = Policy(p.namespace, p.pods, p.isolates, tuple(ingress), tuple(egress), p.sources, p.from_deny)
        out.append(p)
    return tuple(out), fired


def _same(a, b) -> bool:
    return a is b or (len(a) == len(b) and not any(map(is_not, a, b)))


def each_rule(policies: PolicySet, rewrite) -> tuple[PolicySet, int]:
    """``rewrite(rule) -> rule`` on every rule; fired counts the rules it changed."""

    def on_list(rules):
        new = list(map(rewrite, rules))
        if not any(map(is_not, new, rules)):
            return rules, 0  # no rule rewritten: the list as it was
        return tuple(new), sum(1 for a, b in zip(new, rules) if a is not b and a != b)

    return each_rule_list(policies, on_list)
