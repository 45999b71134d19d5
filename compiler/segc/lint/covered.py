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


def _within(a: ir.Allow, b: ir.Allow) -> bool:
    return peer_within(a.dst, b.dst) and peer_within(a.src, b.src) and ports_within(a.ports, b.ports)


def _bucket(p: ir.Peer) -> str:
    if isinstance(p, ir.BlockPeer):
        return "<blocks>"
    return p.ns.name if isinstance(p.ns, ir.NsNamed) else "<any>"


def run(ctx) -> list[Diagnostic]:
    allows = ctx.allows
    buckets: dict[str, list[int]] = {}
    for i, a in enumerate(allows):
        buckets.setdefault(_bucket(a.dst), []).append(i)
    out = []
    for i, a in enumerate(allows):
        b = _bucket(a.dst)
        candidates = sorted(buckets[b] + (buckets.get("<any>", []) if b not in ("<any>", "<blocks>") else []))
        for j in candidates:
            if j == i:
                continue
            other = allows[j]
            if _within(a, other) and (j < i or not _within(other, a)):
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
