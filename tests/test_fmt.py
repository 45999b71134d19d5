"""`segc fmt`: the canonical layout, its safety (same meaning, stable), and the CLI.

Meaning is checked three ways on random programs: the parsed statements are
equal, the resolved programs are equal, and evaluator 1 agrees on a random
cluster; the built manifests are equal apart from the `segc.io/source`
annotation (which quotes the statement text, so it follows the layout).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from segc.compile import compile_paths
from segc.fmt import FormatError, format_text
from segc.seg_eval import SegEvaluator
from strategies import PROBE_PORTS, cluster, program

ROOT = Path(__file__).resolve().parent.parent
SEGC = [str(Path(sys.executable).parent / "segc")]


def strip_annotations(policies):
    """Policies without `segc.io/source`, which quotes statement text as written."""
    out = []
    for p in policies or []:
        meta = {k: v for k, v in p["metadata"].items() if k != "annotations"}
        out.append({**p, "metadata": meta})
    return out

# (title, input, expected output): the layout rules, one per case.
CASES = [
    ("spaces", "namespace   a\nallow  x->y : 80\n", "namespace a\nallow x -> y:80\n"),
    ("tabs and indentation", "\tnamespace a\n  allow\tx  ->  y\n", "namespace a\nallow x -> y\n"),
    ("blank lines", "\n\nnamespace a\n\n\n\nallow x -> y\n\n\n", "namespace a\n\nallow x -> y\n"),
    ("no final newline", "namespace a", "namespace a\n"),
    ("crlf", "namespace a\r\nallow x -> y\r\n", "namespace a\nallow x -> y\n"),
    ("empty", "\n\n", ""),
    ("label expression sorted", "namespace a\nallow {tier=api,env!=dev , app} -> y\n", "namespace a\nallow {app, env!=dev, tier=api} -> y\n"),
    ("== is =", "namespace a\nallow {a==b} -> y\n", "namespace a\nallow {a=b} -> y\n"),
    ("in values sorted and unique", "namespace a\nallow {t in (w,a,w)} -> y\n", "namespace a\nallow {t in (a, w)} -> y\n"),
    ("absent and quoted", 'namespace a\nallow {v="1.0", ! legacy} -> y\n', 'namespace a\nallow {!legacy, v="1.0"} -> y\n'),
    ("duplicate requirement", "namespace a\nallow {a=b, a=b} -> y\n", "namespace a\nallow {a=b} -> y\n"),
    ("ports sorted, tcp not written", "namespace a\nallow x -> y:8443,8080/tcp\n", "namespace a\nallow x -> y:8080,8443\n"),
    ("ports with protocols", "namespace a\nallow x -> y:53/UDP,53/tcp\n", "namespace a\nallow x -> y:53/tcp,53/udp\n"),
    ("the last item's protocol", "namespace a\nallow x -> y:80,443/udp\n", "namespace a\nallow x -> y:80/udp,443/udp\n"),
    ("port ranges and names", "namespace a\nallow x -> y:http,9000-9100,80,80-80\n", "namespace a\nallow x -> y:80,9000-9100,http\n"),
    ("except sorted", "namespace a\nallow x -> 10.0.0.0/8 except 10.2.0.0/16,10.1.0.0/16:443\n", "namespace a\nallow x -> 10.0.0.0/8 except 10.1.0.0/16, 10.2.0.0/16:443\n"),
    ("ipv6 compressed", "namespace a\nallow x -> 2001:DB8:0::/32\n", "namespace a\nallow x -> 2001:db8::/32\n"),
    ("qualified", "namespace a\nallow { team = x } / * -> data / db : 5432\n", "namespace a\nallow {team=x}/* -> data/db:5432\n"),
    (
        "arrows aligned in a paragraph",
        "namespace a\nallow frontend -> b\nallow x -> c\nallow dns\n\nallow yy -> d\n",
        "namespace a\nallow frontend -> b\nallow x        -> c\nallow dns\n\nallow yy -> d\n",
    ),
    (
        "long sources are not aligned",
        "namespace a\nallow x -> b\nallow ingress-nginx/{app.kubernetes.io/name=ingress-nginx} -> c\nallow yy -> d\n",
        "namespace a\nallow x  -> b\nallow ingress-nginx/{app.kubernetes.io/name=ingress-nginx} -> c\nallow yy -> d\n",
    ),
    ("groups aligned", "group a = x/y\ngroup long-name = x/z\n", "group a         = x/y\ngroup long-name = x/z\n"),
    (
        "trailing comments aligned",
        "namespace a   # here\nallow x -> y # one\nallow dns\n",
        "namespace a   # here\nallow x -> y  # one\nallow dns\n",
    ),
    ("comments kept verbatim", "#top\n   #  indented   \nnamespace a\n", "#top\n#  indented\nnamespace a\n"),
    ("hash in a string", 'import "a#b.seg"  # real\n', 'import "a#b.seg"  # real\n'),
    ("deny-all", "deny-all   egress   in   x\n", "deny-all egress in x\n"),
]


@pytest.mark.parametrize("title,source,expected", CASES, ids=[c[0] for c in CASES])
def test_layout(title, source, expected):
    assert format_text(source, "t.seg") == expected
    assert format_text(expected, "t.seg") == expected


def test_syntax_error_is_refused_with_a_located_diagnostic():
    with pytest.raises(FormatError) as e:
        format_text("namespace a\nallow x ->\n", "t.seg")
    (d,) = e.value.diagnostics
    assert (str(d.span), d.code) == ("t.seg:2:11", "SEG001")


# ------------------------------------------------------------ meaning kept


@st.composite
def noisy(draw, text: str) -> str:
    """The same program with other spacing, blank lines and comments."""
    out = []
    for i, line in enumerate(text.splitlines()):
        for sep in (" -> ", ", ", ","):
            line = line.replace(sep, draw(st.sampled_from([sep.strip(), " " + sep.strip() + " ", "\t" + sep.strip() + "  "])))
        line = line.replace("{", draw(st.sampled_from(["{", "{ "]))).replace("}", draw(st.sampled_from(["}", " }"])))
        line = draw(st.sampled_from(["", " ", "\t"])) + line + draw(st.sampled_from(["", "  ", "\t"]))
        if draw(st.booleans()):
            line += draw(st.sampled_from([" # why", "#x", '   # "q" #']))
        out += [""] * draw(st.integers(0, 2))
        if draw(st.integers(0, 4)) == 0:
            out.append(f"# note {i}")
        out.append(line)
    return "\n".join(out) + draw(st.sampled_from(["", "\n", "\n\n"]))


def _compile(text: str):
    return compile_paths(["p.seg"], {"p.seg": text})


@given(st.data(), cluster())
def test_fmt_keeps_meaning_and_is_stable(data, c):
    text = data.draw(program())
    messy = data.draw(noisy(text))
    note(messy)
    out = format_text(messy, "p.seg")
    note(out)
    assert format_text(out, "p.seg") == out
    before, after = _compile(messy), _compile(out)
    assert sorted((d.code, d.span.line > 0) for d in before.diagnostics) == sorted((d.code, d.span.line > 0) for d in after.diagnostics)
    assert before.program == after.program
    if before.program is not None:
        a, b = SegEvaluator(before.program, c), SegEvaluator(after.program, c)
        for src in c.endpoints():
            for dst in c.endpoints():
                for port, proto in PROBE_PORTS[:4]:
                    assert a.allowed(src, dst, port, proto) == b.allowed(src, dst, port, proto)
    if before.policies is not None:
        assert strip_annotations(before.policies) == strip_annotations(after.policies)


def _seg_files(*dirs: str) -> list[Path]:
    return sorted(p for d in dirs for p in (ROOT / d).rglob("*.seg"))


@pytest.mark.parametrize("path", _seg_files("examples", "stdlib"), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_example_and_stdlib_file_is_formatted(path):
    text = path.read_text(encoding="utf-8")
    assert format_text(text, str(path)) == text, f"run: segc fmt {path.relative_to(ROOT)}"


def test_examples_mean_the_same_after_formatting_a_messy_copy(tmp_path):
    """Mess up every example's spacing, format it back: same program, same manifests."""
    for example in sorted((ROOT / "examples").iterdir()):
        if not example.is_dir():
            continue
        copy = tmp_path / example.name
        shutil.copytree(example, copy, ignore=shutil.ignore_patterns("expected"))
        for f in copy.rglob("*.seg"):
            lines = [ln if "#" in ln else "\t" + ln.replace(" -> ", "->\t").replace(", ", ",").replace(" = ", "=") + "  " for ln in f.read_text().split("\n")]
            f.write_text("\n\n" + "\n".join(lines) + "\n\n", encoding="utf-8")
        main = f"{example.name}.seg"
        messy = compile_paths([str(copy / main)])
        subprocess.run([*SEGC, "fmt", str(copy)], check=True, capture_output=True)
        clean = compile_paths([str(copy / main)])
        original = compile_paths([str(example / main)])
        assert messy.program == clean.program == original.program
        assert strip_annotations(clean.policies) == strip_annotations(original.policies)
        for f in copy.rglob("*.seg"):
            assert f.read_text() == (example / f.relative_to(copy)).read_text()


# ---------------------------------------------------------------------- CLI


def run(*args, input=None, cwd=None):
    return subprocess.run([*SEGC, *args], input=input, capture_output=True, text=True, cwd=cwd)


def test_project_files_pass_fmt_check():
    """The project's own CI gate: examples and stdlib are in the canonical layout."""
    r = run("fmt", "--check", "examples/", "stdlib/", cwd=ROOT)
    assert r.returncode == 0, r.stderr


def test_check_names_files_and_exits_1(tmp_path):
    good, bad = tmp_path / "good.seg", tmp_path / "sub" / "bad.seg"
    bad.parent.mkdir()
    good.write_text("namespace a\n")
    bad.write_text("namespace  a\n")
    r = run("fmt", "--check", str(tmp_path))
    assert r.returncode == 1
    assert r.stderr.splitlines() == [f"would reformat {bad}"]
    assert bad.read_text() == "namespace  a\n"
    assert run("fmt", "--check", str(good)).returncode == 0


def test_diff_prints_a_unified_diff_and_writes_nothing(tmp_path):
    f = tmp_path / "a.seg"
    f.write_text("namespace  a\n")
    r = run("fmt", "--diff", str(f))
    assert r.returncode == 0
    assert "-namespace  a\n+namespace a\n" in r.stdout and r.stdout.startswith(f"--- {f}\n")
    assert f.read_text() == "namespace  a\n"
    assert run("fmt", "--check", "--diff", str(f)).returncode == 1


def test_writes_only_changed_files(tmp_path):
    clean, messy = tmp_path / "clean.seg", tmp_path / "messy.seg"
    clean.write_text("namespace a\n")
    messy.write_text("namespace   a\n")
    os.chmod(messy, 0o640)
    os.utime(clean, (1_000_000, 1_000_000))
    r = run("fmt", str(clean), str(messy))
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [f"reformatted {messy}"]
    assert os.stat(clean).st_mtime == 1_000_000
    assert messy.read_text() == "namespace a\n"
    assert os.stat(messy).st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean.seg", "messy.seg"]  # no temporary file left


def test_syntax_error_leaves_the_file_alone(tmp_path):
    f = tmp_path / "a.seg"
    f.write_text("namespace  a\nallow x ->\n")
    r = run("fmt", str(f))
    assert r.returncode == 1
    assert r.stderr.startswith(f"{f}:2:11: error: unexpected end of the line")
    assert f.read_text() == "namespace  a\nallow x ->\n"


def test_stdin_to_stdout():
    r = run("fmt", "-", input="namespace  a\n")
    assert (r.returncode, r.stdout) == (0, "namespace a\n")
    r = run("fmt", "--check", "-", input="namespace  a\n")
    assert (r.returncode, r.stdout, r.stderr) == (1, "", "would reformat <stdin>\n")


def test_statement_kinds_without_a_printer_are_laid_out_token_by_token(monkeypatch):
    """Other branches add statements (`deny SRC -> DST`, `expect ... allowed`):
    with their grammar rules and no printer here, fmt still writes the
    canonical endpoints, one space between the statement's parts, and aligns
    their `->` with the allows of the paragraph."""
    from importlib import resources

    from lark import Lark

    import segc.fmt as fmt

    grammar = resources.files("segc.grammar").joinpath("seg.lark").read_text(encoding="utf-8")
    # Add only the kinds the real grammar does not have yet (`expect` has landed).
    kinds = {"deny_stmt": 'deny_stmt: "deny" endpoint "->" target\n', "expect_stmt": 'expect_stmt: "expect" endpoint "->" target VERDICT\nVERDICT: "allowed" | "denied"\n'}
    missing = [k for k in kinds if f"\n{k}:" not in grammar]
    grammar = grammar.replace("?statement: namespace_stmt", "?statement: " + "".join(f"{k}\n          | " for k in missing) + "namespace_stmt", 1)
    grammar += "\n" + "".join(kinds[k] for k in missing)
    extended = Lark(grammar, parser="lalr", lexer="contextual", keep_all_tokens=True, maybe_placeholders=False)
    monkeypatch.setattr(fmt, "_tree_parser", lambda: extended)
    source = "namespace a\nallow web->db:5432\ndeny  {tier=x,app=y}/*  ->  db : 5432,80\nexpect web -> db:53/udp,53/tcp   denied # why\n"
    assert fmt._format(source, "t.seg") == (
        "namespace a\n"
        "allow web              -> db:5432\n"
        "deny {app=y, tier=x}/* -> db:80,5432\n"
        "expect web             -> db:53/tcp,53/udp denied  # why\n"
    )


def test_every_docs_snippet_formats_stably():
    """The language reference's snippets cover every construct: fmt must
    handle each (no refusal) and be stable on its own output."""
    import re

    snippets = [m.group(1) for page in sorted((ROOT / "docs").glob("*.md")) for m in re.finditer(r"```seg(?: file=\S+)?\n(.*?)```", page.read_text(), re.S)]
    assert len(snippets) > 20
    for text in snippets:
        out = format_text(text, "doc.seg")
        assert format_text(out, "doc.seg") == out
