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

from lark import Lark, Token, Transformer, Tree, UnexpectedCharacters, UnexpectedInput, UnexpectedToken, v_args
from lark.exceptions import VisitError
from lark.visitors import _vargs_meta, _VArgsWrapper

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


def port_name_problem(text: str) -> tuple[str, ...] | None:
    """Why ``text`` (not a number or range) is not a Kubernetes port name: (message, *notes), or None."""
    if len(text) > 15:
        return (f"port name {text!r} is {len(text)} characters long; Kubernetes allows at most 15",)
    if not _PORT_NAME.match(text) or not re.search("[a-z]", text) or "--" in text:
        return (
            f"{text!r} is neither a port number, a range like 8000-8100, nor a valid port name",
            "a port name has lowercase letters, digits and single '-', at least one letter",
        )
    return None


def _span(tok_or_meta, file: str, line_offset: int = 0) -> Span:
    return Span(
        file,
        (getattr(tok_or_meta, "line", 0) or 0) + line_offset,
        getattr(tok_or_meta, "column", 0) or 0,
        (getattr(tok_or_meta, "end_line", 0) or 0) + line_offset,
        getattr(tok_or_meta, "end_column", 0) or 0,
    )


_DOTTED = re.compile(r"[0-9]+(\.[0-9]+)+")


def _ipv4_problem(text: str) -> str | None:
    try:
        ipaddress.IPv4Address(text)
    except ValueError as e:
        reason = str(e)
        return reason[:1].lower() + reason[1:]
    return None


def _cidr_problem(text: str) -> str:
    """Why ``text`` (the CIDR token, which strict and lax parsing both refused) is not an address block."""
    addr, _, plen = text.partition("/")
    v6 = ":" in addr
    try:
        (ipaddress.IPv6Address if v6 else ipaddress.IPv4Address)(addr)
    except ValueError as e:
        reason = str(e)
        return reason[:1].lower() + reason[1:]
    bits = 128 if v6 else 32
    return f"the prefix length /{plen} is longer than {bits} bits" if plen.isdigit() and int(plen) > bits else f"{text!r} is not ADDRESS/PREFIX-LENGTH"


_HEX_GROUP = re.compile(r"[0-9A-Fa-f]{1,4}")


def _looks_like_ipv6(name: str, ports) -> bool:
    """``2001:db8``: a four-digit hex group with a decimal digit, then one named port that is a hex group."""
    return (
        len(name) == 4 and bool(_HEX_GROUP.fullmatch(name))
        and any(c.isdigit() for c in name)
        and ports is not None
        and len(ports) == 1
        and bool(ports[0].name)
        and bool(_HEX_GROUP.fullmatch(ports[0].name))
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

    # lark's Transformer looks every callback up, wraps @v_args methods anew and
    # visits every token, per node: a third of the time of a large build.
    # This walk calls the same methods the same way.
    def transform(self, tree):
        return self._walk(tree)

    def _walk(self, tree):
        children = [self._walk(c) if isinstance(c, Tree) else c for c in tree.children]
        try:
            with_meta, f = _CALLBACKS[tree.data]
        except KeyError:
            with_meta, f = _CALLBACKS[tree.data] = _callback(tree.data)
        if f is None:
            return Tree(tree.data, children, tree.meta)  # no method: lark's default
        return f(self, tree.meta, children) if with_meta else f(self, children)

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
    def expect_pair(self, meta, items):
        src, dst, verdict = items
        return ir.ExpectStmt(src, dst, str(verdict) == "allowed", self._text(meta), self.span(meta))

    @v_args(meta=True)
    def expect_one(self, meta, items):
        dst, verdict = items
        return ir.ExpectStmt(None, dst, str(verdict) == "allowed", self._text(meta), self.span(meta))

    @v_args(meta=True)
    def deny_pair(self, meta, items):
        src, dst = items
        return ir.DenyStmt(src, dst, self._text(meta), self.span(meta))

    @v_args(meta=True)
    def deny_one(self, meta, items):
        (dst,) = items
        return ir.DenyStmt(None, dst, self._text(meta), self.span(meta))

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
        endpoint = items[0]
        if isinstance(endpoint, ir.NameRef) and _looks_like_ipv6(endpoint.name, ports):
            # `2001:db8` would otherwise mean pods app=2001 on the named port db8.
            text = f"{endpoint.name}:{ports[0].name}"
            self.diags.error(self.span(meta), "SEG010", f"{text} looks like an IPv6 address without a prefix length", f"write an address block, e.g. {text}::/32")
        return ir.Target(endpoint, ports, self.span(meta))

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
        except ValueError:
            try:
                fixed = ipaddress.ip_network(str(tok), strict=False)
                self.diags.error(self.span(tok), "SEG010", f"address block {tok} has host bits set", f"did you mean {fixed}?")
            except ValueError:
                self.diags.error(self.span(tok), "SEG010", f"{tok} is not a valid address block: {_cidr_problem(str(tok))}")
            return None

    @v_args(meta=True)
    def qualified(self, meta, items):
        ns, pods = items
        return ir.Qualified(ns, pods, self.span(meta))

    def local(self, items):
        ref = items[0]
        if isinstance(ref, ir.NameRef) and _DOTTED.fullmatch(ref.name):
            # `allow a -> 10.0.0.1` would otherwise mean the pods labelled app=10.0.0.1.
            problem = _ipv4_problem(ref.name)
            if problem:
                self.diags.error(ref.span, "SEG010", f"{ref.name} is not an IPv4 address: {problem}")
            else:
                self.diags.error(ref.span, "SEG010", f"address {ref.name} has no prefix length", f"did you mean {ref.name}/32?")
        return ref

    def ns_name(self, items):
        (tok,) = items
        if _DOTTED.fullmatch(str(tok)):  # `10.0.0/8`: a mistyped address block, not a namespace
            problem = _ipv4_problem(str(tok)) or "an address block has a prefix length from 0 to 32"
            self.diags.error(self.span(tok), "SEG010", f"{tok} is not an address block: {problem}")
        else:
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
        problem = port_name_problem(text)
        if problem:
            self.diags.error(self.span(tok), "SEG033", *problem)
        return text


_CALLBACKS: dict[str, tuple[bool, object]] = {}


def _callback(name: str) -> tuple[bool, object]:
    """(called with meta?, plain function) for the ``_ToIR`` method named after a rule."""
    f = getattr(_ToIR, name, None)
    if f is None:
        return False, None
    if isinstance(f, _VArgsWrapper):
        if f.visit_wrapper is not _vargs_meta:  # pragma: no cover - only @v_args(meta=True) is used
            raise TypeError(f"unsupported v_args on {name}")
        return True, f.base_func
    return False, f


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
    "VERDICT": "'allowed' or 'denied'",
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


# Characters that cannot be part of a label key or value as a user writes it.
_SELECTOR_PUNCT = set(' \t{}(),=!"#')


def _label_word_problem(line_text: str, column: int) -> tuple[int, int, str, str] | None:
    """A syntax error inside ``{...}`` is usually a label key or value that breaks
    Kubernetes' rules (``Tier_``, ``example.com/``, ``-x``): the lexer stops at the
    bad character. Say what is wrong with the whole word instead.
    Returns (start column, end column, code, message) or None."""
    i = column - 1
    if not 0 <= i < len(line_text) or line_text[i] in _SELECTOR_PUNCT:
        return None
    before = line_text[:i]
    if before.count("{") <= before.count("}"):
        return None
    start, end = i, i
    while start > 0 and line_text[start - 1] not in _SELECTOR_PUNCT:
        start -= 1
    while end < len(line_text) and line_text[end] not in _SELECTOR_PUNCT and line_text[end] not in "\r\n":
        end += 1
    word = line_text[start:end]
    prev = line_text[:start].rstrip(" \t")[-1:]
    if prev == "=" or before.rfind("(") > before.rfind(")"):
        code, problem = "SEG021", label_value_problem(word)
    elif prev in ("{", ",", "!"):
        code, problem = "SEG020", label_key_problem(word)
    else:
        return None
    return (start + 1, end + 1, code, problem) if problem else None


def _port_word_problem(err: UnexpectedInput, line_text: str) -> tuple[int, int, tuple[str, ...]] | None:
    """`b:http-`, `b:my_port`: the lexer stops inside a port name; judge the whole word."""
    history = getattr(err, "token_history", None)
    if not isinstance(err, UnexpectedCharacters) or not history:
        return None
    last = history[-1]
    if last.type != "PORT" or last.end_column != err.column or not 0 < err.column <= len(line_text):
        return None
    end = err.column - 1
    while end < len(line_text) and line_text[end] not in ' \t,/#\r':
        end += 1
    if end == err.column - 1:
        return None
    word = str(last) + line_text[err.column - 1 : end]
    problem = port_name_problem(word)
    return (last.column, end + 1, problem) if problem else None


def _unclosed_note(line_text: str) -> tuple[str, ...]:
    for open_, close in (("{", "}"), ("(", ")")):
        depth, where = 0, 0
        for col, ch in enumerate(line_text.split("#")[0], start=1):
            if ch == open_:
                depth, where = depth + 1, (where if depth else col)
            elif ch == close and depth:
                depth -= 1
        if depth:
            return (f"the '{open_}' at column {where} is never closed with '{close}'",)
    return ()


def _syntax_error(err: UnexpectedInput, parser: Lark, file: str, diags: Collector, line: int, line_text: str = "") -> None:
    span = Span(file, line, err.column if err.column and err.column > 0 else 1)
    label = _label_word_problem(line_text, span.column)
    if label is not None:
        start, end, code, problem = label
        diags.error(Span(file, line, start, line, end), code, problem)
        return
    port = _port_word_problem(err, line_text)
    if port is not None:
        start, end, problem = port
        diags.error(Span(file, line, start, line, end), "SEG033", *problem)
        return
    if isinstance(err, UnexpectedToken):
        tok = err.token
        notes: tuple[str, ...] = ()
        if tok.type == "$END":
            found = "end of the file"
        elif tok.type == "_NL":
            found = "end of the line"
            notes = _unclosed_note(line_text)
        else:
            found = repr(str(tok))
            span = Span(file, span.line, span.column, span.line, tok.end_column or span.column + 1)
        # The LALR table merges look-aheads of similar states; ask the parser
        # which tokens it really accepts here (`{a=b` does not accept ')').
        expected = err.expected
        if err.interactive_parser is not None:
            expected = err.interactive_parser.accepts() or expected
        diags.error(span, "SEG001", f"unexpected {found}; expected {_describe(parser, expected)}", *notes)
    elif isinstance(err, UnexpectedCharacters):
        char = err.char
        allowed = (_accepted_after(parser, line_text, err.column) & set(err.allowed or ())) or err.allowed
        expected = _describe(parser, allowed) if allowed else "a statement"
        diags.error(span, "SEG001", f"unexpected character {char!r}; expected {expected}")
    else:  # pragma: no cover - lark has no other kinds today
        diags.error(span, "SEG001", f"syntax error: {err}")


def _accepted_after(parser: Lark, line_text: str, column: int) -> set[str]:
    """What the parser itself accepts after the text before ``column``. The
    lexer's own list merges look-aheads of LALR states that share a core
    (`allow a -> b:80` and `expect a -> b:80 allowed` end in the same state)."""
    if not line_text or not 0 < column <= len(line_text) + 1:
        return set()
    try:
        ip = parser.parse_interactive(line_text[: column - 1])
        ip.exhaust_lexer()
        return set(ip.accepts())
    except UnexpectedInput:
        return set()


def parse_text(text: str, file: str, diags: Collector, *, fast: bool = True) -> tuple[ir.Statement, ...]:
    """Parse one file's text. Problems go to ``diags``; the result holds what parsed.

    ``fast``: try ``fastparse.fast_parse`` first (the same result, several times
    faster); it declines, and lark parses, whenever it is not certain.
    """
    if not text.endswith("\n"):
        text += "\n"
    if fast:
        from .fastparse import fast_parse

        statements = fast_parse(text, file)
        if statements is not None:
            return statements
    parser = _parser()
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
    # Split on "\n" only, as lark counts lines: str.splitlines() also splits on
    # "\r", "\f", "\u2028"..., which would shift every later line number.
    for number, line in enumerate(text.split("\n")[:-1], start=1):
        try:
            tree = parser.parse(line + "\n")
        except UnexpectedInput as err:
            _syntax_error(err, parser, file, diags, number, line)
            continue
        out.extend(_ToIR(file, line + "\n", diags, number - 1).transform(tree))
    return tuple(out)
