"""Reachability matrices: which endpoint may reach which, on which ports.

Works with either evaluator (anything with ``allowed(src, dst, port, proto)``).
Pods are grouped into equivalence classes first: two endpoints that no policy
can tell apart (same namespace labels, pod labels, container ports, and the same
membership in every address block in play) get the same answers, so the
evaluator runs once per pair of classes, not per pair of pods.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Iterable, Protocol

from .cluster import Cluster, Endpoint, Pod


class Evaluator(Protocol):
    def allowed(self, src: Endpoint, dst: Endpoint, port: int, protocol: str) -> bool: ...

    def why(self, src: Endpoint, dst: Endpoint, port: int, protocol: str) -> str: ...


@dataclass(frozen=True)
class Probe:
    src: str
    dst: str
    port: int
    protocol: str
    allowed: bool

    def to_dict(self) -> dict:
        return {"from": self.src, "to": self.dst, "port": self.port, "protocol": self.protocol, "allowed": self.allowed}


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _signature(ep: Endpoint, cluster: Cluster, blocks: list[Network]) -> tuple:
    ip = ipaddress.ip_address(ep.ip) if ep.ip else None
    membership = tuple(ip is not None and ip.version == b.version and ip in b for b in blocks)
    if isinstance(ep, Pod):
        ns = cluster.namespace(ep.namespace)
        return ("pod", tuple(sorted(ns.labels.items())), tuple(sorted(ep.labels.items())), ep.ports, membership)
    return ("external", membership)


def classes(endpoints: list[Endpoint], cluster: Cluster, blocks: Iterable[Network]) -> tuple[list[Endpoint], list[int]]:
    """Representatives, and for each endpoint the index of its class."""
    blocks = sorted(set(blocks), key=lambda b: (b.version, int(b.network_address), b.prefixlen))
    reps: list[Endpoint] = []
    index: dict[tuple, int] = {}
    of: list[int] = []
    for ep in endpoints:
        sig = _signature(ep, cluster, blocks)
        i = index.get(sig)
        if i is None:
            i = index[sig] = len(reps)
            reps.append(ep)
        of.append(i)
    return reps, of


def matrix(evaluator: Evaluator, cluster: Cluster, ports: list[tuple[int, str]], blocks: Iterable[Network]) -> list[Probe]:
    """Every (source, destination, port) probe, sources and destinations in cluster order."""
    endpoints = cluster.endpoints()
    reps, of = classes(endpoints, cluster, blocks)
    probes: list[Probe] = []
    for port, proto in ports:
        answers: dict[tuple[int, int], bool] = {}
        for s, si in zip(endpoints, of):
            for d, di in zip(endpoints, of):
                key = (si, di)
                ok = answers.get(key)
                if ok is None:
                    ok = answers[key] = evaluator.allowed(reps[si], reps[di], port, proto)
                probes.append(Probe(s.key, d.key, port, proto, ok))
    return probes


def truth_table(probes: list[Probe], endpoints: list[str]) -> str:
    """The upstream e2e layout: sources down, destinations across, '.' allowed, 'X' denied."""
    out = []
    by_port: dict[tuple[int, str], dict[tuple[str, str], bool]] = {}
    for p in probes:
        by_port.setdefault((p.port, p.protocol), {})[(p.src, p.dst)] = p.allowed
    width = max([len(e) for e in endpoints] + [4])
    for (port, proto), cells in by_port.items():
        out.append(f"{port}/{proto}")
        out.append(" " * width + " " + " ".join(e.rjust(width) for e in endpoints))
        for s in endpoints:
            row = " ".join(("." if cells[(s, d)] else "X").rjust(width) for d in endpoints)
            out.append(s.ljust(width) + " " + row)
        out.append("")
    return "\n".join(out)
