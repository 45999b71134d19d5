"""The pipeline, listed in one place: load -> resolve -> plan -> optimize -> render.

Each stage adds diagnostics to one collector; a stage that finds errors stops
the pipeline there (later stages would only report consequences).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from . import ir
from .backend.deny import Cost as DenyCost
from .backend.deny import eliminate as eliminate_denies
from .backend.plan import plan
from .backend.render import render
from .optimize import Stats, canonical
from .diagnostics import Collector, Diagnostic
from .gcpause import gc_paused
from .loader import load
from .optimize import optimize as run_optimizer
from .resolve import resolve

DEFAULT_K8S_VERSION = (1, 30)


@dataclass
class Result:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    program: ir.Program | None = None
    policies: list[dict] | None = None

    @property
    def ok(self) -> bool:
        return self.policies is not None and not any(d.severity == "error" for d in self.diagnostics)


def resolve_paths(paths: list[str], texts: dict[str, str] | None = None) -> Result:
    """Load and resolve: the program's meaning, without the backend."""
    with gc_paused():
        return _resolve_paths(paths, texts)


def _resolve_paths(paths: list[str], texts: dict[str, str] | None) -> Result:
    diags = Collector()
    result = Result(diagnostics=diags.items)
    sources = load(paths, diags, texts)
    result.texts = sources.texts
    if diags.has_errors:
        return result
    program = resolve(sources.files, diags)
    if not diags.has_errors:
        result.program = program
    return result


def compile_paths(
    paths: list[str],
    texts: dict[str, str] | None = None,
    *,
    optimize: bool = True,
    k8s_version: tuple[int, int] = DEFAULT_K8S_VERSION,
    stats: Stats | None = None,
) -> Result:
    with gc_paused():
        return _compile_paths(paths, texts, optimize, k8s_version, stats)


def _compile_paths(paths, texts, optimize, k8s_version, stats) -> Result:
    result = _resolve_paths(paths, texts)
    if result.program is None:
        return result
    diags = Collector()
    diags.items = result.diagnostics
    namer = _source_namer(paths, texts or {})
    naive = plan(result.program, diags, namer, k8s_version)
    if diags.has_errors:
        return result
    denies = result.program.denies
    cost = DenyCost()
    if denies:
        before = naive
        # Canonical order in, so which refusal a deny meets first never
        # depends on statement order.
        naive = eliminate_denies(canonical(naive), denies, result.program.managed, diags, lambda d: f"{namer(d.span.file)}: {d.text or d.to_seg()}", k8s_version, cost)
        if diags.has_errors:
            return result
    if stats is not None:
        stats.statements = len(result.program.allows) + len(result.program.deny_alls) + len(denies)
        stats.naive = naive
        if denies:
            stats.before_denies, stats.deny_cost = before, cost
    policies = run_optimizer(naive, k8s_version, stats) if optimize else canonical(naive)
    if stats is not None:
        stats.optimized = policies
    result.policies = render(policies)
    return result


def _source_namer(paths: list[str], texts: dict[str, str]):
    """Annotations name files relative to the first input's folder, so the
    output does not depend on the directory segc was run from."""
    if not paths or paths[0] in texts:
        return lambda f: f
    base = os.path.dirname(os.path.abspath(paths[0]))
    names: dict[str, str] = {}  # one relpath per file, not per statement

    def name(f: str) -> str:
        if f.startswith("<") or f in texts:
            return f
        out = names.get(f)
        if out is None:
            out = names[f] = os.path.relpath(os.path.abspath(f), base).replace(os.sep, "/")
        return out

    return name
