"""Adjacent or overlapping address blocks of one rule become fewer blocks.

Blocks without ``except`` are collapsed (10.0.0.0/25 + 10.0.0.128/25 =
10.0.0.0/24). A block with ``except`` lists merges with another on the same
network by keeping only the holes both have (an address is covered when
either block covers it). Exact: the set of addresses covered is unchanged.
"""

from __future__ import annotations

import ipaddress

from .. import ir
from ..backend.policy import PolicySet, Rule
from .each import each_rule


def _common_holes(a: tuple, b: tuple) -> tuple:
    """Addresses in a hole of both lists, as networks."""
    out = []
    for x in a:
        for y in b:
            if x.subnet_of(y):
                out.append(x)
            elif y.subnet_of(x):
                out.append(y)
    return tuple(sorted(set(ipaddress.collapse_addresses(out)) if out else set(), key=lambda n: (int(n.network_address), n.prefixlen)))


def merge(peers: tuple[ir.Peer, ...]) -> tuple[ir.Peer, ...]:
    pods = [p for p in peers if isinstance(p, ir.PodPeer)]
    blocks = [p for p in peers if isinstance(p, ir.BlockPeer)]
    by_net: dict = {}
    for b in blocks:
        old = by_net.get(b.net)
        by_net[b.net] = b if old is None else ir.BlockPeer(b.net, _common_holes(old.excepts, b.excepts))
    plain = [b.net for b in by_net.values() if not b.excepts]
    holed = [b for b in by_net.values() if b.excepts]
    merged: list[ir.BlockPeer] = []
    for version in (4, 6):
        nets = [n for n in plain if n.version == version]
        merged += [ir.BlockPeer(n) for n in ipaddress.collapse_addresses(nets)] if nets else []
    merged += holed
    return tuple(sorted(pods + merged, key=ir.peer_sort_key))


def _rule(r: Rule) -> Rule:
    blocks = 0
    for p in r.peers:
        if type(p) is ir.BlockPeer:
            blocks += 1
    if blocks < 2:
        return r  # one block or none: nothing to merge
    peers = merge(r.peers)
    return r if peers == r.peers else Rule(peers, r.ports, r.sources)


def run(policies: PolicySet) -> tuple[PolicySet, int]:
    return each_rule(policies, _rule)
