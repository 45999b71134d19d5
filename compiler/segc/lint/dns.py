"""SEG102: a namespace is egress-isolated and nothing lets its pods query DNS.

Pods find Services by name; with egress closed and no rule towards port 53,
every lookup times out and the application fails in ways that do not look
like a network policy problem. The rule is quiet as soon as any allow whose
source may include pods of the namespace opens port 53 (UDP or TCP), every
port, or a named port whose name contains "dns", towards anything.
"""

from __future__ import annotations

from .. import ir
from ..backend.plan import Match, ns_match
from ..diagnostics import WARNING, Diagnostic


def _dns_port(ports: ir.Ports) -> bool:
    if ports is None:
        return True
    return any((p.name and "dns" in p.name) or (not p.name and p.protocol in (ir.UDP, ir.TCP) and p.start <= 53 <= p.end) for p in ports)


def run(ctx) -> list[Diagnostic]:
    out = []
    seen: set[str] = set()
    senders = [a.src.ns for a in ctx.program.allows if isinstance(a.src, ir.PodPeer) and _dns_port(a.ports)]
    named = {ns.name for ns in senders if isinstance(ns, ir.NsNamed)}
    others = [ns for ns in set(senders) if not isinstance(ns, ir.NsNamed)]
    for d in ctx.program.deny_alls:
        if not d.egress or d.namespace in seen or d.span.file.startswith("<stdlib>"):
            continue
        seen.add(d.namespace)
        ok = d.namespace in named or any(ns_match(ns, d.namespace) is not Match.NO for ns in others)
        if not ok:
            out.append(
                Diagnostic(
                    d.span,
                    WARNING,
                    "SEG102",
                    f"pods of {d.namespace!r} are egress-isolated and nothing allows them DNS (53/udp): they will fail to resolve names",
                    (f"add `allow dns` after `namespace {d.namespace}` (or `allow {d.namespace}/* -> dns` elsewhere)",),
                )
            )
    return out
