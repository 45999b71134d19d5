"""Every ```seg snippet in docs/*.md compiles; every ```seg-error snippet fails.

Fence info strings:

* ``seg`` -- must compile with no error (warnings are fine: some snippets
  show what a warning looks like);
* ``seg file=NAME`` -- the same, and the block is also saved as NAME next to
  the later snippets of the same page, so they can ``import "NAME"``;
* ``seg-error`` -- must produce at least one error;
* ``seg-error SEG041`` -- must produce an error with that code.

Each snippet is compiled from a file in a temporary directory of its own page
(imports resolve there), exactly as ``segc build`` would read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from segc.compile import compile_paths

DOCS = Path(__file__).resolve().parents[1] / "docs"

_FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)


@dataclass(frozen=True)
class Snippet:
    page: str
    line: int
    kind: str  # "seg" or "seg-error"
    file: str | None  # file=NAME
    code: str | None  # expected error code for seg-error
    text: str

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def _dedent(body: str, indent: str) -> str:
    lines = body.splitlines(keepends=True)
    return "".join(line[len(indent):] if line.startswith(indent) else line for line in lines)


def snippets() -> list[Snippet]:
    out = []
    for page in sorted(DOCS.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        for m in _FENCE.finditer(text):
            words = m.group("info").split()
            if not words or words[0] not in ("seg", "seg-error"):
                continue
            file = next((w.partition("=")[2] for w in words[1:] if w.startswith("file=")), None)
            code = next((w for w in words[1:] if re.fullmatch(r"SEG\d+", w)), None)
            line = text.count("\n", 0, m.start()) + 1
            out.append(Snippet(page.name, line, words[0], file, code, _dedent(m.group("body"), m.group("indent"))))
    return out


SNIPPETS = snippets()


def _describe(result) -> str:
    return "\n".join(f"  {d.span}: {d.severity}: {d.message} [{d.code}]" for d in result.diagnostics) or "  (no diagnostics)"


@pytest.fixture(scope="module")
def page_dirs(tmp_path_factory):
    """One directory per page, holding every ``file=`` block of that page."""
    dirs = {}
    for s in SNIPPETS:
        d = dirs.get(s.page)
        if d is None:
            d = dirs[s.page] = tmp_path_factory.mktemp(s.page.replace(".", "-"))
        if s.file:
            target = d / s.file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(s.text, encoding="utf-8")
    return dirs


def test_the_docs_have_snippets():
    pages = {s.page for s in SNIPPETS}
    assert "language.md" in pages
    assert any(s.kind == "seg-error" for s in SNIPPETS)


@pytest.mark.parametrize("snippet", SNIPPETS, ids=lambda s: s.id)
def test_snippet(snippet: Snippet, page_dirs, monkeypatch):
    d = page_dirs[snippet.page]
    monkeypatch.chdir(d)
    name = snippet.file or f"snippet-line-{snippet.line}.seg"
    path = d / name
    if not snippet.file:
        path.write_text(snippet.text, encoding="utf-8")
    result = compile_paths([str(path)])
    errors = [x for x in result.diagnostics if x.severity == "error"]
    where = f"docs/{snippet.page}, the ```{snippet.kind} block at line {snippet.line}"
    if snippet.kind == "seg":
        assert not errors and result.ok, f"{where} does not compile:\n{_describe(result)}\n{snippet.text}"
    else:
        assert errors, f"{where} should fail but compiles:\n{snippet.text}"
        if snippet.code:
            assert snippet.code in {x.code for x in errors}, f"{where} should fail with {snippet.code}:\n{_describe(result)}"
