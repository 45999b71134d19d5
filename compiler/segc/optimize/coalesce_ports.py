"""Consecutive and overlapping numeric ports of one protocol become one range.

`8080,8081,8082` becomes `8080-8082` (rendered with ``endPort``). Exact: the
set of (protocol, number) pairs covered is unchanged; named ports stay as
they are. Only run for Kubernetes versions with ``endPort`` (1.25 and later).
"""

from __future__ import annotations

from functools import lru_cache

from .. import ir
from ..backend.policy import PolicySet, Rule
from .each import each_rule, sorted_ports


@lru_cache(maxsize=1 << 12)  # a few port lists recur in thousands of rules
def coalesce(ports: ir.Ports) -> ir.Ports:
    if ports is None:
        return None
    named = [p for p in ports if p.name]
    out: list[ir.Port] = []
    for p in sorted((p for p in ports if not p.name), key=lambda p: (p.protocol, p.start, p.end)):
        last = out[-1] if out else None
        if last is not None and last.protocol == p.protocol and p.start <= last.end + 1:
            out[-1] = ir.Port(p.protocol, last.start, max(last.end, p.end))
        else:
            out.append(p)
    return sorted_ports(set(out) | set(named))


def _rule(r: Rule) -> Rule:
    if r.ports is None or len(r.ports) < 2:
        return r  # nothing to join
    ports = coalesce(r.ports)
    return r if ports == r.ports else Rule(r.peers, ports, r.sources)


def run(policies: PolicySet) -> tuple[PolicySet, int]:
    return each_rule(policies, _rule)
