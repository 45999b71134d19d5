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


def _pool(buckets: dict[str, list], b: str) -> list:
    """What may contain a peer of bucket ``b``: its own bucket, and the
    wildcard one unless ``b`` is the wildcard or the blocks."""
    return buckets.get(b, []) + (buckets.get("<any>", []) if b not in ("<any>", "<blocks>") else [])


def _anchor(p: ir.Peer) -> ir.Requirement | None:
    """A requirement ``key In (v)`` of a pod peer's selector, if it has one.
    Whatever lies within that selector must carry the same requirement (only
    ``key In (v)`` implies it; a value list is never empty)."""
    if isinstance(p, ir.PodPeer):
        for r in p.pods.requirements:
            if r.op == ir.IN and len(r.values) == 1:
                return r
    return None


def _containers(dsts: list[ir.Peer]) -> dict[ir.Peer, list[ir.Peer]]:
    """For each distinct destination, the distinct destinations that contain it.
    Only peers of the same bucket (or of the wildcard one) can contain a peer,
    and a container with an anchor only peers that carry that anchor."""
    free: dict[str, list[ir.Peer]] = {}  # bucket -> pod peers without an anchor
    anchored: dict[tuple[str, ir.Requirement], list[ir.Peer]] = {}
    blocks: dict[tuple, list[ir.BlockPeer]] = {}  # by (version, prefix length, network bits)
    for o in dsts:
        if isinstance(o, ir.BlockPeer):
            blocks.setdefault(_net_key(o.net, o.net.prefixlen), []).append(o)
            continue
        r = _anchor(o)
        if r is None:
            free.setdefault(_bucket(o), []).append(o)
        else:
            anchored.setdefault((_bucket(o), r), []).append(o)
    out = {}
    for d in dsts:
        if isinstance(d, ir.BlockPeer):
            # Only a block whose net holds d's net can contain d: look up d's supernets.
            pool = [o for plen in range(d.net.prefixlen + 1) for o in blocks.get(_net_key(d.net, plen), ())]
        else:
            b = _bucket(d)
            scopes = (b, "<any>") if b != "<any>" else (b,)
            pool = [o for s in scopes for o in free.get(s, ())]
            pool += [o for s in scopes for r in d.pods.requirements for o in anchored.get((s, r), ())]
        out[d] = [o for o in pool if peer_within(d, o)]
    return out


def _net_key(net, plen: int) -> tuple[int, int, int]:
    """The supernet of ``net`` with prefix length ``plen``, as plain integers."""
    return net.version, plen, int(net.network_address) >> (net.max_prefixlen - plen)


def run(ctx) -> list[Diagnostic]:
    allows = ctx.allows
    # Allows by destination, then by source bucket: a source can only lie
    # within a source of its own bucket or the wildcard one.
    by_dst: dict[ir.Peer, dict[str, list[int]]] = {}
    for i, a in enumerate(allows):
        by_dst.setdefault(a.dst, {}).setdefault(_bucket(a.src), []).append(i)
    containers = _containers(list(by_dst))
    out = []
    for i, a in enumerate(allows):
        src_bucket = _bucket(a.src)
        candidates = sorted(j for d in containers[a.dst] for j in _pool(by_dst[d], src_bucket))
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
