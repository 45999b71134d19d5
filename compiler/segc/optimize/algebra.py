"""Containment between selectors, peers and ports: the facts the passes rely on.

Every function answers "is A contained in B on every cluster state?" and may
answer False when unsure (a pass then keeps both), never True wrongly.
"""

from __future__ import annotations

from .. import ir
from ..cluster import NAME_LABEL


def requirement_implies(a: ir.Requirement, b: ir.Requirement) -> bool:
    """Every label set satisfying ``a`` satisfies ``b``."""
    if a.key != b.key:
        return False
    va, vb = set(a.values), set(b.values)
    if a.op == ir.IN:
        return (b.op == ir.IN and va <= vb) or (b.op == ir.NOT_IN and not va & vb) or b.op == ir.EXISTS
    if a.op == ir.NOT_IN:
        return b.op == ir.NOT_IN and vb <= va
    if a.op == ir.EXISTS:
        return b.op == ir.EXISTS
    return b.op in (ir.DOES_NOT_EXIST, ir.NOT_IN)


def selector_within(a: ir.Selector, b: ir.Selector) -> bool:
    """Everything ``a`` matches, ``b`` matches."""
    return all(any(requirement_implies(ra, rb) for ra in a.requirements) for rb in b.requirements)


def namespaces_within(a: ir.NsSelector, b: ir.NsSelector) -> bool:
    if isinstance(b, ir.NsAll) or a == b:
        return True
    if isinstance(a, ir.NsNamed):
        if isinstance(b, ir.NsLabels):
            return b.selector.matches({NAME_LABEL: a.name}) and all(r.key == NAME_LABEL for r in b.selector.requirements)
        return False
    if isinstance(a, ir.NsLabels) and isinstance(b, ir.NsLabels):
        return selector_within(a.selector, b.selector)
    return isinstance(a, ir.NsAll) and isinstance(b, ir.NsLabels) and b.selector.is_all


def block_within(a: ir.BlockPeer, b: ir.BlockPeer) -> bool:
    if a.net.version != b.net.version or not a.net.subnet_of(b.net):
        return False
    for hole in b.excepts:
        if not hole.overlaps(a.net):
            continue
        if not any(hole.subnet_of(e) for e in a.excepts):
            return False
    return True


def peer_within(a: ir.Peer, b: ir.Peer) -> bool:
    if isinstance(a, ir.PodPeer) and isinstance(b, ir.PodPeer):
        return namespaces_within(a.ns, b.ns) and selector_within(a.pods, b.pods)
    if isinstance(a, ir.BlockPeer) and isinstance(b, ir.BlockPeer):
        return block_within(a, b)
    return False


def port_within(p: ir.Port, q: ir.Port) -> bool:
    if p.protocol != q.protocol:
        return False
    if p.name or q.name:
        return p.name == q.name
    return q.start <= p.start and p.end <= q.end


def ports_within(a: ir.Ports, b: ir.Ports) -> bool:
    if b is None:
        return True
    if a is None:
        return False
    return all(any(port_within(p, q) for q in b) for p in a)


def peers_within(a: tuple[ir.Peer, ...], b: tuple[ir.Peer, ...]) -> bool:
    return all(any(peer_within(p, q) for q in b) for p in a)
