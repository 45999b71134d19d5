"""Checks against a real cluster (``segc check --cluster C``).

* SEG107: an endpoint that matches no pod of the cluster: usually a typo
  (``app=apis`` for ``app=api``) that leaves a rule dead, or, as a
  destination, isolates nothing the author meant. The note suggests the
  closest namespace, label key or label value the cluster really has.
* SEG108: an address block that covers pod IPs of the cluster. Blocks are
  meant for addresses outside the cluster; one that covers pods admits (or
  lets out to) those pods whatever their labels.
"""

from __future__ import annotations

import difflib
import ipaddress

from .. import ir
from ..diagnostics import WARNING, Diagnostic
from ..seg_eval import ns_selects


def _close(word: str, choices, what: str) -> str | None:
    found = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=0.6)
    return f"did you mean {what.format(found[0])}?" if found else None


def _hint(peer: ir.PodPeer, cluster) -> str | None:
    """The closest real name for the part of ``peer`` that matches nothing."""
    namespaces = [ns for ns in cluster.namespaces.values() if ns_selects(peer.ns, ns)]
    if isinstance(peer.ns, ir.NsNamed) and not namespaces:
        return _close(peer.ns.name, cluster.namespaces, "namespace {!r}")
    if not namespaces:
        for r in peer.ns.selector.requirements:
            if r.op == ir.IN and len(r.values) == 1:
                values = [ns.labels[r.key] for ns in cluster.namespaces.values() if r.key in ns.labels]
                hint = _close(r.values[0], values, f"namespaces labelled {r.key}={{}}") if values else _close(r.key, {k for ns in cluster.namespaces.values() for k in ns.labels}, "the namespace label key {!r}")
                if hint:
                    return hint
        return None
    names = {ns.name for ns in namespaces}
    pods = [p for p in cluster.pods if p.namespace in names]
    for r in peer.pods.requirements:
        if r.op == ir.IN and len(r.values) == 1:
            values = [p.labels[r.key] for p in pods if r.key in p.labels]
            if values and r.values[0] not in values:
                hint = _close(r.values[0], values, f"{r.key}={{}}")
            else:
                hint = _close(r.key, {k for p in pods for k in p.labels}, "the label key {!r}") if not values else None
            if hint:
                return hint
    return None


def run(ctx) -> list[Diagnostic]:
    cluster = ctx.cluster
    if cluster is None:
        return []
    out = []
    ips = [(p, ipaddress.ip_address(p.ip)) for p in cluster.pods if p.ip]
    for a in ctx.allows:
        for side, peer in (("source", a.src), ("destination", a.dst)):
            if isinstance(peer, ir.PodPeer):
                if not any(ns_selects(peer.ns, cluster.namespace(p.namespace)) and peer.pods.matches(p.labels) for p in cluster.pods):
                    hint = _hint(peer, cluster)
                    out.append(Diagnostic(a.span, WARNING, "SEG107", f"the {side} {peer.to_seg()} matches no pod of the cluster", (hint,) if hint else ()))
            else:
                covered = sorted(p.key for p, ip in ips if peer.contains(ip))
                if covered:
                    shown = ", ".join(covered[:3]) + (f" and {len(covered) - 3} more" if len(covered) > 3 else "")
                    out.append(
                        Diagnostic(
                            a.span,
                            WARNING,
                            "SEG108",
                            f"the {side} {peer.to_seg()} covers pod IPs of the cluster ({shown}), whatever their labels",
                            ("address blocks are for addresses outside the cluster: name pods by label, or add `except` for the pod network",),
                        )
                    )
    return out
