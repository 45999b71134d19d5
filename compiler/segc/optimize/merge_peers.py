"""Rules of one policy with the same ports become one rule listing every peer.

Exact: (P x ports) union (Q x ports) = (P union Q) x ports.
"""

from __future__ import annotations

from .. import ir
from ..backend.policy import EGRESS, INGRESS, PolicySet, Rule


def _ports_key(ports):
    return ("all",) if ports is None else ports


def merge(rules: tuple[Rule, ...]) -> tuple[tuple[Rule, ...], int]:
    by_ports: dict[tuple, Rule] = {}
    for r in rules:
        key = _ports_key(r.ports)
        old = by_ports.get(key)
        if old is None:
            by_ports[key] = r
        else:
            peers = tuple(sorted(set(old.peers) | set(r.peers), key=ir.peer_sort_key))
            by_ports[key] = Rule(peers, r.ports, old.sources | r.sources)
    return tuple(by_ports.values()), len(rules) - len(by_ports)


def run(policies: PolicySet) -> tuple[PolicySet, int]:
    out, fired = [], 0
    for p in policies:
        for d in (INGRESS, EGRESS):
            rules, n = merge(p.rules(d))
            fired += n
            p = p.replace_rules(d, rules)
        out.append(p)
    return tuple(out), fired
