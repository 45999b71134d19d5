"""Rules of one policy with the same ports become one rule listing every peer.

Exact: (P x ports) union (Q x ports) = (P union Q) x ports.
"""

from __future__ import annotations

from .. import ir
from ..backend.policy import PolicySet, Rule
from .each import each_rule_list


_ALL = ("all",)  # the key of "every port" (None), unlike any tuple of ports


def merge(rules: tuple[Rule, ...]) -> tuple[tuple[Rule, ...], int]:
    if len(rules) < 2:
        return rules, 0
    groups: dict[tuple, list[Rule]] = {}
    for r in rules:
        key = _ALL if r.ports is None else r.ports
        group = groups.get(key)
        if group is None:
            groups[key] = [r]
        else:
            group.append(r)
    if len(groups) == len(rules):
        return rules, 0  # no two rules with the same ports: the list as it was
    out = []
    for group in groups.values():
        if len(group) == 1:
            out.append(group[0])
            continue
        peers = tuple(sorted({p for r in group for p in r.peers}, key=ir.peer_sort_key))
        out.append(Rule(peers, group[0].ports, frozenset().union(*[r.sources for r in group])))
    return tuple(out), len(rules) - len(out)


def run(policies: PolicySet) -> tuple[PolicySet, int]:
    return each_rule_list(policies, merge)
