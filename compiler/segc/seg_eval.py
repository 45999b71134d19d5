"""Evaluator 1: the meaning of a resolved .seg program on a cluster.

A direct transcription of docs/semantics.md, written against the IR and the
cluster model only (it shares nothing with the backend or with the
NetworkPolicy evaluator). Its answers are the contract the compiled
manifests are tested against.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from . import ir
from .cluster import Cluster, Endpoint, External, Pod


def ns_selects(ns: ir.NsSelector, namespace) -> bool:
    if isinstance(ns, ir.NsNamed):
        return ns.name == namespace.name
    if isinstance(ns, ir.NsAll):
        return True
    return ns.selector.matches(namespace.labels)


class SegEvaluator:
    def __init__(self, program: ir.Program, cluster: Cluster):
        self.program = program
        self.cluster = cluster
        # Per-endpoint caches (keyed by identity: endpoints live as long as we do).
        self._as_src: dict[int, list[ir.Allow]] = {}
        self._as_dst: dict[int, list[ir.Allow]] = {}
        self._deny_src: dict[int, list[ir.Deny]] = {}
        self._deny_dst: dict[int, list[ir.Deny]] = {}

    def allows_selecting_source(self, ep: Endpoint) -> list[ir.Allow]:
        found = self._as_src.get(id(ep))
        if found is None:
            found = self._as_src[id(ep)] = [a for a in self.program.allows if self.selects(a.src, ep)]
        return found

    def allows_selecting_destination(self, ep: Endpoint) -> list[ir.Allow]:
        found = self._as_dst.get(id(ep))
        if found is None:
            found = self._as_dst[id(ep)] = [a for a in self.program.allows if self.selects(a.dst, ep)]
        return found

    # ------------------------------------------------------------ selection
    def selects(self, peer: ir.Peer, ep: Endpoint) -> bool:
        """Chosen by labels: only pods, only through a pod peer."""
        if not isinstance(peer, ir.PodPeer) or not isinstance(ep, Pod):
            return False
        return ns_selects(peer.ns, self.cluster.namespace(ep.namespace)) and peer.pods.matches(ep.labels)

    def covers(self, peer: ir.Peer, ep: Endpoint) -> bool:
        """Chosen by labels, or by address (address blocks cover pod IPs too)."""
        if isinstance(peer, ir.BlockPeer):
            ip = ep.ip
            return ip is not None and peer.contains(_ip(ip))
        return self.selects(peer, ep)

    @staticmethod
    def port_covered(ports: ir.Ports, port: int, protocol: str, dst: Endpoint) -> bool:
        if ports is None:
            return True
        for p in ports:
            if p.protocol != protocol:
                continue
            if p.name:
                if isinstance(dst, Pod) and dst.named_port(p.name, protocol) == port:
                    return True
            elif p.start <= port <= p.end:
                return True
        return False

    # ------------------------------------------------------------ isolation
    def ingress_isolated(self, pod: Pod) -> bool:
        if self.program.ingress_denied(pod.namespace):
            return True
        if pod.namespace not in self.program.managed:
            return False
        return bool(self.allows_selecting_destination(pod))

    def egress_isolated(self, pod: Pod) -> bool:
        return self.program.egress_denied(pod.namespace)

    # ----------------------------------------------------------- connection
    def egress_ok(self, src: Endpoint, dst: Endpoint, port: int, protocol: str) -> bool:
        if isinstance(src, External):
            return True
        near = self._near_denies(src, port, protocol, dst, egress=True)
        if any(self.selects(x.dst, dst) for x in near):
            return False  # a deny names the far end by labels: every grant is withdrawn
        by_address = not any(self.covers(x.dst, dst) for x in near)
        if not self.egress_isolated(src):
            return isinstance(dst, Pod) or by_address
        return any(
            self.covers(a.dst, dst)
            and self.port_covered(a.ports, port, protocol, dst)
            and (isinstance(a.dst, ir.PodPeer) or by_address)
            for a in self.allows_selecting_source(src)
        )

    def ingress_ok(self, src: Endpoint, dst: Endpoint, port: int, protocol: str) -> bool:
        if isinstance(dst, External):
            return True
        near = self._near_denies(dst, port, protocol, dst, egress=False)
        if any(self.selects(x.src, src) for x in near):
            return False
        by_address = not any(self.covers(x.src, src) for x in near)
        if not self.ingress_isolated(dst):
            return isinstance(src, Pod) or by_address
        return any(
            self.covers(a.src, src)
            and self.port_covered(a.ports, port, protocol, dst)
            and (isinstance(a.src, ir.PodPeer) or by_address)
            for a in self.allows_selecting_destination(dst)
        )

    def _near_denies(self, near: Pod, port: int, protocol: str, dst: Endpoint, egress: bool) -> list[ir.Deny]:
        """The denies that choose ``near`` (the isolated end) by labels and cover the port."""
        if not self.program.denies:
            return []
        cache = self._deny_src if egress else self._deny_dst
        found = cache.get(id(near))
        if found is None:
            found = cache[id(near)] = [x for x in self.program.denies if self.selects(x.src if egress else x.dst, near)]
        return [x for x in found if self.port_covered(x.ports, port, protocol, dst)]

    def allowed(self, src: Endpoint, dst: Endpoint, port: int, protocol: str) -> bool:
        return self.egress_ok(src, dst, port, protocol) and self.ingress_ok(src, dst, port, protocol)

    def why(self, src: Endpoint, dst: Endpoint, port: int, protocol: str) -> str:
        """Which statements allow the connection, or which isolation denies it."""
        probe = f"{src.key} -> {dst.key} on {port}/{protocol}"
        lines = []
        for side, ok_fn, isolated, pick in (
            ("egress", self.egress_ok, lambda: isinstance(src, Pod) and self.egress_isolated(src), lambda a: self.selects(a.src, src) and self.covers(a.dst, dst)),
            ("ingress", self.ingress_ok, lambda: isinstance(dst, Pod) and self.ingress_isolated(dst), lambda a: self.selects(a.dst, dst) and self.covers(a.src, src)),
        ):
            end = src if side == "egress" else dst
            if not isolated():
                lines.append(f"{side}: {end.key} is not {side}-isolated")
                continue
            granting = [a for a in self.program.allows if pick(a) and self.port_covered(a.ports, port, protocol, dst)]
            if granting:
                lines.append(f"{side}: allowed by " + "; ".join(f"{a.span}: {a.text or a.to_seg()}" for a in granting))
            else:
                lines.append(f"{side}: DENIED: {end.key} is {side}-isolated ({self._isolation_reason(end, side)}) and no allow covers this connection")
        for x in self.program.denies:
            if self.covers(x.src, src) and self.covers(x.dst, dst) and self.port_covered(x.ports, port, protocol, dst):
                lines.append(f"deny: {x.span}: {x.text or x.to_seg()} matches (it withdraws what allows grant; see docs/semantics.md, Deny)")
        verdict = "allowed" if self.allowed(src, dst, port, protocol) else "denied"
        return f"{probe}: {verdict}\n  " + "\n  ".join(lines)

    def _isolation_reason(self, pod: Pod, side: str) -> str:
        denies = [d for d in self.program.deny_alls if d.namespace == pod.namespace and (d.ingress if side == "ingress" else d.egress)]
        if denies:
            return "deny-all at " + ", ".join(str(d.span) for d in denies)
        dsts = [a for a in self.program.allows if self.selects(a.dst, pod)]
        return "selected as a destination by " + ", ".join(str(a.span) for a in dsts[:3])


@lru_cache(maxsize=65536)
def _ip(text: str):
    return ipaddress.ip_address(text)
