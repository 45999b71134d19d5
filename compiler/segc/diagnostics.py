"""One diagnostic type for every stage; only the CLI renders and picks exit codes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .ir import Span

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True, order=True)
class Diagnostic:
    span: Span
    severity: str
    code: str
    message: str
    notes: tuple[str, ...] = field(default=(), compare=False)

    def to_dict(self) -> dict:
        return {
            "file": self.span.file,
            "line": self.span.line,
            "column": self.span.column,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "notes": list(self.notes),
        }


class CompileError(Exception):
    """Raised by a stage that cannot go on; carries every diagnostic found so far."""

    def __init__(self, diagnostics: list[Diagnostic]):
        super().__init__("; ".join(d.message for d in diagnostics))
        self.diagnostics = sorted(diagnostics)


class Collector:
    """Collects diagnostics of one stage; ``raise_if_errors`` stops the pipeline."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def error(self, span: Span, code: str, message: str, *notes: str) -> None:
        self.items.append(Diagnostic(span, ERROR, code, message, tuple(notes)))

    def warning(self, span: Span, code: str, message: str, *notes: str) -> None:
        self.items.append(Diagnostic(span, WARNING, code, message, tuple(notes)))

    @property
    def has_errors(self) -> bool:
        return any(d.severity == ERROR for d in self.items)

    def raise_if_errors(self) -> None:
        if self.has_errors:
            raise CompileError(self.items)


def render_text(diags: list[Diagnostic], sources: dict[str, str]) -> str:
    """``FILE:LINE:COL: severity: message`` plus the source line and a caret."""
    out = []
    for d in _unique(diags):
        out.append(f"{d.span}: {d.severity}: {d.message} [{d.code}]")
        text = sources.get(d.span.file)
        if text is not None and d.span.line >= 1:
            # "\n" only, as the parser counts lines (splitlines() also splits on "\f", "\u2028"...).
            lines = text.split("\n")
            if d.span.line <= len(lines):
                line = lines[d.span.line - 1].rstrip("\r").expandtabs(1)
                out.append("    " + line)
                width = 1
                if d.span.end_line == d.span.line and d.span.end_column > d.span.column:
                    width = d.span.end_column - d.span.column
                out.append("    " + " " * (d.span.column - 1) + "^" * width)
        for note in d.notes:
            out.append(f"    note: {note}")
    return "\n".join(out)


def _unique(diags: list[Diagnostic]) -> list[Diagnostic]:
    """Sorted, each diagnostic once (a stage may reach the same problem twice)."""
    return sorted(set(diags))


def render_json(diags: list[Diagnostic]) -> str:
    return json.dumps([d.to_dict() for d in _unique(diags)], indent=2)
