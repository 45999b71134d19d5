"""Silencing warnings: ``# segc: ignore[CODE,...]`` comments and project config.

* A comment ``# segc: ignore[SEG103]`` (or ``ignore[SEG103, SEG104]``) at the
  end of a statement's line, or in the comment lines directly above it (no
  blank line between), silences those codes for that statement.
* ``ignore = ["SEG105"]`` in a ``.segc.toml``, or in the ``[tool.segc]``
  table of a ``pyproject.toml``, silences codes for the whole project. The
  file is found by walking up from the directory of the first input file
  (the current directory for standard input); the nearest directory with a
  ``.segc.toml``, or a ``pyproject.toml`` that has ``[tool.segc]``, wins.

Only warnings are ever silenced; errors always show.
"""

from __future__ import annotations

import os
import re
import tomllib
from typing import Iterable

from ..diagnostics import WARNING, Diagnostic

_DIRECTIVE = re.compile(r"#.*?\bsegc:\s*ignore\[([^\]]*)\]")
_CODE = re.compile(r"SEG\d{3}")


class ConfigError(ValueError):
    """A project configuration file segc cannot use; the message says which and why."""


def _comment(line: str) -> str:
    """The comment part of a line ('#' inside a quoted string does not start one)."""
    in_string = False
    for i, ch in enumerate(line):
        if ch == '"':
            in_string = not in_string
        elif ch == "#" and not in_string:
            return line[i:]
    return ""


def _codes(comment: str) -> set[str]:
    out: set[str] = set()
    for m in _DIRECTIVE.finditer(comment):
        out |= {c.strip().upper() for c in m.group(1).split(",") if c.strip()}
    return out


def line_ignores(text: str, line: int) -> set[str]:
    """Codes silenced for a statement on ``line`` (1-based) of ``text``."""
    lines = text.split("\n")
    codes: set[str] = set()
    if 1 <= line <= len(lines):
        codes |= _codes(_comment(lines[line - 1]))
    # The comment lines directly above belong to the statement (as in `segc fmt`).
    i = line - 2
    while 0 <= i < len(lines) and lines[i].lstrip().startswith("#"):
        codes |= _codes(lines[i])
        i -= 1
    return codes


def filter_ignored(diags: Iterable[Diagnostic], texts: dict[str, str], ignore: frozenset[str] = frozenset()) -> list[Diagnostic]:
    """``diags`` without the warnings silenced by comments or by ``ignore``."""
    out = []
    for d in diags:
        if d.severity == WARNING:
            if d.code in ignore:
                continue
            text = texts.get(d.span.file)
            if text is not None and d.code in line_ignores(text, d.span.line):
                continue
        out.append(d)
    return out


def _read(path: str, table: bool) -> list[str] | None:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    if table:
        tool = data.get("tool")
        if not isinstance(tool, dict) or "segc" not in tool:
            return None
        data = tool["segc"]
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: [tool.segc] must be a table")
    codes = data.get("ignore", [])
    where = "[tool.segc] ignore" if table else "ignore"
    if not isinstance(codes, list) or not all(isinstance(c, str) and _CODE.fullmatch(c.strip().upper()) for c in codes):
        raise ConfigError(f'{path}: {where} must be a list of codes such as ["SEG103", "SEG105"]')
    return [c.strip().upper() for c in codes]


def project_ignores(paths: list[str]) -> frozenset[str]:
    """The project-wide ignore list for a program whose first input is ``paths[0]``."""
    first = next((p for p in paths if not p.startswith("<")), None)
    start = os.path.dirname(os.path.abspath(first)) if first else os.getcwd()
    here = start
    while True:
        dot = os.path.join(here, ".segc.toml")
        if os.path.isfile(dot):
            return frozenset(_read(dot, table=False) or ())
        py = os.path.join(here, "pyproject.toml")
        if os.path.isfile(py):
            found = _read(py, table=True)
            if found is not None:
                return frozenset(found)
        parent = os.path.dirname(here)
        if parent == here:
            return frozenset()
        here = parent
