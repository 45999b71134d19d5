"""The render step every integration shares: compile the program, check it
against the resources flowing through, and give back what to write."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..compile import DEFAULT_K8S_VERSION, compile_paths
from ..diagnostics import Collector, Diagnostic
from . import workloads
from ..ir import Span
from .resources import Resource, append, check_collisions, policy_id, read_stream


@dataclass
class StepResult:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    policies: list[dict] | None = None
    output: str | None = None  # the text to write; None when there are errors

    @property
    def ok(self) -> bool:
        return self.output is not None


def generate(paths: list[str], k8s_version: tuple[int, int] = DEFAULT_K8S_VERSION) -> StepResult:
    """The policies alone, as one YAML stream (a Kustomize generator)."""
    from ..output import stream

    result = compile_paths(paths, k8s_version=k8s_version)
    step = StepResult(result.diagnostics, result.texts, result.policies)
    if result.ok:
        step.output = stream(result.policies)
    return step


def transform(
    paths: list[str],
    resources_text: str,
    resources_name: str,
    *,
    strict: bool = False,
    namespace: str | None = None,
    k8s_version: tuple[int, int] = DEFAULT_K8S_VERSION,
    texts: dict | None = None,
) -> StepResult:
    """``resources_text`` with the policies appended, after checking the
    program against its workloads (Helm post-renderer, Kustomize transformer)."""
    diags = Collector()
    resources = read_stream(resources_text, resources_name, diags)
    step = StepResult(diags.items)
    if diags.has_errors:
        return step
    result = compile_paths(paths, texts, k8s_version=k8s_version)
    diags.items.extend(result.diagnostics)
    step.texts = result.texts
    if not result.ok:
        return step
    step.policies = result.policies
    check_against(paths, result, resources, diags, strict=strict, namespace=namespace, texts=texts, name=resources_name)
    check_collisions(resources, result.policies, resources_name, diags)
    if not diags.has_errors:
        step.output = append(resources_text, result.policies)
    return step


def check_against(paths, result, resources: list[Resource], diags: Collector, *, strict: bool, namespace: str | None, texts: dict | None = None, name: str = "<resources>") -> None:
    templates = workloads.pod_templates(resources, namespace)
    if templates:
        workloads.check(paths, texts or {}, result.program, templates, diags, strict=strict)
    ours = {policy_id(p) for p in result.policies}
    for r in resources:
        pid = policy_id(r.obj)
        if pid is None or pid in ours:
            continue
        ns = pid[0] or namespace
        if ns is None or ns in result.program.managed:
            where = f"namespace {ns}" if ns else "the release namespace"
            (diags.error if strict else diags.warning)(
                Span(name, max(r.line, 1), 1),
                "SEG167",
                f"NetworkPolicy {pid[1]} in {where} is not segc's; the program manages {', '.join(sorted(result.program.managed))}, and this policy can allow more than the program says",
                "move its rules into the .seg program, or remove it",
            )


def absolute_names(diags: list[Diagnostic], texts: dict[str, str], root: str) -> tuple[list[Diagnostic], dict[str, str]]:
    """Diagnostics and sources with relative file names made absolute from
    ``root``: a plugin runs in a directory the user did not choose, so a
    relative name would be ambiguous."""

    def fix(name: str) -> str:
        if name.startswith("<") or os.path.isabs(name):
            return name
        return os.path.normpath(os.path.join(root, name))

    out = []
    for d in diags:
        span = type(d.span)(fix(d.span.file), d.span.line, d.span.column, d.span.end_line, d.span.end_column)
        out.append(Diagnostic(span, d.severity, d.code, d.message, d.notes))
    return out, {fix(k): v for k, v in texts.items()}
