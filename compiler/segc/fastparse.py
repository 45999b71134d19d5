"""A fast path for ``parser.parse_text``: sound or refuse.

lark's LALR parser plus the ``_ToIR`` walk cost about 70 microseconds a
statement; a 20,000-statement program spent more time parsing than in any
other stage. Statements are one per line, so this module scans each line with
one recursive-descent function per grammar rule and a compiled regex per
token class (the regexes are lark's own terminals of ``grammar/seg.lark``;
``tests/test_fastparse.py`` checks that they are the same), and builds the
syntax IR directly.

It emulates lark's contextual lexer: at each point it tries only the
terminals the grammar allows there, in lark's order (``CIDR`` before
``NAME``, ``==`` before ``=``). It returns ``None`` ("let lark do it")
whenever it is not certain:

* any line that is not a statement of the grammar (every syntax error:
  lark stays the only producer of syntax-error diagnostics);
* keywords not followed by a blank, ``#`` or the end of the line
  (``allowfoo``, ``in(a)``, ``except10.0.0.0/8``: lark splits these, we do not);
* any token that ``_ToIR`` would report (bad label keys or values, namespace
  names, ports, protocols, address blocks, ``10.0.0.1`` or ``2001:db8``
  where an address was meant): the checks are ``_ToIR``'s own methods, asked
  once per distinct token text through a scratch instance; when one reports
  a problem, the whole file goes to lark so that diagnostics keep their
  order and wording.

The result is then exactly what lark and ``_ToIR`` give (statements, spans,
``text`` fields); ``tests/test_fastparse.py`` compares the two on the
project's files and on random and mutated programs.
"""

from __future__ import annotations

import re

from lark import Token

from . import ir
from .diagnostics import Collector
from .ir import Span
from .parser import _callback, _looks_like_ipv6, _ToIR

# lark's terminals (grammar/seg.lark), as lark compiles them.
NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
LABEL_KEY = r"([A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
PORT = r"[A-Za-z0-9]+(-[A-Za-z0-9]+)*"
PROTO = r"[A-Za-z]+"
STRING = '"[^"\n]*"'
CIDR = r"(?:[0-9]{1,3}(\.[0-9]{1,3}){3}\/[0-9]+|[0-9A-Fa-f]{0,4}(:[0-9A-Fa-f]{0,4}){1,7}(:[0-9]{1,3}(\.[0-9]{1,3}){3})?\/[0-9]+)"
TERMINALS = {"NAME": NAME, "LABEL_KEY": LABEL_KEY, "PORT": PORT, "PROTO": PROTO, "STRING": STRING, "CIDR": CIDR}

_NAME = re.compile(NAME)
_LABEL_KEY = re.compile(LABEL_KEY)
_STRING = re.compile(STRING)
_CIDR = re.compile(CIDR)
_PORT = re.compile(PORT)
_PROTO = re.compile(PROTO)
# A whole port list (state after ':'); it ends on a PORT or PROTO token.
_PORT_LIST = re.compile(rf"[ \t]*{PORT}(?:[ \t]*/[ \t]*{PROTO})?(?:[ \t]*,[ \t]*{PORT}(?:[ \t]*/[ \t]*{PROTO})?)*")
# A keyword ends where a blank, a comment or the line does.
_END = r"(?![^ \t#])"
_STATEMENT_KW = re.compile(rf"(namespace|deny-all|allow|deny|group|service|import|expect){_END}")
_DIRECTION = re.compile(rf"(ingress|egress){_END}")
_IN = re.compile(rf"in{_END}")
_EXCEPT = re.compile(rf"except{_END}")
_VERDICT = re.compile(rf"(allowed|denied){_END}")
_SET_OP = re.compile(rf"(notin|in){_END}")


class Decline(Exception):
    """The fast path is not certain; lark must parse this text."""


def _ws(line: str, i: int, n: int) -> int:
    """Index of the next token at or after ``i``; ``n`` at the end of the line or at a comment."""
    while i < n:
        c = line[i]
        if c == " " or c == "\t":
            i += 1
        elif c == "#":
            return n
        else:
            return i
    return n


# ---------------------------------------------------------------- token checks
#
# Each check asks _ToIR's own method once per distinct text, through a scratch
# instance whose diagnostics are thrown away: a result is cached, or _BAD when
# _ToIR reports a problem (the file then goes to lark, which reports it).

_BAD = object()
_CACHE_LIMIT = 100_000


def _run(f, *args):
    """``f(to_ir, *args)`` on a scratch ``_ToIR``; _BAD if it reported anything.
    (A new scratch each time: cache misses are rare, and threads stay apart.)"""
    diags = Collector()
    try:
        result = f(_ToIR("<fastparse>", "", diags), *args)
    except Exception:  # pragma: no cover - a check that raises: lark's path raises it too
        return _BAD
    return _BAD if diags.items else result


_NAMESPACES: dict = {}  # text -> True | _BAD  (namespace and deny-all ... in)
_NS_NAMES: dict = {}  # text -> True | _BAD  (NAME/...)
_POD_NAMES: dict = {}  # text -> True | _BAD  (.../NAME)
_LOCALS: dict = {}  # text -> True | _BAD  (a bare NAME endpoint)
_BLOCKS: dict = {}  # CIDR texts -> (net, excepts) | _BAD
_PORTS: dict = {}  # port list text -> ports | _BAD
_SELECTORS: dict = {}  # "{...}" -> Selector | _BAD


def _tok(type_: str, text: str) -> Token:
    return Token(type_, text)


def _check(cache: dict, key, compute):
    v = cache.get(key)
    if v is None:
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        v = cache[key] = compute()
    if v is _BAD:
        raise Decline
    return v


def _ok(result):
    return _BAD if result is _BAD else True


def _namespace_ok(text: str) -> None:
    _check(_NAMESPACES, text, lambda: _ok(_run(_ToIR._check_namespace, _tok("NAME", text))))


def _ns_name_ok(text: str) -> None:
    _check(_NS_NAMES, text, lambda: _ok(_run(_ToIR.ns_name, [_tok("NAME", text)])))


def _pod_name_ok(text: str) -> None:
    _check(_POD_NAMES, text, lambda: _ok(_run(_ToIR.pod_name, [_tok("NAME", text)])))


def _local_ok(text: str) -> None:
    def compute():
        ref = _run(_ToIR.pod_name, [_tok("NAME", text)])
        return _BAD if ref is _BAD else _ok(_run(_ToIR.local, [ref]))

    _check(_LOCALS, text, compute)


class _Meta:
    """What ``_ToIR`` reads of a lark meta."""

    line = column = end_line = end_column = 1
    start_pos = end_pos = 0


def _block_parts(texts: tuple[str, ...]):
    def compute():
        block = _run(_callback("address_block")[1], _Meta(), [_tok("CIDR", s) for s in texts])
        return _BAD if block is _BAD else (block.net, block.excepts)

    return _check(_BLOCKS, texts, compute)


def _port_list(text: str):
    """The ports of a port list (``text`` matched ``_PORT_LIST``)."""

    def compute():
        items = []
        i, n = 0, len(text)
        while True:
            i = _ws(text, i, n)
            m = _PORT.match(text, i)
            toks = [_tok("PORT", m.group())]
            i = _ws(text, m.end(), n)
            if i < n and text[i] == "/":
                m = _PROTO.match(text, _ws(text, i + 1, n))
                toks.append(_tok("PROTO", m.group()))
                i = _ws(text, m.end(), n)
            item = _run(_ToIR.port_item, toks)
            if item is _BAD:
                return _BAD
            items.append(item)
            if i >= n:
                break
            i += 1  # the ','
        return _run(_ToIR.port_list, items)

    return _check(_PORTS, text, compute)


def _selector(line: str, i: int, n: int) -> tuple[ir.Selector, int]:
    """The selector at ``line[i] == '{'``, and the index after its '}'."""
    close = line.find("}", i)
    if close < 0:
        raise Decline
    raw = line[i : close + 1]
    if '"' in raw:  # a string may hold '}': scan it every time
        sel, end = _scan_selector(line, i, n)
        if sel is _BAD:
            raise Decline
        return sel, end
    v = _SELECTORS.get(raw)
    if v is None:
        sel, end = _scan_selector(raw, 0, len(raw))
        if len(_SELECTORS) > _CACHE_LIMIT:
            _SELECTORS.clear()
        v = _SELECTORS[raw] = sel if end == len(raw) else _BAD
    if v is _BAD:
        raise Decline
    return v, close + 1


def _scan_selector(line: str, i: int, n: int):
    """(Selector or _BAD, end) for the selector at ``line[i] == '{'``: lark's states inside braces."""
    reqs = []  # (_ToIR method, its items); a value list is (_ToIR.value_list, values)
    try:
        j = _ws(line, i + 1, n)
        if j < n and line[j] == "}":
            return _run(_ToIR.selector, []), j + 1
        while True:
            if j < n and line[j] == "!":
                key, j = _lex(_LABEL_KEY, "LABEL_KEY", line, _ws(line, j + 1, n))
                req = (_ToIR.req_absent, [key])
            else:
                key, j = _lex(_LABEL_KEY, "LABEL_KEY", line, j)
                j = _ws(line, j, n)
                if line.startswith("==", j) or line.startswith("!=", j) or line.startswith("=", j):
                    op = line[j : j + 2] if line[j + 1 : j + 2] == "=" else "="
                    value, j = _value(line, _ws(line, j + len(op), n), n)
                    req = (_ToIR.req_ne if op == "!=" else _ToIR.req_eq, [key, value])
                elif (m := _SET_OP.match(line, j)) is not None:
                    j = _ws(line, m.end(), n)
                    if not line.startswith("(", j):
                        return _BAD, j
                    values = []
                    while True:
                        value, j = _value(line, _ws(line, j + 1, n), n)
                        values.append(value)
                        j = _ws(line, j, n)
                        if line.startswith(")", j):
                            break
                        if not line.startswith(",", j):
                            return _BAD, j
                    j += 1
                    req = (_ToIR.req_in if m.group() == "in" else _ToIR.req_notin, [key, (_ToIR.value_list, values)])
                else:
                    req = (_ToIR.req_exists, [key])
            reqs.append(req)
            j = _ws(line, j, n)
            if line.startswith("}", j):
                break
            if not line.startswith(",", j):
                return _BAD, j
            j = _ws(line, j + 1, n)
    except Decline:
        return _BAD, i

    def build(t):
        """What lark's walk does: each value list, then its requirement, then the selector."""
        out = []
        for f, items in reqs:
            items = [x[0](t, x[1]) if isinstance(x, tuple) else x for x in items]
            out.append(f(t, items))
        return _ToIR.selector(t, out)

    return _run(build), j + 1


def _lex(regex, type_: str, line: str, i: int) -> tuple[Token, int]:
    m = regex.match(line, i)
    if m is None:
        raise Decline
    return _tok(type_, m.group()), m.end()


def _value(line: str, i: int, n: int) -> tuple[Token, int]:
    """A label value (state after '=', '(' or ','): LABEL_KEY or STRING."""
    if line.startswith('"', i):
        return _lex(_STRING, "STRING", line, i)
    return _lex(_LABEL_KEY, "LABEL_KEY", line, i)


# ------------------------------------------------------------------ endpoints


def _endpoint(line: str, i: int, n: int, file: str, ln: int):
    """(endpoint, index after it) at ``i``: CIDR, NAME, '{' or '*', maybe then '/' and a pod part."""
    if i >= n:
        raise Decline
    c = line[i]
    if c == "{":
        sel, j = _selector(line, i, n)
        k = _ws(line, j, n)
        if k < n and line[k] == "/":
            return _qualified(ir.NsByLabels(sel, Span(file, ln, i + 1, ln, j + 1)), line, k + 1, n, file, ln, i)
        return ir.LabelPods(sel, Span(file, ln, i + 1, ln, j + 1)), j
    if c == "*":
        k = _ws(line, i + 1, n)
        if k < n and line[k] == "/":
            return _qualified(ir.NsAny(Span(file, ln, i + 1, ln, i + 2)), line, k + 1, n, file, ln, i)
        return ir.AllPods(Span(file, ln, i + 1, ln, i + 2)), i + 1
    m = _CIDR.match(line, i)  # priority 3 in the grammar: lark tries it before NAME
    if m is not None:
        return _block(m, line, n, file, ln)
    m = _NAME.match(line, i)
    if m is None:
        raise Decline
    name = m.group()
    j = m.end()
    k = _ws(line, j, n)
    if k < n and line[k] == "/":
        if _NS_NAMES.get(name) is not True:
            _ns_name_ok(name)
        return _qualified(ir.NsByName(name, Span(file, ln, i + 1, ln, j + 1)), line, k + 1, n, file, ln, i)
    if _LOCALS.get(name) is not True:
        _local_ok(name)
    return ir.NameRef(name, Span(file, ln, i + 1, ln, j + 1)), j


def _qualified(ns, line: str, i: int, n: int, file: str, ln: int, start: int):
    """The pod part after ``NS/``: NAME, '*' or a selector."""
    i = _ws(line, i, n)
    if i >= n:
        raise Decline
    c = line[i]
    if c == "{":
        sel, j = _selector(line, i, n)
        pods = ir.LabelPods(sel, Span(file, ln, i + 1, ln, j + 1))
    elif c == "*":
        j = i + 1
        pods = ir.AllPods(Span(file, ln, i + 1, ln, j + 1))
    else:
        m = _NAME.match(line, i)
        if m is None:
            raise Decline
        j = m.end()
        name = m.group()
        if _POD_NAMES.get(name) is not True:
            _pod_name_ok(name)
        pods = ir.NameRef(name, Span(file, ln, i + 1, ln, j + 1))
    return ir.Qualified(ns, pods, Span(file, ln, start + 1, ln, j + 1)), j


def _block(m, line: str, n: int, file: str, ln: int):
    """``CIDR (except CIDR (, CIDR)*)?`` from the first CIDR's match."""
    start, j = m.start(), m.end()
    texts = [m.group()]
    e = _EXCEPT.match(line, _ws(line, j, n))
    if e is not None:
        k = e.end()  # after 'except', then after each ','
        while True:
            m = _CIDR.match(line, _ws(line, k, n))
            if m is None:
                raise Decline
            texts.append(m.group())
            j = m.end()
            k = _ws(line, j, n)
            if not line.startswith(",", k):
                break
            k += 1
    net, excepts = _block_parts(tuple(texts))
    return ir.Block(net, excepts, Span(file, ln, start + 1, ln, j + 1)), j


def _target(ep, start: int, end: int, line: str, n: int, file: str, ln: int):
    """The endpoint ``ep`` (at ``start:end``) with its ports if ':' follows: (Target, index after it)."""
    k = _ws(line, end, n)
    if k < n and line[k] == ":":
        m = _PORT_LIST.match(line, k + 1)
        if m is None:
            raise Decline
        ports = _port_list(m.group())
        if type(ep) is ir.NameRef and _looks_like_ipv6(ep.name, ports):
            raise Decline
        end = m.end()
        return ir.Target(ep, ports, Span(file, ln, start + 1, ln, end + 1)), end
    return ir.Target(ep, None, Span(file, ln, start + 1, ln, end + 1)), end


def _pair(line: str, i: int, n: int, file: str, ln: int):
    """``endpoint -> target`` or ``target``: (src or None, dst Target, index after it)."""
    ep, end = _endpoint(line, i, n, file, ln)
    k = _ws(line, end, n)
    if line.startswith("->", k):
        j = _ws(line, k + 2, n)
        dep, dend = _endpoint(line, j, n, file, ln)
        dst, end = _target(dep, j, dend, line, n, file, ln)
        return ep, dst, end
    dst, end = _target(ep, i, end, line, n, file, ln)
    return None, dst, end


# ----------------------------------------------------------------- statements


def _statement(line: str, i: int, n: int, file: str, ln: int):
    m = _STATEMENT_KW.match(line, i)
    if m is None:
        raise Decline
    kw = m.group()
    j = _ws(line, m.end(), n)
    if kw == "allow" or kw == "deny" or kw == "expect":
        src, dst, end = _pair(line, j, n, file, ln)
        if kw == "expect":
            v = _VERDICT.match(line, _ws(line, end, n))
            if v is None:
                raise Decline
            end = v.end()
        if _ws(line, end, n) != n:
            raise Decline
        span = Span(file, ln, i + 1, ln, end + 1)
        text = " ".join(line[i:end].split())
        if kw == "allow":
            return ir.AllowStmt(src, dst, text, span)
        if kw == "deny":
            return ir.DenyStmt(src, dst, text, span)
        return ir.ExpectStmt(src, dst, v.group() == "allowed", text, span)
    if kw == "namespace":
        nm = _NAME.match(line, j)
        if nm is None or _ws(line, nm.end(), n) != n:
            raise Decline
        _namespace_ok(nm.group())
        return ir.NamespaceStmt(nm.group(), Span(file, ln, i + 1, ln, nm.end() + 1))
    if kw == "deny-all":
        end = m.end()
        direction = ns = None
        d = _DIRECTION.match(line, j)
        if d is not None:
            direction = d.group()
            end = d.end()
            j = _ws(line, end, n)
        if _IN.match(line, j) is not None:
            nm = _NAME.match(line, _ws(line, j + 2, n))
            if nm is None:
                raise Decline
            _namespace_ok(nm.group())
            ns = nm.group()
            end = nm.end()
        if _ws(line, end, n) != n:
            raise Decline
        return ir.DenyAllStmt(direction in (None, "ingress"), direction in (None, "egress"), ns, Span(file, ln, i + 1, ln, end + 1))
    if kw == "group" or kw == "service":
        nm = _NAME.match(line, j)
        if nm is None:
            raise Decline
        k = _ws(line, nm.end(), n)
        if not line.startswith("=", k):
            raise Decline
        k = _ws(line, k + 1, n)
        ep, end = _endpoint(line, k, n, file, ln)
        target, end = _target(ep, k, end, line, n, file, ln)
        if _ws(line, end, n) != n:
            raise Decline
        return ir.GroupStmt(nm.group(), target, Span(file, ln, i + 1, ln, end + 1))
    # import
    s = _STRING.match(line, j)
    if s is None or _ws(line, s.end(), n) != n:
        raise Decline
    return ir.ImportStmt(s.group()[1:-1], Span(file, ln, i + 1, ln, s.end() + 1))


def fast_parse(text: str, file: str) -> tuple[ir.Statement, ...] | None:
    """The statements of ``text`` (which ends with a newline), exactly as lark and
    ``_ToIR`` would build them without any diagnostic; None when not certain."""
    out = []
    ln = 0
    try:
        for line in text.split("\n"):
            ln += 1
            if not line:
                continue
            if line[-1] == "\r":  # "\r\n" is lark's newline too
                line = line[:-1]
            n = len(line)
            i = _ws(line, 0, n)
            if i < n:
                out.append(_statement(line, i, n, file, ln))
    except Decline:
        return None
    return tuple(out)
