"""Overly broad allows.

* SEG103: any source to a database port. A source is "any" when it is every
  pod of every namespace (``*/*``, ``{}/{}``) or an address block of prefix
  length 0 (``0.0.0.0/0``, ``::/0``, with or without ``except``); the ports
  must name a database port (``DATABASE_PORTS``) explicitly, so ``allow
  0.0.0.0/0 -> frontend`` (every port of a web front end) does not count.
* SEG104: egress to ``0.0.0.0/0`` or ``::/0`` (without ``except``): the pods
  may send to every address, in the cluster and outside it.
* SEG105: a ``*/*`` source: every pod of every namespace, including ones
  created later by anybody allowed to create pods. Not repeated for an
  allow that already gets SEG103.
"""

from __future__ import annotations

from .. import ir
from ..diagnostics import WARNING, Diagnostic

# Default ports of common databases and data stores.
DATABASE_PORTS = {
    1433: "SQL Server",
    1521: "Oracle",
    2379: "etcd",
    3306: "MySQL/MariaDB",
    5432: "PostgreSQL",
    5984: "CouchDB",
    6379: "Redis",
    7000: "Cassandra (inter-node)",
    8086: "InfluxDB",
    9042: "Cassandra",
    9200: "Elasticsearch",
    11211: "memcached",
    26257: "CockroachDB",
    27017: "MongoDB",
    28015: "RethinkDB",
}


def _every_pod(p: ir.Peer) -> bool:
    if not isinstance(p, ir.PodPeer) or not p.pods.is_all:
        return False
    return isinstance(p.ns, ir.NsAll) or (isinstance(p.ns, ir.NsLabels) and p.ns.selector.is_all)


def _everywhere(p: ir.Peer) -> bool:
    return isinstance(p, ir.BlockPeer) and p.net.prefixlen == 0


def _db_ports(ports: ir.Ports) -> list[str]:
    found = []
    for p in ports or ():
        if p.name or p.protocol != ir.TCP:
            continue
        for number, what in sorted(DATABASE_PORTS.items()):
            if p.start <= number <= p.end:
                found.append(f"{number} ({what})")
    return found


def run(ctx) -> list[Diagnostic]:
    out = []
    for a in ctx.allows:
        db = _db_ports(a.ports)
        any_source = _every_pod(a.src) or _everywhere(a.src)
        if any_source and db and isinstance(a.dst, ir.PodPeer):
            who = "every pod of every namespace" if _every_pod(a.src) else f"every address ({a.src.to_seg()})"
            out.append(
                Diagnostic(
                    a.span,
                    WARNING,
                    "SEG103",
                    f"{who} may reach database port {', '.join(db)} of {a.dst.to_seg()}",
                    ("name the clients that need the database (e.g. `allow orders-api -> postgres:5432`)",),
                )
            )
        elif _every_pod(a.src):
            out.append(
                Diagnostic(
                    a.span,
                    WARNING,
                    "SEG105",
                    "the source `*/*` is every pod of every namespace, including any pod anybody creates later",
                    ("name the namespaces or pods that need access (e.g. `{team=orders}/*` or `web/frontend`)",),
                )
            )
        if isinstance(a.src, ir.PodPeer) and isinstance(a.dst, ir.BlockPeer) and a.dst.net.prefixlen == 0 and not a.dst.excepts:
            out.append(
                Diagnostic(
                    a.span,
                    WARNING,
                    "SEG104",
                    f"egress to {a.dst.net}: {a.src.to_seg()} may send to every address, inside the cluster and out",
                    ("name the address blocks the pods need (e.g. `203.0.113.0/24:443`); for any public address use the stdlib's `internet`, which keeps private ranges closed",),
                )
            )
    return out
