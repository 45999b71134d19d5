"""Text to syntax IR: lark's LALR parser plus a transformer that checks tokens.

The grammar lives in ``grammar/seg.lark`` (shipped in the wheel as
``segc/grammar/seg.lark``). Every check that needs only one token (label key
syntax, CIDR host bits, port bounds, protocol names) happens here, so each
error points at the token; everything that needs the whole program (names,
groups, namespaces) is the resolver's.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from importlib import resources

from lark import Lark, Token, Transformer, UnexpectedCharacters, UnexpectedInput, UnexpectedToken, v_args
from lark.exceptions import VisitError

from . import ir
from .diagnostics import Collector
from .ir import Span

PROTOCOLS = {"tcp": ir.TCP, "udp": ir.UDP, "sctp": ir.SCTP}


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = resources.files("segc.grammar").joinpath("seg.lark").read_text(encoding="utf-8")
    # cache=True stores the LALR tables in the temp dir, keyed by grammar hash:
    # `segc check` runs on every commit and must start fast.
    return Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=False,
        cache=True,
    )


# ----------------------------------------------------------- token checkers

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_PORT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def label_key_problem(key: str) -> str | None:
    """Why ``key`` is not a valid Kubernetes label key, or None."""
    prefix, _, name = key.rpartition("/")
    if "/" in prefix:
        return f"label key {key!r} has more than one '/'"
    if prefix:
        if len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix):
            return f"label key prefix {prefix!r} must be a lowercase DNS subdomain (at most 253 characters)"
    if not name:
        return f"label key {key!r} has an empty name part"
    if len(name) > 63:
        return f"label key name {name!r} is {len(name)} characters long; the limit is 63"
    if not _LABEL_NAME.match(name):
        return f"label key {key!r} must start and end with a letter or digit and contain only letters, digits, '-', '_' and '.'"
    return None


def label_value_problem(value: str) -> str | None:
    if value == "":
        return None
    if len(value) > 63:
        return f"label value {value!r} is {len(value)} characters long; the limit is 63"
    if not _LABEL_NAME.match(value):
        return f"label value {value!r} must start and end with a letter or digit and contain only letters, digits, '-', '_' and '.'"
    return None


def namespace_problem(name: str) -> str | None:
    if len(name) > 63:
        return f"namespace name {name!r} is {len(name)} characters long; the limit is 63"
    if not _DNS1123_LABEL.match(name):
        return f"namespace name {name!r} must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit"
    return None


def _span(tok_or_meta, file: str, line_offset: int = 0) -> Span:
    return Span(
        file,
        (getattr(tok_or_meta, "line", 0) or 0) + line_offset,
        getattr(tok_or_meta, "column", 0) or 0,
        (getattr(tok_or_meta, "end_line", 0) or 0) + line_offset,
        getattr(tok_or_meta, "end_column", 0) or 0,
    )


class _ToIR(Transformer):
    """Builds syntax IR; records token-level problems in ``diags``."""

    def __init__(self, file: str, text: str, diags: Collector, line_offset: int = 0):
        super().__init__()
        self.file = file
        self.text = text
        self.diags = diags
        self.line_offset = line_offset

    def span(self, x) -> Span:
        return _span(x, self.file, self.line_offset)

    # -- statements
    def start(self, items):
        return tuple(items)

    @v_args(meta=True)
    def namespace_stmt(self, meta, items):
        (name,) = items
        self._check_namespace(name)
        return ir.NamespaceStmt(str(name), self.span(meta))

    @v_args(meta=True)
    def deny_all_stmt(self, meta, items):
        direction, ns = None, None
        for it in items:
            if isinstance(it, Token) and it.type == "NAME":
                self._check_namespace(it)
                ns = str(it)
            else:
                direction = it
        return ir.DenyAllStmt(direction in (None, "ingress"), direction in (None, "egress"), ns, self.span(meta))

    def direction(self, items):
        return str(items[0])

    def _text(self, meta) -> str:
        raw = self.text[meta.start_pos : meta.end_pos]
        return " ".join(raw.split())

    @v_args(meta=True)
    def allow_pair(self, meta, items):
        src, dst = items
        return ir.AllowStmt(src, dst, self._text(meta), self.span(meta))

    @v_args(meta=True)
    def allow_one(self, meta, items):
        (dst,) = items
        return ir.AllowStmt(None, dst, self._text(meta), self.span(meta))

    @v_args(meta=True)
    def group_stmt(self, meta, items):
        _kw, name, target = items
        return ir.GroupStmt(str(name), target, self.span(meta))

    @v_args(meta=True)
    def import_stmt(self, meta, items):
        return ir.ImportStmt(str(items[0])[1:-1], self.span(meta))

    # -- endpoints
    @v_args(meta=True)
    def target(self, meta, items):
        ports = items[1] if len(items) > 1 else None
        return ir.Target(items[0], ports, self.span(meta))

    @v_args(meta=True)
    def address_block(self, meta, items):
        nets = [self._network(t) for t in items]
        if any(n is None for n in nets):
            return ir.Block(ipaddress.ip_network("0.0.0.0/0"), (), self.span(meta))
        net, excepts = nets[0], nets[1:]
        for tok, e in zip(items[1:], excepts):
            if e.version != net.version:
                self.diags.error(self.span(tok), "SEG011", f"except block {e} is IPv{e.version} but {net} is IPv{net.version}")
            elif not e.subnet_of(net):
                self.diags.error(self.span(tok), "SEG012", f"except block {e} is not inside {net}", "Kubernetes rejects an ipBlock whose except lies outside its cidr")
            elif e == net:
                self.diags.error(self.span(tok), "SEG012", f"except block {e} removes all of {net}")
        return ir.Block(net, tuple(sorted(set(excepts))), self.span(meta))

    def _network(self, tok):
        try:
            return ipaddress.ip_network(str(tok), strict=True)
        except ValueError as e:
            try:
                fixed = ipaddress.ip_network(str(tok), strict=False)
                self.diags.error(self.span(tok), "SEG010", f"address block {tok} has host bits set", f"did you mean {fixed}?")
            except ValueError:
                self.diags.error(self.span(tok), "SEG010", f"{tok} is not a valid address block: {e}")
            return None

    @v_args(meta=True)
    def qualified(self, meta, items):
        ns, pods = items
        return ir.Qualified(ns, pods, self.span(meta))

    def local(self, items):
        return items[0]

    def ns_name(self, items):
        (tok,) = items
        self._check_namespace(tok)
        return ir.NsByName(str(tok), self.span(tok))

    def ns_any(self, items):
        return ir.NsAny(self.span(items[0]))

    @v_args(meta=True)
    def ns_selector(self, meta, items):
        return ir.NsByLabels(items[0], self.span(meta))

    def pod_name(self, items):
        (tok,) = items
        self._check_value(tok, str(tok))
        return ir.NameRef(str(tok), self.span(tok))

    def pod_any(self, items):
        return ir.AllPods(self.span(items[0]))

    @v_args(meta=True)
    def pod_selector(self, meta, items):
        return ir.LabelPods(items[0], self.span(meta))

    # -- selectors
    def selector(self, items):
        return ir.Selector.of(items)

    def _key(self, tok) -> str:
        problem = label_key_problem(str(tok))
        if problem:
            self.diags.error(self.span(tok), "SEG020", problem)
        return str(tok)

    def _check_value(self, tok, value: str) -> None:
        problem = label_value_problem(value)
        if problem:
            self.diags.error(self.span(tok), "SEG021", problem)

    def _check_namespace(self, tok) -> None:
        problem = namespace_problem(str(tok))
        if problem:
            self.diags.error(self.span(tok), "SEG022", problem)

    def _value(self, tok) -> str:
        v = str(tok)
        if tok.type == "STRING":
            v = v[1:-1]
        self._check_value(tok, v)
        return v

    def req_eq(self, items):
        return ir.Requirement(self._key(items[0]), ir.IN, (self._value(items[1]),))

    def req_ne(self, items):
        return ir.Requirement(self._key(items[0]), ir.NOT_IN, (self._value(items[1]),))

    def req_in(self, items):
        return ir.Requirement(self._key(items[0]), ir.IN, items[1])

    def req_notin(self, items):
        return ir.Requirement(self._key(items[0]), ir.NOT_IN, items[1])

    def req_exists(self, items):
        return ir.Requirement(self._key(items[0]), ir.EXISTS)

    def req_absent(self, items):
        return ir.Requirement(self._key(items[0]), ir.DOES_NOT_EXIST)

    def value_list(self, items):
        return tuple(sorted({self._value(t) for t in items}))

    # -- ports
    def port_list(self, items):
        # An item without a protocol takes the one written on the last item,
        # else TCP: `8080,8443/tcp` and `53/udp,53/tcp` both read naturally.
        last_proto = items[-1][1] or ir.TCP
        ports = []
        for spec, proto in items:
            proto = proto or last_proto
            if isinstance(spec, str):
                ports.append(ir.Port(proto, name=spec))
            elif spec is not None:
                ports.append(ir.Port(proto, spec[0], spec[1]))
        return tuple(sorted(set(ports)))

    def port_item(self, items):
        tok = items[0]
        proto = None
        if len(items) > 1:
            p = str(items[1]).lower()
            proto = PROTOCOLS.get(p)
            if proto is None:
                self.diags.error(self.span(items[1]), "SEG032", f"unknown protocol {str(items[1])!r}", "expected tcp, udp or sctp")
        return self._port(tok), proto

    def _port(self, tok):
        text = str(tok)
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", text)
        if m:
            lo = int(m.group(1))
            hi = int(m.group(2)) if m.group(2) else lo
            for v in (lo, hi):
                if not 1 <= v <= 65535:
                    self.diags.error(self.span(tok), "SEG030", f"port {v} is outside 1-65535")
                    return None
            if hi < lo:
                self.diags.error(self.span(tok), "SEG031", f"port range {text} is reversed", f"did you mean {hi}-{lo}?")
                return None
            return (lo, hi)
        if len(text) > 15:
            self.diags.error(self.span(tok), "SEG033", f"port name {text!r} is {len(text)} characters long; Kubernetes allows at most 15")
        elif not _PORT_NAME.match(text) or not re.search("[a-z]", text) or "--" in text:
            self.diags.error(
                self.span(tok),
                "SEG033",
                f"{text!r} is neither a port number, a range like 8000-8100, nor a valid port name",
                "a port name has lowercase letters, digits and single '-', at least one letter",
            )
        return text


# ------------------------------------------------------------ syntax errors

_WORDS = {
    "NAME": "a name",
    "CIDR": "an address block such as 10.0.0.0/8",
    "STAR": "'*'",
    "LABEL_KEY": "a label key",
    "PORT": "a port (number, range or name)",
    "PROTO": "a protocol (tcp, udp or sctp)",
    "STRING": 'a quoted "string"',
    "_NL": "the end of the line",
    "INGRESS": "'ingress'",
    "EGRESS": "'egress'",
    "GROUP_KW": "'group' or 'service'",
    "$END": "the end of the file",
}


def _describe(parser: Lark, names) -> str:
    words = set()
    for n in names:
        if n in _WORDS:
            words.add(_WORDS[n])
            continue
        try:
            pat = parser.get_terminal(n).pattern
            words.add(f"'{pat.value}'" if pat.type == "str" else n.lower())
        except KeyError:
            words.add(n.lower())
    words = sorted(words)
    if len(words) <= 1:
        return "".join(words) or "something else"
    return ", ".join(words[:-1]) + " or " + words[-1]


def _syntax_error(err: UnexpectedInput, parser: Lark, file: str, diags: Collector, line: int) -> None:
    span = Span(file, line, err.column if err.column and err.column > 0 else 1)
    if isinstance(err, UnexpectedToken):
        tok = err.token
        if tok.type == "$END":
            found = "the end of the file"
        elif tok.type == "_NL":
            found = "the end of the line"
        else:
            found = repr(str(tok))
            span = Span(file, span.line, span.column, span.line, tok.end_column or span.column + 1)
        diags.error(span, "SEG001", f"unexpected {found}; expected {_describe(parser, err.expected)}")
    elif isinstance(err, UnexpectedCharacters):
        char = err.char
        expected = _describe(parser, err.allowed) if err.allowed else "a statement"
        diags.error(span, "SEG001", f"unexpected character {char!r}; expected {expected}")
    else:  # pragma: no cover - lark has no other kinds today
        diags.error(span, "SEG001", f"syntax error: {err}")


def parse_text(text: str, file: str, diags: Collector) -> tuple[ir.Statement, ...]:
    """Parse one file's text. Problems go to ``diags``; the result holds what parsed."""
    parser = _parser()
    if not text.endswith("\n"):
        text += "\n"
    try:
        tree = parser.parse(text)
    except UnexpectedInput:
        return _parse_lines(parser, text, file, diags)
    try:
        return _ToIR(file, text, diags).transform(tree)
    except VisitError as e:  # pragma: no cover - a transformer bug, not user input
        raise e.orig_exc


def _parse_lines(parser: Lark, text: str, file: str, diags: Collector) -> tuple[ir.Statement, ...]:
    """Statements are one per line: after a syntax error, parse each line alone
    so that one file reports all of its syntax errors, at their true positions."""
    out: list[ir.Statement] = []
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            tree = parser.parse(line + "\n")
        except UnexpectedInput as err:
            _syntax_error(err, parser, file, diags, number)
            continue
        out.extend(_ToIR(file, line + "\n", diags, number - 1).transform(tree))
    return tuple(out)
