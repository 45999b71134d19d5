"""SEG101: an allow that another allow fully covers adds nothing.

``B`` covers ``A`` when B's source contains A's, B's destination contains
A's (pods within pods, blocks within blocks: a block never stands in for
pods chosen by labels, since only labels isolate) and B's ports contain A's.
Then every connection A opens on either end B opens too, and every pod A
isolates B isolates, so deleting A changes nothing (tests/test_lint.py checks
this with evaluator 1). Of two equal allows the later one is reported.
Containment comes from ``segc.optimize.algebra``, which answers "no" when unsure.
"""

from __future__ import annotations

from .. import ir
from ..diagnostics import WARNING, Diagnostic
from ..optimize.algebra import peer_within, ports_within


def _bucket(p: ir.Peer) -> str:
    if isinstance(p, ir.BlockPeer):
        return "<blocks>"
    return p.ns.name if isinstance(p.ns, ir.NsNamed) else "<any>"


def _containers(dsts: list[ir.Peer]) -> dict[ir.Peer, list[ir.Peer]]:
    """For each distinct destination, the distinct destinations that contain it.
    Only peers of the same bucket (or of the wildcard one) can contain a peer."""
    buckets: dict[str, list[ir.Peer]] = {}
    for d in dsts:
        buckets.setdefault(_bucket(d), []).append(d)
    out = {}
    for d in dsts:
        b = _bucket(d)
        pool = buckets[b] + (buckets.get("<any>", []) if b not in ("<any>", "<blocks>") else [])
        out[d] = [o for o in pool if peer_within(d, o)]
    return out


def run(ctx) -> list[Diagnostic]:
    allows = ctx.allows
    by_dst: dict[ir.Peer, list[int]] = {}
    for i, a in enumerate(allows):
        by_dst.setdefault(a.dst, []).append(i)
    containers = _containers(list(by_dst))
    out = []
    for i, a in enumerate(allows):
        candidates = sorted(j for d in containers[a.dst] for j in by_dst[d])
        for j in candidates:
            if j == i:
                continue
            other = allows[j]
            if not (peer_within(a.src, other.src) and ports_within(a.ports, other.ports)):
                continue
            mutual = peer_within(other.dst, a.dst) and peer_within(other.src, a.src) and ports_within(other.ports, a.ports)
            if j < i or not mutual:
                out.append(
                    Diagnostic(
                        a.span,
                        WARNING,
                        "SEG101",
                        f"this allow adds nothing: `{other.text or other.to_seg()}` ({other.span}) already allows all of it",
                        ("remove this line, or narrow the other one if it allows more than you meant",),
                    )
                )
                break
    return out
