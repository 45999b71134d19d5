"""Lint: warnings about programs that compile but are probably not what was meant.

One entry point, ``lint(result, cluster=None)``, used by ``segc check``,
``segc build`` and any tool that has a compiled ``Result``. The rules are
listed in ``RULES`` below, in the order they run; each is a pure function
``rule(ctx) -> Iterable[Diagnostic]`` in its own module. Codes are stable and
documented in docs/lint.md:

=======  ==============================================================
SEG100   a statement with no effect (reported by the planner, not here)
SEG101   an allow fully covered by another allow (says which one)
SEG102   an egress-isolated namespace with no DNS allowed
SEG103   any source to a database port
SEG104   egress to 0.0.0.0/0 or ::/0
SEG105   a ``*/*`` source (every pod of every namespace)
SEG106   a group defined and never used
SEG107   an endpoint that matches no pod of ``--cluster`` (did you mean ...?)
SEG108   an address block that covers pod IPs of ``--cluster``
SEG109   statements whose policies want the same name
=======  ==============================================================

Warnings can be silenced per statement (``# segc: ignore[SEG103]`` on the
statement's line or in the comment lines directly above it) and per project
(``ignore = [...]`` in ``.segc.toml``, or under ``[tool.segc]`` in
``pyproject.toml``); see ``segc.lint.ignore``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Iterable

from .. import ir
from ..cluster import Cluster
from ..diagnostics import Collector, Diagnostic
from ..gcpause import gc_paused
from ..parser import parse_text
from .ignore import ConfigError, filter_ignored, project_ignores

STDLIB_PREFIX = "<stdlib>"


@dataclass
class Context:
    """What every rule may read: the resolved program, the user's syntax, the cluster."""

    program: ir.Program
    texts: dict[str, str]
    cluster: Cluster | None = None

    @property
    def allows(self) -> list[ir.Allow]:
        """The user's allows (the standard library defines names only)."""
        return [a for a in self.program.allows if not a.span.file.startswith(STDLIB_PREFIX)]

    @cached_property
    def statements(self) -> list[tuple[str, tuple]]:
        """Syntax statements of every user file, re-parsed from the kept texts."""
        out = []
        for name, text in self.texts.items():
            if name.startswith(STDLIB_PREFIX):
                continue
            out.append((name, parse_text(text, name, Collector())))
        return out


Rule = Callable[[Context], Iterable[Diagnostic]]


def _rules() -> tuple[tuple[str, Rule], ...]:
    from . import broad, cluster_names, covered, dns, policy_names, unused_groups

    # Independent rules; the order only decides the order of equal-position output.
    return (
        ("covered", covered.run),
        ("dns", dns.run),
        ("broad", broad.run),
        ("unused-groups", unused_groups.run),
        ("cluster-names", cluster_names.run),
        ("policy-names", policy_names.run),
    )


def lint(result, cluster: Cluster | None = None, *, ignore: Iterable[str] | None = None) -> list[Diagnostic]:
    """The lint warnings of a compiled ``segc.compile.Result``, sorted.

    ``cluster`` enables the rules that compare names and address blocks with a
    real cluster (SEG107, SEG108). Warnings silenced by a ``# segc: ignore[...]``
    comment are left out, and so are the codes in ``ignore`` (pass
    ``project_ignores(paths)`` for the project's configuration; None means no
    project-wide ignores). Returns [] when the program did not resolve.
    Never prints, never raises on a program that resolved.
    """
    if result.program is None:
        return []
    ctx = Context(result.program, result.texts, cluster)
    found: list[Diagnostic] = []
    with gc_paused():  # many small objects, no cycles (see segc.gcpause)
        for _name, rule in _rules():
            found.extend(rule(ctx))
        return sorted(set(filter_ignored(found, result.texts, frozenset(ignore or ()))))


__all__ = ["lint", "filter_ignored", "project_ignores", "ConfigError", "Context"]
