"""SEG106: a group (or service) that no statement uses.

A bare name refers to a group; ``NS/NAME`` never does (it is a label there),
so only bare names count as uses. Any statement kind counts, including ones
this module does not know: it walks every field of every statement. A group
used only by another unused group counts as used.
"""

from __future__ import annotations

import dataclasses
import re

from .. import ir
from ..diagnostics import WARNING, Diagnostic


def _names(node, out: set[str]) -> None:
    if isinstance(node, ir.NameRef):
        out.add(node.name)
    elif isinstance(node, ir.Qualified):
        return  # NS/NAME: the name is a label
    elif isinstance(node, (tuple, list)):
        for x in node:
            _names(x, out)
    elif dataclasses.is_dataclass(node) and not isinstance(node, type):
        for f in dataclasses.fields(node):
            _names(getattr(node, f.name), out)


_DEFINES = re.compile(r"^[ \t]*(group|service)[ \t]", re.MULTILINE)


def run(ctx) -> list[Diagnostic]:
    if not any(_DEFINES.search(text) for name, text in ctx.texts.items() if not name.startswith("<stdlib>")):
        return []  # no group to report: skip parsing every file again
    used: set[str] = set()
    groups: list[ir.GroupStmt] = []
    for _file, stmts in ctx.statements:
        for st in stmts:
            if isinstance(st, ir.GroupStmt):
                groups.append(st)
                _names(st.target, used)
            else:
                _names(st, used)
    return [
        Diagnostic(
            g.span,
            WARNING,
            "SEG106",
            f"group {g.name!r} is defined but never used",
            ("remove it, or use it by its bare name (after a '/', a name is a label, not a group)",),
        )
        for g in groups
        if g.name not in used
    ]
