"""The fast parser (segc/fastparse.py) gives exactly lark's result, or declines.

"Exactly" means the same statements compared field by field *including* every
span (which IR equality ignores) and the ``text`` fields, and the same
diagnostics (code, span, message, notes, order) from ``parse_text`` with the
fast path on and off. The fast path must also accept every real program of
the project (else the speed-up vanishes silently) and almost every random
program, so that the comparisons below are not vacuous.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re
import sys

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from segc.diagnostics import Collector
from segc.fastparse import TERMINALS, fast_parse
from segc.parser import _parser, parse_text
from strategies import expect_statement, program, program_with_denies, target
from test_docs import SNIPPETS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILE = "t.seg"


def deep(x):
    """``x`` as nested tuples of every field, spans and texts included."""
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return (type(x).__name__,) + tuple((f.name, deep(getattr(x, f.name))) for f in dataclasses.fields(x))
    if isinstance(x, (tuple, list)):
        return tuple(deep(i) for i in x)
    return x


def diag_tuple(d):
    return (d.span, d.severity, d.code, d.message, d.notes)


def compare(text: str) -> bool:
    """Both paths agree on ``text``; True when the fast path accepted it."""
    ref_diags, fast_diags = Collector(), Collector()
    ref = parse_text(text, FILE, ref_diags, fast=False)
    got = parse_text(text, FILE, fast_diags)
    assert deep(got) == deep(ref)
    assert [diag_tuple(d) for d in fast_diags.items] == [diag_tuple(d) for d in ref_diags.items]
    direct = fast_parse(text if text.endswith("\n") else text + "\n", FILE)
    if direct is None:
        return False
    assert deep(direct) == deep(ref), "the fast path accepted and differs from lark"
    assert not ref_diags.items, "the fast path accepted a text lark reports"
    return True


# ------------------------------------------------------------ the grammar


def test_the_token_regexes_are_larks():
    parser = _parser()
    for name, regex in TERMINALS.items():
        assert parser.get_terminal(name).pattern.to_regexp() == regex, name


# fastparse.py emulates these rules; a change to grammar/seg.lark must be
# mirrored there (and this list updated), or the fast path could accept a
# line that the new grammar reads differently.
GRAMMAR_RULES = """
start: __start_plus __start_star
start: __start_plus
start: __start_star
start:
statement?: namespace_stmt
statement?: deny_all_stmt
statement?: allow_stmt
statement?: deny_stmt
statement?: group_stmt
statement?: import_stmt
statement?: expect_stmt
namespace_stmt: NAMESPACE NAME
deny_all_stmt: __ANON_0 direction IN NAME
deny_all_stmt: __ANON_0 direction
deny_all_stmt: __ANON_0 IN NAME
deny_all_stmt: __ANON_0
direction: INGRESS
direction: EGRESS
allow_stmt -> allow_pair: ALLOW endpoint __ANON_1 target
allow_stmt -> allow_one: ALLOW target
deny_stmt -> deny_pair: DENY endpoint __ANON_1 target
deny_stmt -> deny_one: DENY target
group_stmt: GROUP_KW NAME EQUAL target
import_stmt: IMPORT STRING
expect_stmt -> expect_pair: EXPECT endpoint __ANON_1 target VERDICT
expect_stmt -> expect_one: EXPECT target VERDICT
target: endpoint COLON port_list
target: endpoint
endpoint?: address_block
endpoint?: pod_ref
address_block: CIDR EXCEPT CIDR __address_block_star
address_block: CIDR EXCEPT CIDR
address_block: CIDR
pod_ref -> qualified: ns_part SLASH pod_part
pod_ref -> local: pod_part
ns_part? -> ns_name: NAME
ns_part? -> ns_any: STAR
ns_part? -> ns_selector: selector
pod_part? -> pod_name: NAME
pod_part? -> pod_any: STAR
pod_part? -> pod_selector: selector
selector: LBRACE requirement __selector_star RBRACE
selector: LBRACE requirement RBRACE
selector: LBRACE RBRACE
requirement? -> req_eq: LABEL_KEY EQUAL value
requirement? -> req_eq: LABEL_KEY __ANON_2 value
requirement? -> req_ne: LABEL_KEY __ANON_3 value
requirement? -> req_in: LABEL_KEY IN value_list
requirement? -> req_notin: LABEL_KEY NOTIN value_list
requirement? -> req_exists: LABEL_KEY
requirement? -> req_absent: BANG LABEL_KEY
value_list: LPAR value __value_list_star RPAR
value_list: LPAR value RPAR
value?: LABEL_KEY
value?: STRING
port_list: port_item __port_list_star
port_list: port_item
port_item: PORT SLASH PROTO
port_item: PORT
__start_plus: _NL
__start_plus: __start_plus _NL
__start_star: statement __start_plus
__start_star: __start_star statement __start_plus
__address_block_star: COMMA CIDR
__address_block_star: __address_block_star COMMA CIDR
__selector_star: COMMA requirement
__selector_star: __selector_star COMMA requirement
__value_list_star: COMMA value
__value_list_star: __value_list_star COMMA value
__port_list_star: COMMA port_item
__port_list_star: __port_list_star COMMA port_item
"""


def _rules(parser) -> str:
    """lark's rules, one a line, with its numbering of helper rules left out."""
    out = []
    for r in parser.rules:
        head = r.origin.name + ("?" if r.options.expand1 else "") + (f" -> {r.alias}" if r.alias else "")
        out.append(re.sub(r"(__\w+?_(?:star|plus))_\d+", r"\1", f"{head}: {' '.join(s.name for s in r.expansion)}").rstrip())
    return "\n".join(out)


def test_the_grammar_is_the_one_fastparse_emulates():
    parser = _parser()
    assert _rules(parser) == GRAMMAR_RULES.strip(), "grammar/seg.lark changed: update segc/fastparse.py to match, then this list"
    literals = {t.name: t.pattern.value for t in parser.terminals if t.pattern.type == "str"}
    assert literals == {
        "ALLOW": "allow", "DENY": "deny", "EXPECT": "expect", "IMPORT": "import", "NAMESPACE": "namespace",
        "__ANON_0": "deny-all", "__ANON_1": "->", "__ANON_2": "==", "__ANON_3": "!=", "IN": "in", "NOTIN": "notin",
        "EXCEPT": "except", "INGRESS": "ingress", "EGRESS": "egress", "STAR": "*", "SLASH": "/", "COLON": ":",
        "COMMA": ",", "EQUAL": "=", "BANG": "!", "LBRACE": "{", "RBRACE": "}", "LPAR": "(", "RPAR": ")",
    }


# ------------------------------------------------- every real program is fast


def _project_texts() -> list[tuple[str, str]]:
    out = []
    for pattern in ("examples/**/*.seg", "stdlib/*.seg", "tests/data/**/*.seg"):
        for path in sorted(glob.glob(os.path.join(ROOT, pattern), recursive=True)):
            with open(path, encoding="utf-8-sig") as fh:
                out.append((os.path.relpath(path, ROOT), fh.read()))
    out += [(f"docs/{s.page}:{s.line}", s.text) for s in SNIPPETS if s.kind == "seg"]
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    try:
        from generate import generate
    finally:
        sys.path.pop(0)
    return out, generate


def test_every_project_program_takes_the_fast_path(tmp_path):
    texts, generate = _project_texts()
    generate(str(tmp_path), namespaces=20, services=25)
    for path in sorted(tmp_path.iterdir()):
        texts.append((f"generated {path.name}", path.read_text(encoding="utf-8")))
    assert len(texts) > 100
    declined = [name for name, text in texts if not compare(text)]
    assert not declined, f"the fast path declines {declined}"


# ---------------------------------------------------------- random programs

KEYWORDS = ["namespace", "deny-all", "allow", "deny", "group", "service", "import", "expect", "allowed", "denied",
            "in", "notin", "except", "ingress", "egress", "tcp", "udp"]


@st.composite
def odd_statement(draw):
    """Statements the core strategies do not write: services, imports, strings, `==`, odd but valid names."""
    return draw(st.sampled_from([
        'import "other.seg"', 'import "a#b.seg"', 'import ""',
        f"service db = {draw(target(groups=False))}",
        'allow {x == "", y}/* -> *:1-65535/sctp',
        'allow {a="b"} -> x', "allow {in, notin, except} -> allowed:denied",
        "allow in/allow -> deny/expect:allowed", "allow namespace -> group",
        "allow fd00::/8 except fd00:1::/32 -> web:53/udp,53/tcp",
        "allow ::/0 -> x", "allow a -> b:80/TCP,http-alt/Udp",
        "deny-all egress in tenant-a", "deny-all ingress", "deny-all in allow",
        "group ingress = egress", "allow a_b.c -> x.y-z",
        "allow {app.kubernetes.io/name=prometheus, !k8s-app} -> {tier notin (api, worker)}:9090",
        "expect 10.0.0.0/8 -> x denied", "expect */* -> x:80 allowed",
    ]))


@st.composite
def bad_statement(draw):
    """Statements with a token-level problem that _ToIR reports (the fast path must decline)."""
    return draw(st.sampled_from([
        "namespace Bad", "namespace a_b", "deny-all in x.y", "allow a -> b:0", "allow a -> b:65536", "allow a -> b:9-8",
        "allow a -> b:80/icmp", "allow a -> b:my_port", "allow a -> b:verylongportname1", "allow a -> {Tier_}",
        "allow a -> {example.com/=x}", "allow a -> {a=b_}", "allow Bad_ -> c", "allow 10.0.0.1/8 -> a",
        "allow a -> 10.0.0.0/8 except 11.0.0.0/16", "allow a -> 10.0.0.0/8 except 10.0.0.0/8",
        "allow a -> 10.0.0.0/8 except fd00::/8", "allow a -> 10.0.0.1", "allow a -> 999.0.0.1", "allow 10.0.0/8 -> a",
        "allow a -> 2001:db8", 'allow {a="b}"} -> x', "allow a -> x/" + "y" * 70, "allow a -> 1.2.3.4/33",
    ]))


@st.composite
def any_statement(draw):
    from strategies import deny_statement, statement

    return draw(st.one_of(statement(), deny_statement(), expect_statement(), odd_statement()))


@st.composite
def programs(draw):
    """Core programs, programs with denies, and programs of every statement kind."""
    kind = draw(st.sampled_from(["core", "denies", "mixed"]))
    if kind == "core":
        return draw(program())
    if kind == "denies":
        return draw(program_with_denies())
    return "\n".join(draw(st.lists(any_statement(), min_size=1, max_size=8))) + "\n"


@st.composite
def spaced(draw, text: str) -> str:
    """The same program with other blanks, tabs, blank lines, comments and CRLF."""
    out = []
    for line in text.split("\n"):
        # Not inside addresses, label keys with a prefix, strings, `==` or `!=`.
        fragile = "." in line or "::" in line or '"' in line or "==" in line or "!=" in line
        for sep in (" -> ", ", ", ",", ":", "/", "=", "{", "}", "(", ")"):
            if fragile and sep in (":", "/", "="):
                continue
            if sep in line and draw(st.booleans()):
                line = line.replace(sep, draw(st.sampled_from([sep.strip(), f" {sep.strip()} ", f"\t{sep.strip()}  "])))
        line = draw(st.sampled_from(["", " ", "\t "])) + line + draw(st.sampled_from(["", " ", "\t"]))
        if draw(st.integers(0, 3)) == 0:
            line += draw(st.sampled_from([" # why", "#x", '   # "q" {', "# -> a:80"]))
        if draw(st.integers(0, 5)) == 0:
            out.append(draw(st.sampled_from(["", "# note", "   ", "\t# x"])))
        out.append(line + draw(st.sampled_from(["", "", "\r"])))
    return "\n".join(out)


PIECES = KEYWORDS + ["->", "/", ":", ",", "{", "}", "(", ")", "=", "==", "!=", "!", "*", "#", '"', " ", "\t", "\n",
                     "\r\n", "\r", "-", "_", ".", "0", "8", "a", "Z", "é", "\f", "\u00a0", "::", "/8", "10.0.0.0/8"]


@st.composite
def mutant(draw, text: str) -> str:
    """``text`` after 1 to 4 edits of a character or a token."""
    for _ in range(draw(st.integers(1, 4))):
        n = len(text)
        at = draw(st.integers(0, n))
        kind = draw(st.sampled_from(["delete", "insert", "replace", "insert-piece", "replace-word", "duplicate"]))
        if kind == "delete" and n:
            at = min(at, n - 1)
            text = text[:at] + text[at + 1 :]
        elif kind == "insert":
            text = text[:at] + draw(st.characters(codec="utf-8", max_codepoint=0x2030)) + text[at:]
        elif kind == "replace" and n:
            at = min(at, n - 1)
            text = text[:at] + draw(st.sampled_from(list("abz09-_./:,{}()=!*#\" \t\r"))) + text[at + 1 :]
        elif kind == "insert-piece":
            text = text[:at] + draw(st.sampled_from(PIECES)) + text[at:]
        elif kind == "replace-word":
            words = text.split(" ")
            i = draw(st.integers(0, len(words) - 1))
            words[i] = draw(st.sampled_from(KEYWORDS))
            text = " ".join(words)
        elif kind == "duplicate" and n:
            at = min(at, n - 1)
            text = text[:at] + text[at] + text[at:]
    return text


# A share of the profile's examples (tests/conftest.py): generating programs
# costs more than parsing them, and the ci profile must stay fast.
SOME = settings(max_examples=max(10, settings.default.max_examples // 3))


# Not shrunk: a list of programs shrinks slowly, and the message names the declined ones.
@settings(max_examples=max(5, settings.default.max_examples // 30), phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(st.lists(programs(), min_size=20, max_size=20))
def test_random_programs_are_parsed_alike_and_nearly_all_fast(texts):
    declined = [t for t in texts if not compare(t)]
    assert len(declined) <= 0.05 * len(texts), f"the fast path declines {len(declined)} of {len(texts)}: {declined}"


@SOME
@given(st.data())
def test_respaced_programs_are_parsed_alike_and_fast(data):
    text = data.draw(spaced(data.draw(programs())))
    assert compare(text), "a valid program with other blanks and comments should be fast"


@SOME
@given(st.data())
def test_mutated_programs_are_parsed_alike(data):
    text = data.draw(programs())
    if data.draw(st.booleans()):
        text = data.draw(spaced(text))
    compare(data.draw(mutant(text)))


@SOME
@given(st.lists(st.one_of(any_statement(), bad_statement()), min_size=1, max_size=6).map("\n".join))
def test_programs_with_token_errors_are_left_to_lark(text):
    accepted = compare(text)
    ref = Collector()
    parse_text(text, FILE, ref, fast=False)
    assert accepted == (not ref.items)


@pytest.mark.parametrize("text", [
    "allowfoo -> bar", "deny-allin x", "deny-all inx", "allow 10.0.0.0/8 except10.1.0.0/16 -> a", "allow {a in(b)}",
    "allow a->b", "allow a -> b:80allowed", "expect a -> b allowedx", "allow a allowed", "allow a:80 -> b",
    "namespace in", "group a=b", "allow {a==b,c!=d}", "allow {a = b}", "allow a /b", "allow a\r", "allow a\rb",
    "allow a -> b:80 , 443 / udp", "allow a -> b:80,", "allow a -> b:http-", "allow {a", "allow {a}/", "allow a -> {}",
    "allow a -> */*", "allow ::/0", "allow 1:2:3:4:5:6:7:8/64 -> a", "allow ab:cd/8 -> x", "allow a -> b:c/8",
    'import "x"y', 'allow {a="#"} -> b # c', "\ufeffnamespace a", "allow\u00a0a", "namespace a\n\n\n", "",
])
def test_edge_cases(text):
    compare(text)
