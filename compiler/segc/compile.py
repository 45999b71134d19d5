"""The pipeline, listed in one place: load -> resolve -> plan -> render.

Each stage adds diagnostics to one collector; a stage that finds errors stops
the pipeline there (later stages would only report consequences).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import ir
from .backend.plan import plan
from .backend.render import render
from .diagnostics import Collector, Diagnostic
from .loader import load
from .resolve import resolve


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


def compile_paths(paths: list[str], texts: dict[str, str] | None = None) -> Result:
    result = resolve_paths(paths, texts)
    if result.program is None:
        return result
    diags = Collector()
    diags.items = result.diagnostics
    policy_plan = plan(result.program, diags)
    if not diags.has_errors:
        result.policies = render(policy_plan)
    return result
