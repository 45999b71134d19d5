"""Render mode: check a program against the workloads that are being rendered.

A render step (Helm post-renderer, Kustomize transformer, KRM function) sees
the pod templates that will be deployed. A selector in the .seg that matches
none of them is almost always a typo in a label; a named port that a matched
template does not declare selects nothing on those pods. Both are reported
(SEG160, SEG161) as warnings, or as errors in strict mode, with a suggestion.

Which selectors are checked: those of ``allow`` endpoints in the user's
files that name pods in one namespace (``backend``, ``web/backend``,
``{tier=api}``) where the release has workloads. A workload without
``metadata.namespace`` is in ``namespace`` when given, otherwise it may be in
any namespace the program manages. Pods of other namespaces (``allow dns``,
another team's ``*/prometheus``) are not the release's and are not checked.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from .. import ir
from ..cluster import ContainerPort
from ..diagnostics import Collector
from ..loader import load
from ..resolve import Resolver
from .resources import Resource

POD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob", "Pod")


@dataclass(frozen=True)
class PodTemplate:
    kind: str
    name: str
    namespace: str | None
    labels: dict
    ports: tuple[ContainerPort, ...]

    @property
    def title(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {ns}{self.name}"


def _dict(v) -> dict:
    return v if isinstance(v, dict) else {}


def _pod_template(r: Resource) -> tuple[dict, dict] | None:
    """(pod metadata, pod spec) of a workload, None for other objects."""
    spec = _dict(r.obj.get("spec"))
    if r.kind == "Pod":
        return r.metadata, spec
    if r.kind == "CronJob":
        spec = _dict(_dict(spec.get("jobTemplate")).get("spec"))
    elif r.kind not in POD_KINDS:
        return None
    template = _dict(spec.get("template"))
    return _dict(template.get("metadata")), _dict(template.get("spec"))


def pod_templates(resources: list[Resource], namespace: str | None = None) -> list[PodTemplate]:
    out = []
    for r in resources:
        found = _pod_template(r)
        if found is None:
            continue
        meta, spec = found
        labels = {str(k): str(v) for k, v in _dict(meta.get("labels")).items()}
        ports = []
        containers = spec.get("containers") if isinstance(spec.get("containers"), list) else []
        for c in containers:
            for p in _dict(c).get("ports") or []:
                p = _dict(p)
                if "containerPort" in p:
                    try:
                        number = int(p["containerPort"])
                    except (TypeError, ValueError):
                        continue
                    ports.append(ContainerPort(number, str(p.get("protocol") or "TCP"), str(p["name"]) if p.get("name") else None))
        out.append(PodTemplate(r.kind, r.name, r.namespace or namespace, labels, tuple(ports)))
    return out


def check(paths: list[str], texts: dict, program: ir.Program, templates: list[PodTemplate], diags: Collector, strict: bool = False) -> None:
    """Report selectors and named ports of ``paths`` that no rendered pod
    template matches. ``program`` is the resolved program of ``paths`` (so
    the files are known to load and resolve without errors)."""
    report = diags.error if strict else diags.warning
    scratch = Collector()  # resolution problems were reported by the compilation already
    sources = load(paths, scratch, texts)
    resolver = Resolver(sources.files, scratch)
    resolver.collect_groups()
    explicit = {t.namespace for t in templates if t.namespace is not None}
    floating = [t for t in templates if t.namespace is None]

    def in_namespace(ns: str) -> list[PodTemplate]:
        if ns in explicit or (floating and ns in program.managed):
            return [t for t in templates if t.namespace == ns or (t.namespace is None and ns in program.managed)]
        return []

    if not floating and explicit.isdisjoint(program.managed) and program.managed:
        first = next((st.span for f in sources.files if not f.stdlib for st in f.statements if isinstance(st, ir.NamespaceStmt)), None)
        if first is not None:
            report(
                first,
                "SEG165",
                f"the rendered workloads are in {', '.join(sorted(explicit))}, none of which this program manages ({', '.join(sorted(program.managed))})",
                "render into the namespace the program manages (helm -n NS), or fix the namespace statements",
            )
    seen: set = set()
    for f in sources.files:
        if f.stdlib:
            continue
        current = None
        for st in f.statements:
            if isinstance(st, ir.NamespaceStmt):
                current = st.name
            if not isinstance(st, ir.AllowStmt):
                continue
            ends = [(st.dst.endpoint, True)] + ([(st.src, False)] if st.src is not None else [])
            for ep, is_dst in ends:
                peer, group_ports = resolver.endpoint(ep, current, st.span)
                if not isinstance(peer, ir.PodPeer) or not isinstance(peer.ns, ir.NsNamed):
                    continue
                candidates = in_namespace(peer.ns.name)
                if not candidates:
                    continue
                span = getattr(ep, "span", st.span)
                if span == ir.NO_SPAN:
                    span = st.span
                matched = [t for t in candidates if peer.pods.matches(t.labels)]
                if not matched:
                    key = ("sel", span, peer)
                    if key not in seen:
                        seen.add(key)
                        report(span, "SEG160", f"no rendered pod template in namespace {peer.ns.name} matches {_describe(peer.pods)}", *_suggest(peer.pods, candidates))
                    continue
                ports = st.dst.ports if st.dst.ports is not None else group_ports
                if is_dst and ports:
                    for port in ports:
                        if port.name:
                            _check_named_port(port, matched, st.dst.span if st.dst.span != ir.NO_SPAN else span, report, seen)


def _describe(sel: ir.Selector) -> str:
    return "every pod" if sel.is_all else sel.to_seg()[1:-1]


def _suggest(sel: ir.Selector, candidates: list[PodTemplate]) -> list[str]:
    notes = []
    for req in sel.requirements:
        if any(req.matches(t.labels) for t in candidates):
            continue
        values = sorted({t.labels[req.key] for t in candidates if req.key in t.labels})
        if req.op == ir.IN and values:
            close = difflib.get_close_matches(req.values[0], values, n=1, cutoff=0.6)
            if close:
                owners = ", ".join(t.title for t in candidates if t.labels.get(req.key) == close[0])
                notes.append(f"did you mean {req.key}={close[0]}? ({owners})")
                continue
        if req.op in (ir.IN, ir.EXISTS) and not values:
            keys = sorted({k for t in candidates for k in t.labels})
            close = difflib.get_close_matches(req.key, keys, n=1, cutoff=0.6)
            if close:
                notes.append(f"did you mean the label key {close[0]!r}? no rendered pod has the key {req.key!r}")
                continue
    keys = {r.key for r in sel.requirements}

    def shown(t: PodTemplate) -> str:
        labels = {k: v for k, v in t.labels.items() if k in keys} or t.labels
        return f"{t.title} ({', '.join(f'{k}={v}' for k, v in sorted(labels.items())) or 'no labels'})"

    listed = ", ".join(shown(t) for t in candidates[:5])
    more = f" and {len(candidates) - 5} more" if len(candidates) > 5 else ""
    notes.append(f"rendered pod templates there: {listed}{more}")
    return notes


def _check_named_port(port: ir.Port, matched: list[PodTemplate], span, report, seen: set) -> None:
    for t in matched:
        if any(p.name == port.name and p.protocol == port.protocol for p in t.ports):
            continue
        key = ("port", span, port, t.title)
        if key in seen:
            continue
        seen.add(key)
        names = sorted({p.name for p in t.ports if p.name})
        declared = ", ".join(f"{p.name or p.port}/{p.protocol}" for p in t.ports) or "none"
        notes = [f"its container ports: {declared}"]
        close = difflib.get_close_matches(port.name, names, n=1, cutoff=0.6)
        if close and close[0] != port.name:
            notes.insert(0, f"did you mean {close[0]!r}?")
        elif port.name in names:
            notes.insert(0, f"{port.name!r} is declared with another protocol")
        report(span, "SEG161", f"{t.title} declares no container port named {port.name!r} ({port.protocol}); the rule opens nothing on its pods", *notes)
