"""`segc fmt`: one canonical layout for .seg text, like gofmt or black.

The layout is computed from lark's parse tree of each line (the same grammar
the compiler uses, with every token kept), so it follows the lexer exactly:

* statements are their parts separated by one space; inside an endpoint
  there are no spaces (``data/postgres:5432``, ``{tier=api, env!=dev}``);
* label expressions are sorted (by key, then operator, then values) and
  de-duplicated; ``==`` is written ``=``; values of ``in``/``notin`` are sorted;
* port lists are sorted (TCP, UDP, SCTP; numbers before names) and
  de-duplicated; TCP is never written, and when a list has another protocol
  every item says its own (``53/tcp,53/udp``), so no item depends on the
  "protocol of the last item" rule;
* ``except`` lists are sorted; address blocks are written as Python's
  ``ipaddress`` prints them (IPv6 compressed and lower case);
* within a paragraph (lines between blank lines) the ``->`` of every
  statement that has one is aligned, and so is the ``=`` of every group,
  except on lines whose part before it is longer than 40 characters (one
  space there); trailing comments start two spaces after the longest
  statement of the paragraph that carries one, ignoring statements longer
  than 60 characters (their comment follows two spaces after them);
* at most one blank line in a row, none at the start or end; comments are
  kept verbatim (trailing spaces removed), own-line ones at column 1 above
  the statement they precede; the file ends with one newline.

A statement kind this module does not know in detail (a grammar rule added
later) is laid out as its tokens separated by single spaces, which the lexer
reads back as the same tokens. Every result is checked before it is returned:
it must parse to the same statements (spans aside), keep every comment, and
format to itself; otherwise ``FormatError`` is raised and nothing is written.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput

from .diagnostics import Collector, Diagnostic
from .ir import Span
from .parser import parse_text

_PROTO_RANK = {"tcp": 0, "udp": 1, "sctp": 2}


class FormatError(Exception):
    """The text cannot be formatted; ``diagnostics`` say where and why."""

    def __init__(self, diagnostics: list[Diagnostic]):
        super().__init__("; ".join(d.message for d in diagnostics))
        self.diagnostics = diagnostics


@lru_cache(maxsize=1)
def _tree_parser() -> Lark:
    grammar = resources.files("segc.grammar").joinpath("seg.lark").read_text(encoding="utf-8")
    # keep_all_tokens: punctuation ("->", ":", "{") stays in the tree, so a
    # statement kind without a printer below can still be laid out token by token.
    return Lark(grammar, parser="lalr", lexer="contextual", keep_all_tokens=True, maybe_placeholders=False, cache=True)


# ----------------------------------------------------------------- printers


def _tokens(node) -> list[Token]:
    if isinstance(node, Token):
        return [] if node.type == "_NL" else [node]
    return [t for c in node.children for t in _tokens(c)]


def _cidr(text: str) -> str:
    return str(ipaddress.ip_network(text, strict=True))


def _unquote(tok: Token) -> str:
    s = str(tok)
    return s[1:-1] if tok.type == "STRING" else s


def _requirement(node: Tree) -> tuple[tuple, str]:
    """(sort key, text) of one label requirement."""
    kind = node.data
    toks = [c for c in node.children if isinstance(c, Token)]
    if kind == "req_absent":
        key = str(toks[-1])
        return (key, "DoesNotExist", ()), f"!{key}"
    key = str(toks[0])
    if kind == "req_exists":
        return (key, "Exists", ()), key
    if kind in ("req_eq", "req_ne"):
        value = toks[-1]
        op, sym = ("In", "=") if kind == "req_eq" else ("NotIn", "!=")
        return (key, op, (_unquote(value),)), f"{key}{sym}{value}"
    if kind in ("req_in", "req_notin"):
        (vlist,) = [c for c in node.children if isinstance(c, Tree)]
        values: dict[str, str] = {}
        for t in _tokens(vlist):
            if t.type in ("LABEL_KEY", "STRING"):
                values.setdefault(_unquote(t), str(t))
        ordered = sorted(values)
        word = "in" if kind == "req_in" else "notin"
        op = "In" if kind == "req_in" else "NotIn"
        return (key, op, tuple(ordered)), f"{key} {word} ({', '.join(values[v] for v in ordered)})"
    return (key, kind, ()), " ".join(map(str, _tokens(node)))


def _selector(node: Tree) -> str:
    reqs: dict[tuple, str] = {}
    for c in node.children:
        if isinstance(c, Tree):
            k, text = _requirement(c)
            reqs.setdefault(k, text)
    return "{" + ", ".join(reqs[k] for k in sorted(reqs)) + "}"


def _port_list(node: Tree) -> str:
    items = []
    for item in node.children:
        if not isinstance(item, Tree):
            continue
        toks = _tokens(item)
        proto = str(toks[2]).lower() if len(toks) >= 3 else None
        items.append((str(toks[0]), proto))
    last = items[-1][1] or "tcp"
    ports = set()
    for spec, proto in items:
        proto = proto or last
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", spec)
        if m:
            lo = int(m.group(1))
            hi = int(m.group(2)) if m.group(2) else lo
            ports.add((_PROTO_RANK.get(proto, 9), proto, 0, lo, hi, ""))
        else:
            ports.add((_PROTO_RANK.get(proto, 9), proto, 1, 0, 0, spec))
    explicit = any(p[1] != "tcp" for p in ports)
    out = []
    for _, proto, _, lo, hi, name in sorted(ports):
        text = name or (str(lo) if lo == hi else f"{lo}-{hi}")
        out.append(f"{text}/{proto}" if explicit else text)
    return ",".join(out)


def _address_block(node: Tree) -> str:
    cidrs = [t for t in _tokens(node) if t.type == "CIDR"]
    head = _cidr(str(cidrs[0]))
    holes = sorted({ipaddress.ip_network(str(t)) for t in cidrs[1:]})
    return head + (" except " + ", ".join(map(str, holes)) if holes else "")


def _node(node) -> str:
    """The canonical text of a node below the statement level."""
    if isinstance(node, Token):
        return _cidr(str(node)) if node.type == "CIDR" else str(node)
    kind = node.data
    if kind == "selector":
        return _selector(node)
    if kind == "port_list":
        return _port_list(node)
    if kind == "address_block":
        return _address_block(node)
    if kind in ("target", "qualified"):
        # endpoint ':' ports, ns '/' pods: no spaces.
        return "".join(_node(c) for c in node.children)
    # local, ns_name, pod_any, ... and anything unknown: parts separated by spaces.
    return " ".join(_node(c) for c in node.children if not (isinstance(c, Token) and c.type == "_NL"))


@dataclass
class _Line:
    """One line of the output before alignment."""

    head: str = ""  # the statement before its anchor (or all of it)
    anchor: str = ""  # "->" or "=" when the statement has one to align
    tail: str = ""
    comment: str = ""
    kind: str = ""  # statement rule name; "" for a comment-only line

    def code(self, width: int = 0) -> str:
        if not self.anchor:
            return self.head
        return f"{self.head.ljust(width)} {self.anchor} {self.tail}"


def _statement_line(stmt: Tree) -> _Line:
    parts: list[str] = []
    anchor_at, anchor = -1, ""
    for c in stmt.children:
        if isinstance(c, Token) and c.type == "_NL":
            continue
        if anchor_at < 0 and isinstance(c, Token) and str(c) in ("->", "="):
            anchor_at, anchor = len(parts), str(c)
            continue
        parts.append(_node(c))
    if anchor_at < 0:
        return _Line(" ".join(parts), kind=stmt.data)
    return _Line(" ".join(parts[:anchor_at]), anchor, " ".join(parts[anchor_at:]), kind=stmt.data)


def _parse_line(line: str, file: str, number: int) -> _Line | None:
    """A line's statement and comment; None for a blank line."""
    if not line.strip():
        return None
    try:
        tree = _tree_parser().parse(line + "\n")
    except UnexpectedInput as e:  # the whole-file parse succeeded, so this is a bug
        raise FormatError([Diagnostic(Span(file, number, getattr(e, "column", 1) or 1), "error", "SEG001", "segc fmt could not parse this line")]) from None
    stmts = [c for c in tree.children if isinstance(c, Tree)]
    toks = [t for s in stmts for t in _tokens(s)]
    end = max((t.end_pos for t in toks), default=0)
    comment = line[end:].strip()
    if comment and not comment.startswith("#"):  # pragma: no cover - the grammar ignores only comments
        raise FormatError([Diagnostic(Span(file, number, end + 1), "error", "SEG001", "segc fmt found text it cannot place")])
    out = _statement_line(stmts[0]) if stmts else _Line()
    out.comment = comment
    return out


# Longer heads and statements are left out of alignment, so that one long
# line does not push every other line of its paragraph far to the right.
MAX_ALIGNED_HEAD = 40
MAX_ALIGNED_CODE = 60


def _layout(paragraph: list[_Line]) -> list[str]:
    widths: dict[str, int] = {}
    for ln in paragraph:
        if ln.anchor and len(ln.head) <= MAX_ALIGNED_HEAD:
            key = "->" if ln.anchor == "->" else ln.kind
            widths[key] = max(widths.get(key, 0), len(ln.head))
    codes = []
    for ln in paragraph:
        key = "->" if ln.anchor == "->" else ln.kind
        codes.append(ln.code(widths.get(key, 0) if len(ln.head) <= MAX_ALIGNED_HEAD else 0))
    comment_col = max((len(c) for c, ln in zip(codes, paragraph) if ln.comment and c and len(c) <= MAX_ALIGNED_CODE), default=0)
    out = []
    for code, ln in zip(codes, paragraph):
        if not code:
            out.append(ln.comment)
        elif ln.comment:
            out.append(f"{code.ljust(comment_col)}  {ln.comment}")
        else:
            out.append(code)
    return out


def _comments(text: str) -> list[str]:
    """Every comment, in order (a '#' inside a quoted string is not one)."""
    out = []
    for line in text.split("\n"):
        in_string = False
        for i, ch in enumerate(line):
            if ch == '"':
                in_string = not in_string
            elif ch == "#" and not in_string:
                out.append(line[i:].rstrip())
                break
    return out


def _format(text: str, file: str) -> str:
    paragraphs: list[list[_Line]] = [[]]
    for number, raw in enumerate(text.split("\n"), start=1):
        ln = _parse_line(raw.rstrip("\r"), file, number)
        if ln is None:
            if paragraphs[-1]:
                paragraphs.append([])
        else:
            paragraphs[-1].append(ln)
    blocks = ["\n".join(_layout(p)) for p in paragraphs if p]
    return "\n\n".join(blocks) + "\n" if blocks else ""


def _statements(text: str, file: str):
    diags = Collector()
    stmts = parse_text(text, file, diags)
    return stmts, diags


def format_text(text: str, file: str = "<stdin>") -> str:
    """The canonical layout of ``text``. Raises ``FormatError`` (with the
    parser's diagnostics) when the text has errors, and refuses (also with
    ``FormatError``) rather than return a text that means something else."""
    before, diags = _statements(text, file)
    if diags.has_errors:
        raise FormatError([d for d in diags.items if d.severity == "error"])
    out = _format(text, file)
    after, diags2 = _statements(out, file)
    problem = None
    if diags2.has_errors or after != before:
        problem = "the formatted text would mean something else"
    elif _comments(out) != [c for c in _comments(text)]:
        problem = "the formatted text would lose or change a comment"
    elif _format(out, file) != out:
        problem = "the layout is not stable"
    if problem:
        raise FormatError([Diagnostic(Span(file, 1, 1), "error", "SEG001", f"segc fmt refuses to format this file: {problem} (a bug in segc fmt; please report it)")])
    return out
