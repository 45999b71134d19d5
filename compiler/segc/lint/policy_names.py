"""SEG109: statements whose policies want the same name.

Policies are named after the pods they select (``web-ingress``); two
different selectors can spell the same name (``web`` and ``{app=Web}``,
``{app in (a-b)}`` and ``{app in (a, b)}``, ``{app.kubernetes.io/name=web}``
and ``web``). segc keeps names unique by adding a hash to each, which makes
the manifests hard to read and the names unstable when statements change.
The names are computed exactly as ``segc build`` does: plan, one policy per
workload (``optimize.group_by_workload``), ``render.policy_name``.
"""

from __future__ import annotations

from .. import ir
from ..backend import render
from ..backend.plan import plan
from ..diagnostics import Collector, WARNING, Diagnostic
from ..optimize import group_by_workload


def _pointers(policy) -> set[str]:
    out = set(policy.sources)
    for r in (*policy.ingress, *policy.egress):
        out |= r.sources
    return out


def _deny_text(d: ir.DenyAll) -> str:
    # As the planner writes it (Planner.run).
    return "deny-all" + ("" if d.ingress and d.egress else " ingress" if d.ingress else " egress") + f" in {d.namespace}"


def _may_collide(program: ir.Program) -> bool:
    """A quick, sound pre-check: can two different selectors of one namespace
    spell the same name? (Names longer than 63 characters end in a hash of
    their selector, so they cannot collide.) Planning again is left for then."""
    managed = sorted(program.managed)
    egress = sorted({d.namespace for d in program.deny_alls if d.egress})
    slugs: dict[tuple[str, str], set] = {}
    for d in program.deny_alls:
        slugs.setdefault((d.namespace, "default-deny"), set()).add(None)
    # Each distinct peer once per end; each distinct selector named once.
    ends = {(a.dst, True) for a in program.allows} | {(a.src, False) for a in program.allows}
    names: dict[ir.Selector, str] = {}
    for peer, is_dst in ends:
        if not isinstance(peer, ir.PodPeer):
            continue
        where = [peer.ns.name] if isinstance(peer.ns, ir.NsNamed) else managed if is_dst else egress
        name = names.get(peer.pods)
        if name is None:
            name = names[peer.pods] = render.selector_name(peer.pods)
        for ns in where:
            slugs.setdefault((ns, name), set()).add(peer.pods)
    return any(len(s) > 1 for s in slugs.values())


def run(ctx) -> list[Diagnostic]:
    program = ctx.program
    if not _may_collide(program):
        return []
    policies, _ = group_by_workload.run(plan(program, Collector()))
    spans: dict[str, list[ir.Span]] = {}
    for a in program.allows:
        spans.setdefault(f"{a.span.file}: {a.text or a.to_seg()}", []).append(a.span)
    for d in program.deny_alls:
        spans.setdefault(f"{d.span.file}: {_deny_text(d)}", []).append(d.span)
    wanted: dict[tuple[str, str], list] = {}
    for p in policies:
        identity = render._canonical([sorted(p.isolates), render.label_selector(p.pods)])
        wanted.setdefault((p.namespace, render._fit(render.policy_name(p), identity)), []).append(p)
    out = []
    for (ns, name), group in sorted(wanted.items()):
        if len(group) < 2:
            continue
        firsts = []
        for p in group:
            found = sorted(s for ptr in _pointers(p) for s in spans.get(ptr, []) if not s.file.startswith("<stdlib>"))
            if found:
                firsts.append((found[0], p))
        firsts.sort(key=lambda x: x[0])
        for (span, p) in firsts[1:]:
            first_span, first = firsts[0]
            out.append(
                Diagnostic(
                    span,
                    WARNING,
                    "SEG109",
                    f"this statement's policy for pods {p.pods.to_seg()} in {ns!r} wants the name {name!r}, like the policy for {first.pods.to_seg()} from {first_span}; segc adds a hash to both names",
                    ("select the pods with the same label expression in both places, or with labels whose names differ",),
                )
            )
    return out
