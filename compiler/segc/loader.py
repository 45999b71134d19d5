"""Files to syntax IR: reads the standard library and the user's files, follows
``import "relative.seg"`` with cycle detection, and keeps every source text for
diagnostics. A file imported twice (diamond) is loaded once.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field
from importlib import resources

from . import ir
from .diagnostics import Collector
from .ir import Span
from .parser import parse_text


@dataclass
class Sources:
    """Everything read for one compilation, in load order."""

    files: list[ir.SourceFile] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)


def _stdlib_files() -> list[tuple[str, str]]:
    root = resources.files("segc.stdlib")
    out = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".seg"):
            out.append((f"<stdlib>/{entry.name}", entry.read_text(encoding="utf-8")))
    return out


def load(paths: list[str], diags: Collector, texts: dict[str, str] | None = None) -> Sources:
    """Load the stdlib, then each path (and what it imports) once.

    ``texts`` maps a path to its contents (str, or bytes to decode as UTF-8)
    when it does not come from disk (``-`` for standard input, or a file at a
    git revision).
    """
    sources = Sources()
    for name, text in _stdlib_files():
        sources.texts[name] = text
        sources.files.append(ir.SourceFile(name, parse_text(text, name, diags), stdlib=True))
    seen: set[str] = set()
    for path in paths:
        _load_one(path, None, (), sources, seen, diags, texts or {})
    return sources


def _display(path: str) -> str:
    rel = os.path.relpath(path)
    return path if rel.startswith("..") and os.path.isabs(path) else rel


def _load_one(path, origin: Span | None, chain: tuple[str, ...], sources: Sources, seen: set[str], diags: Collector, texts) -> None:
    if "\0" in path:  # os.path and open() raise ValueError on it
        diags.error(origin or Span(path, 1, 1), "SEG051", f"cannot read {path!r}: a file name cannot contain a NUL character")
        return
    key = path if path in texts else os.path.realpath(path)
    if key in chain:
        cycle = " -> ".join(_display(p) for p in (*chain[chain.index(key):], key))
        diags.error(origin or Span(path, 1, 1), "SEG050", f"import cycle: {cycle}")
        return
    if key in seen:
        return
    seen.add(key)
    name = path if path in texts else _display(path)
    if path in texts:
        data = texts[path]
    else:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as e:
            where = origin or Span(name, 1, 1)
            diags.error(where, "SEG051", f"cannot read {name}: {e.strerror or e}")
            return
    if isinstance(data, str):
        text = data
    else:
        try:
            # utf-8-sig: a byte order mark (some Windows editors write one) is not text.
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            _not_utf8(name, data, e, origin, sources, diags)
            return
    sources.texts[name] = text
    statements = parse_text(text, name, diags)
    sources.files.append(ir.SourceFile(name, statements))
    base = os.path.dirname(path) if path not in texts else os.getcwd()
    for st in statements:
        if isinstance(st, ir.ImportStmt):
            target = os.path.normpath(os.path.join(base, st.path))
            if path in texts and ":" in path:
                # `REV:dir/app.seg` (a file at a git revision, `segc diff`): imports
                # resolve at the same revision, relative to the file.
                rev, _, inner = path.partition(":")
                target = rev + ":" + posixpath.normpath(posixpath.join(posixpath.dirname(inner), st.path))
            _load_one(target, st.span, (*chain, key), sources, seen, diags, texts)


def _not_utf8(name: str, data: bytes, err: UnicodeDecodeError, origin: Span | None, sources: Sources, diags: Collector) -> None:
    """Point at the first byte that is not UTF-8, by line and column (in characters)."""
    data = err.object  # without the byte order mark, which err.start does not count
    line_start = data.rfind(b"\n", 0, err.start) + 1
    line = data.count(b"\n", 0, err.start) + 1
    column = len(data[line_start : err.start].decode("utf-8", errors="replace")) + 1
    sources.texts[name] = data.decode("utf-8", errors="replace")
    notes = (f"imported at {origin}",) if origin else ()
    diags.error(Span(name, line, column), "SEG051", f"{name} is not UTF-8 text: byte 0x{data[err.start]:02x} here cannot be decoded", "save the file as UTF-8", *notes)
