"""Every kind of bad input gets a diagnostic at the right FILE:LINE:COL, with the
right severity and code, and a message in words (never a grammar token name).

Most cases compile in memory through the library entry point; the cases about
files (imports, unreadable files, encodings) use a temporary directory; the
last section checks what `segc check` prints (source line, caret, JSON).
"""

from __future__ import annotations

import json
import os
import re

import pytest
from click.testing import CliRunner

from segc.cli import cli
from segc.compile import compile_paths

# Lark's names for terminals and internals: none may reach a user.
TOKEN_NAMES = re.compile(r"\b(LABEL_KEY|NAME|CIDR|PORT|PROTO|STRING|STAR|LBRACE|RBRACE|LPAR|RPAR|COMMA|COLON|SLASH|EQUAL|BANG|GROUP_KW|INGRESS|EGRESS|_NL|__ANON_\d+)\b|\$END|Token\(")

INTERNALS = re.compile(r"\b(_NL|__ANON_\d+|LABEL_KEY|GROUP_KW)\b|\$END|Token\(")


def diagnostics(text: str, name: str = "t.seg"):
    """Each distinct diagnostic of compiling ``text`` as file ``name``, sorted."""
    return sorted(set(compile_paths([name], {name: text}).diagnostics))


def brief(d) -> tuple:
    return (str(d.span), d.severity, d.code, d.message)


def assert_readable(diags) -> None:
    for d in diags:
        assert not TOKEN_NAMES.search(d.message), d.message
        for note in d.notes:  # notes may use metavariables such as NAMESPACE/NAME
            assert not INTERNALS.search(note), note


def only(text: str, name: str = "t.seg"):
    diags = diagnostics(text, name)
    assert len(diags) == 1, [brief(d) for d in diags]
    assert_readable(diags)
    return diags[0]


EXPECTED_ANY = "'*', '{', a name or an address block such as 10.0.0.0/8"

# (source, FILE:LINE:COL, code, message, notes or None to skip checking notes)
CASES = [
    # ---------------------------------------------------------------- syntax
    pytest.param("namespace app\nallow -> backend\n", "t.seg:2:7", "SEG001", f"unexpected '->'; expected {EXPECTED_ANY}", (), id="missing-source"),
    pytest.param("namespace app\nallow\n", "t.seg:2:6", "SEG001", f"unexpected end of the line; expected {EXPECTED_ANY}", (), id="allow-alone"),
    pytest.param("namespace app\nallow a ->\n", "t.seg:2:11", "SEG001", f"unexpected end of the line; expected {EXPECTED_ANY}", (), id="missing-destination"),
    pytest.param("namespace app\nallow a ->", "t.seg:2:11", "SEG001", f"unexpected end of the line; expected {EXPECTED_ANY}", (), id="missing-destination-no-final-newline"),
    pytest.param("namespace app\nallow a b\n", "t.seg:2:9", "SEG001", "unexpected 'b'; expected '->', '/', ':' or the end of the line", (), id="missing-arrow"),
    pytest.param("namespace app\nallow a ->> b\n", "t.seg:2:11", "SEG001", f"unexpected character '>'; expected {EXPECTED_ANY}", (), id="double-arrow"),
    pytest.param("namespace app\nallow a -> b:8080 $\n", "t.seg:2:19", "SEG001", "unexpected character '$'; expected ',', '/' or the end of the line", (), id="stray-character"),
    pytest.param("namespace app\n  @\n", "t.seg:2:3", "SEG001", "unexpected character '@'; expected 'allow', 'deny', 'deny-all', 'expect', 'group' or 'service', 'import', 'namespace' or the end of the line", (), id="stray-at-line-start"),
    pytest.param(
        "namespace app\nallow frontend -> {tier=api\n",
        "t.seg:2:28",
        "SEG001",
        "unexpected end of the line; expected ',' or '}'",
        ("the '{' at column 19 is never closed with '}'",),
        id="unclosed-brace",
    ),
    pytest.param(
        "namespace app\nallow a -> {x in (a, b\n",
        "t.seg:2:23",
        "SEG001",
        "unexpected end of the line; expected ')' or ','",
        ("the '{' at column 12 is never closed with '}'",),
        id="unclosed-paren",
    ),
    pytest.param("namespace app\nallow a -> {x in (a, b}\n", "t.seg:2:23", "SEG001", "unexpected '}'; expected ')' or ','", (), id="brace-closes-paren"),
    pytest.param("namespace app\ndeny-all sideways\n", "t.seg:2:10", "SEG001", "unexpected 'sideways'; expected 'egress', 'in', 'ingress' or the end of the line", (), id="deny-all-sideways"),
    pytest.param("namespace app\nallow a -> b:80/\n", "t.seg:2:17", "SEG001", "unexpected end of the line; expected a protocol (tcp, udp or sctp)", (), id="missing-protocol"),
    pytest.param("namespace app\nallow a -> b:80/tcp/udp\n", "t.seg:2:20", "SEG001", "unexpected '/'; expected ',' or the end of the line", (), id="two-protocols"),
    pytest.param("namespace\n", "t.seg:1:10", "SEG001", "unexpected end of the line; expected a name", (), id="namespace-without-name"),
    pytest.param("namespace app\ngroup = {a=b}\n", "t.seg:2:7", "SEG001", "unexpected '='; expected a name", (), id="group-without-name"),
    pytest.param('import missing.seg\n', "t.seg:1:8", "SEG001", 'unexpected \'missing.seg\'; expected a quoted "string"', (), id="import-unquoted"),
    pytest.param("namespace app\nallow a -> 10.0.0.0/8:443 except 10.1.0.0/16\n", "t.seg:2:27", "SEG001", "unexpected 'except'; expected ',', '/' or the end of the line", (), id="except-after-ports"),
    pytest.param("namespace app\nallow a -> 10.0.0.0/8 except\n", "t.seg:2:29", "SEG001", "unexpected end of the line; expected an address block such as 10.0.0.0/8", (), id="except-without-block"),
    # ----------------------------------------------------- label keys/values
    pytest.param(
        "namespace app\nallow a -> {" + "k" * 64 + "=x}\n",
        "t.seg:2:13",
        "SEG020",
        f"label key name {'k' * 64!r} is 64 characters long; the limit is 63",
        (),
        id="key-name-64-chars",
    ),
    pytest.param(
        "namespace app\nallow a -> {example.com/" + "k" * 64 + "}\n",
        "t.seg:2:13",
        "SEG020",
        f"label key name {'k' * 64!r} is 64 characters long; the limit is 63",
        (),
        id="prefixed-key-name-64-chars",
    ),
    pytest.param(
        "namespace app\nallow a -> {tier=" + "v" * 64 + "}\n",
        "t.seg:2:18",
        "SEG021",
        f"label value {'v' * 64!r} is 64 characters long; the limit is 63",
        (),
        id="value-64-chars",
    ),
    pytest.param(
        "namespace app\nallow a -> {Tier_=x}\n",
        "t.seg:2:13",
        "SEG020",
        "label key 'Tier_' must start and end with a letter or digit and contain only letters, digits, '-', '_' and '.'",
        (),
        id="key-ends-with-underscore",
    ),
    pytest.param(
        "namespace app\nallow a -> {_tier=x}\n",
        "t.seg:2:13",
        "SEG020",
        "label key '_tier' must start and end with a letter or digit and contain only letters, digits, '-', '_' and '.'",
        (),
        id="key-starts-with-underscore",
    ),
    pytest.param(
        "namespace app\nallow a -> {tiér=x}\n",
        "t.seg:2:13",
        "SEG020",
        "label key 'tiér' must start and end with a letter or digit and contain only letters, digits, '-', '_' and '.'",
        (),
        id="key-non-ascii",
    ),
    pytest.param(
        "namespace app\nallow a -> {!bad_, x}\n",
        "t.seg:2:14",
        "SEG020",
        "label key 'bad_' must start and end with a letter or digit and contain only letters, digits, '-', '_' and '.'",
        (),
        id="absent-key-charset",
    ),
    pytest.param(
        "namespace app\nallow a -> {Example.COM/tier=x}\n",
        "t.seg:2:13",
        "SEG020",
        "label key prefix 'Example.COM' must be a lowercase DNS subdomain (at most 253 characters)",
        (),
        id="key-prefix-uppercase",
    ),
    pytest.param(
        "namespace app\nallow a -> {my_org.io/tier=x}\n",
        "t.seg:2:13",
        "SEG020",
        "label key prefix 'my_org.io' must be a lowercase DNS subdomain (at most 253 characters)",
        (),
        id="key-prefix-underscore",
    ),
    pytest.param("namespace app\nallow a -> {example.com/=y}\n", "t.seg:2:13", "SEG020", "label key 'example.com/' has an empty name part", (), id="key-empty-name"),
    pytest.param("namespace app\nallow a -> {a/b/c=y}\n", "t.seg:2:13", "SEG020", "label key 'a/b/c' has more than one '/'", (), id="key-two-slashes"),
    pytest.param(
        'namespace app\nallow a -> {x="bad value"}\n',
        "t.seg:2:15",
        "SEG021",
        "label value 'bad value' must start and end with a letter or digit and contain only letters, digits, '-', '_' and '.'",
        (),
        id="value-with-space",
    ),
    pytest.param(
        "namespace app\nallow a -> {x=-bad}\n",
        "t.seg:2:15",
        "SEG021",
        "label value '-bad' must start and end with a letter or digit and contain only letters, digits, '-', '_' and '.'",
        (),
        id="value-starts-with-dash",
    ),
    pytest.param(
        "namespace app\nallow a -> {x in (ok, bad_)}\n",
        "t.seg:2:23",
        "SEG021",
        "label value 'bad_' must start and end with a letter or digit and contain only letters, digits, '-', '_' and '.'",
        (),
        id="value-in-list",
    ),
    pytest.param(
        "namespace App\n",
        "t.seg:1:11",
        "SEG022",
        "namespace name 'App' must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit",
        (),
        id="namespace-uppercase",
    ),
    pytest.param(
        "namespace app\ndeny-all in " + "n" * 64 + "\n",
        "t.seg:2:13",
        "SEG022",
        f"namespace name {'n' * 64!r} is 64 characters long; the limit is 63",
        (),
        id="namespace-64-chars",
    ),
    # ----------------------------------------------------------------- CIDRs
    pytest.param("namespace app\nallow a -> 10.0.0.1/8:443\n", "t.seg:2:12", "SEG010", "address block 10.0.0.1/8 has host bits set", ("did you mean 10.0.0.0/8?",), id="host-bits-v4"),
    pytest.param("namespace app\nallow a -> 2001:db8::1/32\n", "t.seg:2:12", "SEG010", "address block 2001:db8::1/32 has host bits set", ("did you mean 2001:db8::/32?",), id="host-bits-v6"),
    pytest.param("namespace app\nallow 192.0.2.1/24 -> a\n", "t.seg:2:7", "SEG010", "address block 192.0.2.1/24 has host bits set", ("did you mean 192.0.2.0/24?",), id="host-bits-source"),
    pytest.param("namespace app\nallow a -> 2001:db8\n", "t.seg:2:12", "SEG010", "2001:db8 looks like an IPv6 address without a prefix length", ("write an address block, e.g. 2001:db8::/32",), id="ipv6-no-prefix"),
    pytest.param("namespace app\nallow a -> 10.0.0.0/8888\n", "t.seg:2:12", "SEG010", "10.0.0.0/8888 is not a valid address block: the prefix length /8888 is longer than 32 bits", (), id="long-prefix-v4"),
    pytest.param("namespace app\nallow a -> fd00::/999\n", "t.seg:2:12", "SEG010", "fd00::/999 is not a valid address block: the prefix length /999 is longer than 128 bits", (), id="long-prefix-v6"),
    pytest.param(
        "namespace app\nallow a -> 10.0.0.0/8 except 10.1.0.1/16\n",
        "t.seg:2:30",
        "SEG010",
        "address block 10.1.0.1/16 has host bits set",
        ("did you mean 10.1.0.0/16?",),
        id="host-bits-in-except",
    ),
    pytest.param("namespace app\nallow a -> 10.0.0.0/8 except ::/0\n", "t.seg:2:30", "SEG011", "except block ::/0 is IPv6 but 10.0.0.0/8 is IPv4", (), id="except-v6-in-v4"),
    pytest.param(
        "namespace app\nallow a -> 2001:db8::/32 except 10.0.0.0/8\n",
        "t.seg:2:33",
        "SEG011",
        "except block 10.0.0.0/8 is IPv4 but 2001:db8::/32 is IPv6",
        (),
        id="except-v4-in-v6",
    ),
    pytest.param(
        "namespace app\nallow a -> 10.0.0.0/8 except 11.0.0.0/16\n",
        "t.seg:2:30",
        "SEG012",
        "except block 11.0.0.0/16 is not inside 10.0.0.0/8",
        ("Kubernetes rejects an ipBlock whose except lies outside its cidr",),
        id="except-outside",
    ),
    pytest.param(
        "namespace app\nallow a -> 10.0.0.0/16 except 10.0.0.0/8\n",
        "t.seg:2:31",
        "SEG012",
        "except block 10.0.0.0/8 is not inside 10.0.0.0/16",
        None,
        id="except-wider",
    ),
    pytest.param("namespace app\nallow a -> 10.0.0.0/8 except 10.0.0.0/8\n", "t.seg:2:30", "SEG012", "except block 10.0.0.0/8 removes all of 10.0.0.0/8", (), id="except-everything"),
    pytest.param(
        "namespace app\nallow a -> 999.0.0.0/8\n",
        "t.seg:2:12",
        "SEG010",
        "999.0.0.0/8 is not a valid address block: octet 999 (> 255) not permitted in '999.0.0.0'",
        (),
        id="octet-too-big",
    ),
    pytest.param(
        "namespace app\nallow a -> 10.0.0.0/40\n",
        "t.seg:2:12",
        "SEG010",
        "10.0.0.0/40 is not a valid address block: the prefix length /40 is longer than 32 bits",
        (),
        id="prefix-too-long-v4",
    ),
    pytest.param(
        "namespace app\nallow a -> ::/129\n",
        "t.seg:2:12",
        "SEG010",
        "::/129 is not a valid address block: the prefix length /129 is longer than 128 bits",
        (),
        id="prefix-too-long-v6",
    ),
    pytest.param(
        "namespace app\nallow a -> 1::2::3/64\n",
        "t.seg:2:12",
        "SEG010",
        "1::2::3/64 is not a valid address block: at most one '::' permitted in '1::2::3'",
        (),
        id="v6-two-double-colons",
    ),
    pytest.param(
        "namespace app\nallow a -> 10.0.0/8\n",
        "t.seg:2:12",
        "SEG010",
        "10.0.0 is not an address block: expected 4 octets in '10.0.0'",
        (),
        id="three-octets",
    ),
    pytest.param(
        "namespace app\nallow a -> 10.0.0.0\n",
        "t.seg:2:12",
        "SEG010",
        "address 10.0.0.0 has no prefix length",
        ("did you mean 10.0.0.0/32?",),
        id="address-without-prefix",
    ),
    # ----------------------------------------------------------------- ports
    pytest.param("namespace app\nallow a -> b:0\n", "t.seg:2:14", "SEG030", "port 0 is outside 1-65535", (), id="port-0"),
    pytest.param("namespace app\nallow a -> b:65536\n", "t.seg:2:14", "SEG030", "port 65536 is outside 1-65535", (), id="port-65536"),
    pytest.param("namespace app\nallow a -> b:8080,http,70000/udp\n", "t.seg:2:24", "SEG030", "port 70000 is outside 1-65535", (), id="port-in-list"),
    pytest.param("namespace app\nallow a -> b:8000-99999\n", "t.seg:2:14", "SEG030", "port 99999 is outside 1-65535", (), id="range-end-too-big"),
    pytest.param("namespace app\nallow a -> b:9000-8000\n", "t.seg:2:14", "SEG031", "port range 9000-8000 is reversed", ("did you mean 8000-9000?",), id="reversed-range"),
    pytest.param(
        "namespace app\nallow a -> b:averyveryverylongportname\n",
        "t.seg:2:14",
        "SEG033",
        "port name 'averyveryverylongportname' is 25 characters long; Kubernetes allows at most 15",
        (),
        id="port-name-too-long",
    ),
    pytest.param("namespace app\nallow a -> b:metrics-exporter\n", "t.seg:2:14", "SEG033", "port name 'metrics-exporter' is 16 characters long; Kubernetes allows at most 15", (), id="port-name-16"),
    pytest.param(
        "namespace app\nallow a -> b:HTTP\n",
        "t.seg:2:14",
        "SEG033",
        "'HTTP' is neither a port number, a range like 8000-8100, nor a valid port name",
        ("a port name has lowercase letters, digits and single '-', at least one letter",),
        id="port-name-uppercase",
    ),
    pytest.param(
        "namespace app\nallow a -> b:http-\n",
        "t.seg:2:14",
        "SEG033",
        "'http-' is neither a port number, a range like 8000-8100, nor a valid port name",
        None,
        id="port-name-trailing-dash",
    ),
    pytest.param(
        "namespace app\nallow a -> b:80,my_port/udp\n",
        "t.seg:2:17",
        "SEG033",
        "'my_port' is neither a port number, a range like 8000-8100, nor a valid port name",
        None,
        id="port-name-underscore",
    ),
    pytest.param("namespace app\nallow a -> b:80/icmp\n", "t.seg:2:17", "SEG032", "unknown protocol 'icmp'", ("expected tcp, udp or sctp",), id="unknown-protocol"),
    pytest.param("namespace app\nallow a -> b:53/udp,53/tcpp\n", "t.seg:2:24", "SEG032", "unknown protocol 'tcpp'", ("expected tcp, udp or sctp",), id="unknown-protocol-in-list"),
    # ------------------------------------------------------- names and groups
    pytest.param("allow a -> *\n", "t.seg:1:7", "SEG041", "no current namespace for this name", ("write `namespace NAME` earlier in this file, or qualify it as NAMESPACE/NAME",), id="bare-name-no-namespace"),
    pytest.param("allow data/a -> *\n", "t.seg:1:17", "SEG041", "no current namespace for this name", None, id="star-no-namespace"),
    pytest.param("allow data/a -> {tier=db}\n", "t.seg:1:17", "SEG041", "no current namespace for this name", None, id="selector-no-namespace"),
    pytest.param("deny-all\n", "t.seg:1:1", "SEG041", "no current namespace for this name", None, id="deny-all-no-namespace"),
]


@pytest.mark.parametrize("text, where, code, message, notes", CASES)
def test_error(text, where, code, message, notes):
    d = only(text)
    assert (str(d.span), d.severity, d.code, d.message) == (where, "error", code, message)
    if notes is not None:
        assert d.notes == notes


def test_syntax_error_span_covers_the_bad_token():
    d = only("namespace app\ndeny-all sideways\n")
    assert (d.span.line, d.span.column, d.span.end_line, d.span.end_column) == (2, 10, 2, 18)


def test_label_error_span_covers_the_whole_key():
    d = only("namespace app\nallow a -> {example.com/=y}\n")
    assert (d.span.column, d.span.end_column) == (13, 25)


# ------------------------------------------------------------- groups, names


def test_duplicate_group_note_points_at_the_first():
    text = "namespace app\ngroup g = {x=y}\nallow a -> b\n\ngroup g = {x=z}\n"
    d = only(text)
    assert brief(d) == ("t.seg:5:1", "error", "SEG040", "group 'g' is already defined")
    assert d.notes == ("first defined at t.seg:2:1",)


def test_duplicate_group_across_files(tmp_path):
    (tmp_path / "a.seg").write_text("namespace app\nservice api = {tier=api}\n")
    (tmp_path / "b.seg").write_text("namespace app\n\nservice api = {tier=web}\n")
    a, b = str(tmp_path / "a.seg"), str(tmp_path / "b.seg")
    diags = sorted(set(compile_paths([a, b]).diagnostics))
    assert len(diags) == 1
    (d,) = diags
    assert (d.span.file.endswith("b.seg"), d.span.line, d.span.column, d.code) == (True, 3, 1, "SEG040")
    assert d.notes[0].startswith("first defined at ") and d.notes[0].endswith("a.seg:2:1")


def test_user_group_may_shadow_the_stdlib():
    assert diagnostics("namespace app\ngroup dns = {app=coredns}\nallow dns\n") == []


def test_group_cycle():
    text = "namespace app\ngroup c1 = c2\ngroup c2 = c1\nallow a -> c1\n"
    diags = diagnostics(text)
    assert_readable(diags)
    assert {brief(d) for d in diags} == {
        ("t.seg:2:1", "error", "SEG043", "group 'c1' is defined in terms of itself: c1 -> c2 -> c1"),
        ("t.seg:3:1", "error", "SEG043", "group 'c2' is defined in terms of itself: c2 -> c1 -> c2"),
    }


def test_group_cycle_is_reported_once_per_group():
    text = "namespace app\ngroup c1 = c2\ngroup c2 = c1\nallow a -> c1\nallow c2 -> a\n"
    codes = [str(d.span) for d in compile_paths(["t.seg"], {"t.seg": text}).diagnostics]
    assert codes == ["t.seg:2:1", "t.seg:3:1"]


def test_group_defined_by_itself():
    d = only("namespace app\ngroup me = me:80\n")
    assert brief(d) == ("t.seg:2:1", "error", "SEG043", "group 'me' is defined in terms of itself: me -> me")


def test_near_miss_is_a_warning_with_did_you_mean():
    text = "namespace app\ngroup backend = {tier=be}\nallow frontend -> backnd:8080\n"
    result = compile_paths(["t.seg"], {"t.seg": text})
    assert result.ok, result.diagnostics  # a warning does not stop the build
    (d,) = set(result.diagnostics)
    assert brief(d) == ("t.seg:3:19", "warning", "SEG044", "'backnd' is not a group; it means the pods labelled app=backnd")
    assert d.notes == ("did you mean the group 'backend'?",)


def test_near_miss_of_a_stdlib_group():
    (d,) = diagnostics("namespace app\nallow frontend -> dnss\n")
    assert (str(d.span), d.severity, d.code) == ("t.seg:2:19", "warning", "SEG044")
    assert d.notes == ("did you mean the group 'dns'?",)


def test_far_names_get_no_warning():
    assert diagnostics("namespace app\ngroup backend = {tier=be}\nallow frontend -> db\n") == []


# ------------------------------------------------------------ several errors


def test_every_syntax_error_of_a_file_is_reported():
    text = "\n".join(
        [
            "namespace app",  # 1
            "allow a ->",  # 2 syntax
            "allow frontend -> backend:8080",  # 3 fine
            "allow a b",  # 4 syntax
            "allow a -> b:70000",  # 5 token error on a line that parses
            "deny-all sideways",  # 6 syntax
            "allow a -> {Tier_=x}",  # 7 label key
            "allow a -> 10.0.0.1/8",  # 8 host bits
        ]
    )
    diags = diagnostics(text)
    assert_readable(diags)
    assert [(d.span.line, d.span.column, d.code) for d in diags] == [
        (2, 11, "SEG001"),
        (4, 9, "SEG001"),
        (5, 14, "SEG030"),
        (6, 10, "SEG001"),
        (7, 13, "SEG020"),
        (8, 12, "SEG010"),
    ]


def test_every_token_error_of_a_file_is_reported():
    text = "namespace app\nallow a -> b:0\nallow a -> b:9-8\nallow a -> b:1/icmp\nallow a -> {x=-y}\n"
    diags = diagnostics(text)
    assert [(d.span.line, d.code) for d in diags] == [(2, "SEG030"), (3, "SEG031"), (4, "SEG032"), (5, "SEG021")]


def test_line_numbers_count_only_newlines():
    # A form feed or a Unicode line separator is not a new line (lark does not
    # count it); after a syntax error the line-by-line re-parse must agree.
    for sep in ("\f", "\u2028", "\x0b", "\x1c", "\x85"):
        text = f"namespace app\n# note{sep}more\nallow a ->\n"
        (d,) = diagnostics(text)
        assert (d.span.line, d.span.column, d.code) == (3, 11, "SEG001"), repr(sep)


def test_a_lone_carriage_return_is_not_a_line_break():
    (d,) = diagnostics("namespace app\rallow a\n")
    assert (str(d.span), d.code) == ("t.seg:1:14", "SEG001")
    assert d.message.startswith("unexpected character '\\r'")


def test_crlf_line_endings():
    assert diagnostics("namespace app\r\nallow a -> b:80\r\n") == []
    diags = diagnostics("namespace app\r\nallow a -> b:0\r\nallow a ->\r\n")
    assert [(d.span.line, d.span.column, d.code) for d in diags] == [(2, 14, "SEG030"), (3, 11, "SEG001")]


def test_tabs_count_as_one_column():
    (d,) = diagnostics("namespace app\n\tallow\ta -> b:0\n")
    assert (d.span.line, d.span.column, d.code) == (2, 15, "SEG030")


def test_messages_name_no_grammar_tokens():
    bad = [
        "allow", "allow a ->", "allow a b", "allow {", "allow {a=}", "allow {a in ()}", "allow a -> b:",
        "allow a -> b:80/", "deny-all in", "group x", "group x =", "import", "namespace a b", "allow a -> 10.0.0.0/8 except",
        "allow */", "allow a/", "allow a -> b:80,", "}", "->", '"', "allow a -> {a=\"", "allow a -> b:80 x",
    ]
    for line in bad:
        diags = diagnostics("namespace app\n" + line + "\n")
        assert diags and all(d.severity == "error" for d in diags), line
        assert_readable(diags)
        for d in diags:
            assert d.span.line == 2 and 1 <= d.span.column <= len(line) + 1, (line, brief(d))


# ------------------------------------------------------------------- files


def test_import_cycle_shows_the_chain(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "e.seg").write_text('import "f.seg"\nnamespace app\n')
    (tmp_path / "f.seg").write_text('# f\nimport "g.seg"\n')
    (tmp_path / "g.seg").write_text('namespace app\n\nimport "e.seg"\n')
    d = only_paths(["e.seg"])
    assert brief(d) == ("g.seg:3:1", "error", "SEG050", "import cycle: e.seg -> f.seg -> g.seg -> e.seg")


def test_file_importing_itself(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "self.seg").write_text('namespace app\nimport "./self.seg"\n')
    d = only_paths(["self.seg"])
    assert brief(d) == ("self.seg:2:1", "error", "SEG050", "import cycle: self.seg -> self.seg")


def test_diamond_import_is_not_a_cycle(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "top.seg").write_text('import "l.seg"\nimport "r.seg"\nnamespace app\nallow a -> b\n')
    (tmp_path / "l.seg").write_text('import "base.seg"\n')
    (tmp_path / "r.seg").write_text('import "base.seg"\n')
    (tmp_path / "base.seg").write_text("namespace app\ngroup b = {tier=b}\n")
    assert compile_paths(["top.seg"]).diagnostics == []


def test_import_of_a_missing_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "h.seg").write_text('namespace app\nimport "lib/missing.seg"\n')
    d = only_paths(["h.seg"])
    assert brief(d) == ("h.seg:2:1", "error", "SEG051", f"cannot read {os.path.join('lib', 'missing.seg')}: No such file or directory")


def test_import_is_relative_to_the_importing_file(tmp_path, monkeypatch):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "a.seg").write_text('import "b.seg"\n')
    (tmp_path / "lib" / "b.seg").write_text("namespace app\nallow a -> b:0\n")
    monkeypatch.chdir(tmp_path)
    d = only_paths(["lib/a.seg"])
    assert (str(d.span), d.code) == (os.path.join("lib", "b.seg") + ":2:14", "SEG030")


def test_missing_top_level_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    d = only_paths(["nope.seg"])
    assert brief(d) == ("nope.seg:1:1", "error", "SEG051", "cannot read nope.seg: No such file or directory")


def test_unreadable_top_level_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dir.seg").mkdir()
    d = only_paths(["dir.seg"])
    assert brief(d) == ("dir.seg:1:1", "error", "SEG051", "cannot read dir.seg: Is a directory")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_file_without_read_permission(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secret.seg").write_text("namespace app\n")
    os.chmod(tmp_path / "secret.seg", 0)
    d = only_paths(["secret.seg"])
    assert brief(d) == ("secret.seg:1:1", "error", "SEG051", "cannot read secret.seg: Permission denied")


def test_invalid_utf8_points_at_the_byte(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.seg").write_bytes("namespace app\nallow é -> \xff\n".encode("utf-8").replace(b"\xc3\xbf", b"\xff"))
    d = only_paths(["bad.seg"])
    assert brief(d) == ("bad.seg:2:12", "error", "SEG051", "bad.seg is not UTF-8 text: byte 0xff here cannot be decoded")
    assert d.notes == ("save the file as UTF-8",)


def test_invalid_utf8_in_an_imported_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "top.seg").write_text('namespace app\nimport "latin1.seg"\n')
    (tmp_path / "latin1.seg").write_bytes("# caf\xe9\n".encode("latin-1"))
    d = only_paths(["top.seg"])
    assert (str(d.span), d.code) == ("latin1.seg:1:6", "SEG051")
    assert d.notes == ("save the file as UTF-8", "imported at top.seg:2:1")


def test_invalid_utf8_given_as_bytes():
    (d,) = sorted(set(compile_paths(["<stdin>"], {"<stdin>": b"namespace app\n\xc3"}).diagnostics))
    assert (str(d.span), d.code) == ("<stdin>:2:1", "SEG051")


def test_byte_order_mark_is_not_text(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bom.seg").write_bytes(b"\xef\xbb\xbfnamespace app\nallow a -> b:0\n")
    d = only_paths(["bom.seg"])
    assert (str(d.span), d.code) == ("bom.seg:2:14", "SEG030")


def only_paths(paths):
    diags = sorted(set(compile_paths(paths).diagnostics))
    assert len(diags) == 1, [brief(d) for d in diags]
    assert_readable(diags)
    return diags[0]


# --------------------------------------------------------- rendered output


def run_check(args, cwd):
    runner = CliRunner()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return runner.invoke(cli, ["check", *args], catch_exceptions=False)
    finally:
        os.chdir(old)


def test_check_text_shows_source_line_and_caret(tmp_path):
    (tmp_path / "app.seg").write_text("namespace app\n\nallow frontend -> backend:9000-8000/tcp\n")
    r = run_check(["app.seg"], tmp_path)
    assert r.exit_code == 1
    lines = r.stderr.splitlines()
    assert lines[0] == "app.seg:3:27: error: port range 9000-8000 is reversed [SEG031]"
    assert lines[1] == "    allow frontend -> backend:9000-8000/tcp"
    assert lines[2] == "    " + " " * 26 + "^" * len("9000-8000")
    assert lines[3] == "    note: did you mean 8000-9000?"
    # The caret stands under column 27 of the source line.
    assert lines[2].index("^") - 4 == 26 and lines[1][4 + 26 :].startswith("9000-8000")


def test_check_text_caret_with_tabs_and_crlf(tmp_path):
    (tmp_path / "t.seg").write_bytes(b"namespace app\r\n\tallow a -> b:0\r\n")
    r = run_check(["t.seg"], tmp_path)
    assert r.exit_code == 1
    lines = r.stderr.splitlines()
    assert lines[0] == "t.seg:2:15: error: port 0 is outside 1-65535 [SEG030]"
    assert lines[1] == "     allow a -> b:0"  # the tab shows as one space, no '\r'
    assert lines[2] == "    " + " " * 14 + "^"


def test_check_text_every_diagnostic_has_a_caret(tmp_path):
    (tmp_path / "t.seg").write_text("namespace app\nallow a ->\nallow a b\n")
    r = run_check(["t.seg"], tmp_path)
    assert r.exit_code == 1
    lines = r.stderr.splitlines()
    assert lines == [
        f"t.seg:2:11: error: unexpected end of the line; expected {EXPECTED_ANY} [SEG001]",
        "    allow a ->",
        "    " + " " * 10 + "^",
        "t.seg:3:9: error: unexpected 'b'; expected '->', '/', ':' or the end of the line [SEG001]",
        "    allow a b",
        "    " + " " * 8 + "^",
    ]


def test_check_text_reports_a_duplicate_once(tmp_path):
    (tmp_path / "t.seg").write_text("namespace app\ngroup c1 = c2\ngroup c2 = c1\nallow a -> c1\n")
    r = run_check(["t.seg"], tmp_path)
    assert r.stderr.count("t.seg:2:1: error") == 1


def test_check_text_warning(tmp_path):
    (tmp_path / "t.seg").write_text("namespace app\ngroup backend = {tier=be}\nallow backnd\n")
    r = run_check(["t.seg"], tmp_path)
    assert r.exit_code == 0
    # The unused group (SEG106, line 2) is reported too: the typo left it unused.
    assert "t.seg:3:7: warning: 'backnd' is not a group; it means the pods labelled app=backnd [SEG044]" in r.stderr.splitlines()
    assert "    note: did you mean the group 'backend'?" in r.stderr.splitlines()


def test_check_json(tmp_path):
    (tmp_path / "t.seg").write_text("namespace app\nallow a -> 10.0.0.1/8\nallow a -> b:0\n")
    r = run_check(["--format", "json", "t.seg"], tmp_path)
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    assert isinstance(data, list)
    assert data == [
        {
            "file": "t.seg",
            "line": 2,
            "column": 12,
            "severity": "error",
            "code": "SEG010",
            "message": "address block 10.0.0.1/8 has host bits set",
            "notes": ["did you mean 10.0.0.0/8?"],
        },
        {"file": "t.seg", "line": 3, "column": 14, "severity": "error", "code": "SEG030", "message": "port 0 is outside 1-65535", "notes": []},
    ]
    assert "Traceback" not in r.output


def test_check_json_clean_file_is_an_empty_list(tmp_path):
    (tmp_path / "t.seg").write_text("namespace app\nallow a -> b:80\n")
    r = run_check(["--format", "json", "t.seg"], tmp_path)
    assert r.exit_code == 0
    assert json.loads(r.stdout) == []


def test_check_json_missing_file(tmp_path):
    r = run_check(["--format", "json", "missing.seg"], tmp_path)
    assert r.exit_code == 1
    (d,) = json.loads(r.stdout)
    assert (d["file"], d["line"], d["column"], d["severity"], d["code"]) == ("missing.seg", 1, 1, "error", "SEG051")
