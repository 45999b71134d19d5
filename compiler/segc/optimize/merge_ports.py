"""Rules of one policy with the same peers become one rule with both port lists.

Exact: (peers x A) union (peers x B) = peers x (A union B); "every port" absorbs.
"""

from __future__ import annotations

from ..backend.policy import PolicySet, Rule
from .each import each_rule_list, sorted_ports


def union_ports(a, b):
    if a is None or b is None:
        return None
    return sorted_ports(set(a) | set(b))


def merge(rules: tuple[Rule, ...]) -> tuple[tuple[Rule, ...], int]:
    if len(rules) < 2:
        return rules, 0
    by_peers: dict[tuple, Rule] = {}
    for r in rules:
        old = by_peers.setdefault(r.peers, r)
        if old is not r:
            by_peers[r.peers] = Rule(r.peers, union_ports(old.ports, r.ports), old.sources | r.sources)
    if len(by_peers) == len(rules):
        return rules, 0  # no two rules with the same peers: the list as it was
    return tuple(by_peers.values()), len(rules) - len(by_peers)


def run(policies: PolicySet) -> tuple[PolicySet, int]:
    return each_rule_list(policies, merge)
