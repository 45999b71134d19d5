"""`segc diff`: the meaning that changed.

Properties on random programs and random clusters: a connection is reported
opened iff NEW allows it and OLD does not (closed: the reverse), by the
programs' own meaning (evaluator 1); `diff X X` is empty; a reordered and
reformatted program diffs empty; on the witness cluster, every reported
change is a real difference and every difference is reported.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from click.testing import CliRunner
from hypothesis import given, note, settings
from hypothesis import strategies as st

from segc import diff as segdiff
from segc.cli import cli
from segc.compile import compile_paths
from segc.seg_eval import SegEvaluator
from example_names import NAMES
from strategies import PROBE_PORTS, cluster, program, program_with_denies

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFUSALS = {"SEG060", "SEG061"}
DENY_REFUSALS = {"SEG080", "SEG081", "SEG082", "SEG083", "SEG084", "SEG085"}
# The two exhaustive checks below probe every endpoint pair on every port
# interval; a third of the profile's examples keeps the suite fast (the deep
# profile still runs thousands).
HEAVY = settings(max_examples=max(30, settings().max_examples // 3))


def side(text: str, name: str = "p.seg") -> segdiff.Side | None:
    result = compile_paths([name], {name: text})
    if not result.ok:
        assert {d.code for d in result.diagnostics if d.severity == "error"} <= REFUSALS | DENY_REFUSALS, result.diagnostics
        return None
    return segdiff._from_seg(segdiff.Side(name), result)


def segc(*args: str):
    return CliRunner().invoke(cli, list(args))


# ------------------------------------------------------------------ properties


def _reported(d: segdiff.Diff) -> dict[tuple, str]:
    return {(c.src.key, c.dst.key, c.ports.protocol, c.ports.start, c.ports.end): c.kind for c in d.changes}


def _lookup(reported, s, dst, port, proto):
    for (a, b, p, lo, hi), kind in reported.items():
        if a == s and b == dst and p == proto and lo <= port <= hi:
            return kind
    return None


@HEAVY
@given(program(), program(), cluster())
def test_opened_iff_new_allows_and_old_does_not(old_text, new_text, c):
    _opened_iff_new_allows(old_text, new_text, c)


@HEAVY
@given(program_with_denies(), st.one_of(program(), program_with_denies()), cluster())
def test_opened_iff_new_allows_and_old_does_not_with_denies(old_text, new_text, c):
    _opened_iff_new_allows(old_text, new_text, c)
    _opened_iff_new_allows(new_text, old_text, c)


def _opened_iff_new_allows(old_text, new_text, c):
    note(old_text)
    note(new_text)
    old, new = side(old_text, "old.seg"), side(new_text, "new.seg")
    if old is None or new is None:
        return
    d = segdiff.diff_sides(old, new, c)
    reported = _reported(d)
    ev_old, ev_new = SegEvaluator(old.program, d.cluster), SegEvaluator(new.program, d.cluster)
    for s in d.cluster.endpoints():
        for t in d.cluster.endpoints():
            if s is t:
                continue
            for port, proto in PROBE_PORTS:
                a, b = ev_old.allowed(s, t, port, proto), ev_new.allowed(s, t, port, proto)
                want = "opened" if b and not a else "closed" if a and not b else None
                assert _lookup(reported, s.key, t.key, port, proto) == want, (s.key, t.key, port, proto)


@HEAVY
@given(program(), program())
def test_witness_changes_are_exactly_the_differences_on_the_witness(old_text, new_text):
    """Symbolic mode: checked with evaluator 1 on every witness endpoint pair and port interval."""
    _witness_changes_are_exact(old_text, new_text)


@HEAVY
@given(program_with_denies(), st.one_of(program(), program_with_denies()))
def test_witness_changes_are_exact_with_denies(old_text, new_text):
    _witness_changes_are_exact(old_text, new_text)
    _witness_changes_are_exact(new_text, old_text)


def _witness_changes_are_exact(old_text, new_text):
    note(old_text)
    note(new_text)
    old, new = side(old_text, "old.seg"), side(new_text, "new.seg")
    if old is None or new is None:
        return
    d = segdiff.diff_sides(old, new)
    reported = {(id(c.src), id(c.dst), c.ports): c.kind for c in d.changes}
    ev_old, ev_new = SegEvaluator(old.program, d.cluster), SegEvaluator(new.program, d.cluster)
    for iv in d.witness.ports:
        for s in d.cluster.endpoints():
            for t in d.cluster.endpoints():
                a, b = ev_old.allowed(s, t, iv.start, iv.protocol), ev_new.allowed(s, t, iv.start, iv.protocol)
                want = "opened" if b and not a else "closed" if a and not b else None
                assert reported.get((id(s), id(t), iv)) == want
    for e in d.entries:
        assert e.causes  # every change names a reason
        for c in e.causes:
            # a deny is cited only on the side that denies the change, and only a deny statement
            assert c.role != "denies" or (c.text.startswith("deny ") and c.side == ("old" if e.kind == "opened" else "new"))


def _without_denies(text: str) -> str:
    return "".join(line + "\n" for line in text.splitlines() if not line.startswith("deny "))


@HEAVY
@given(program_with_denies(), cluster())
def test_the_witness_sees_what_a_deny_cuts_out(text, c):
    """Dropping the denies changes the meaning on some random cluster only if
    the symbolic diff (on the witness of both sides) reports a change: the
    witness holds pods and ports on both sides of every deny's cut."""
    note(text)
    with_denies, without = side(text, "new.seg"), side(_without_denies(text), "old.seg")
    if with_denies is None or without is None:
        return
    ev_a, ev_b = SegEvaluator(without.program, c), SegEvaluator(with_denies.program, c)
    differs = any(
        ev_a.allowed(s, t, port, proto) != ev_b.allowed(s, t, port, proto)
        for s in c.endpoints()
        for t in c.endpoints()
        if s is not t
        for port, proto in PROBE_PORTS
    )
    if differs:
        d = segdiff.diff_sides(without, with_denies)
        assert d.closed and not d.opened


@given(st.one_of(program(), program_with_denies()))
def test_diff_of_a_program_with_itself_is_empty(text):
    a, b = side(text, "a.seg"), side(text, "b.seg")
    if a is None:
        return
    assert segdiff.diff_sides(a, b).entries == []


@given(program(), st.randoms(use_true_random=False))
def test_reordered_and_reformatted_program_diffs_empty(text, rnd):
    blocks: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("namespace ") or not blocks:
            blocks.append([])
        blocks[-1].append(line)
    out = []
    for b in blocks:
        head, body = b[:1], b[1:]
        rnd.shuffle(body)
        for line in head + body:
            # spacing and comments never change meaning
            out.append("  " + line.replace("->", "  ->  ").replace(",", " , ") + "   # reformatted")
        out.append("")
    a, b = side(text, "a.seg"), side("\n".join(out) + "\n", "b.seg")
    if a is None:
        assert b is None
        return
    assert segdiff.diff_sides(a, b).entries == []


# ------------------------------------------------------------------ examples and CLI


EXAMPLES = NAMES


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_program_and_its_manifests_mean_the_same(name):
    seg = os.path.join(ROOT, "examples", name, f"{name}.seg")
    result = segc("diff", seg, os.path.join(ROOT, "examples", name, "expected"), "--fail-on-open")
    assert result.exit_code == 0, result.output
    assert "no change in what is allowed" in result.output


OLD = """namespace webapp
deny-all
allow dns
allow frontend -> api:8000
allow api -> postgres:5432
"""

# Same meaning as OLD plus one opened and one closed path, reordered and respaced.
NEW = """namespace webapp
allow   api ->   postgres:5432
deny-all
allow frontend -> postgres:5432      # new: opens frontend -> postgres
allow dns
"""


@pytest.fixture
def pair(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "old.seg").write_text(OLD)
    (tmp_path / "new.seg").write_text(NEW)
    return tmp_path


def test_text_names_the_change_and_the_lines(pair):
    result = segc("diff", "old.seg", "new.seg")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("segc diff old.seg new.seg: 1 opened, 1 closed")
    assert "opened  webapp/frontend -> webapp/postgres  on TCP 5432" in lines
    assert "    new: new.seg:4:1: allow frontend -> postgres:5432  (allows it)" in lines
    assert "closed  webapp/frontend -> webapp/api  on TCP 8000" in lines
    assert "    old: old.seg:4:1: allow frontend -> api:8000  (allows it)" in lines


def test_fail_on_open_and_formats(pair):
    assert segc("diff", "old.seg", "new.seg", "--fail-on-open").exit_code == 1
    assert segc("diff", "new.seg", "new.seg", "--fail-on-open").exit_code == 0
    data = json.loads(segc("diff", "old.seg", "new.seg", "--format", "json").output)
    assert [(e["from"], e["to"], e["ports"]) for e in data["opened"]] == [("webapp/frontend", "webapp/postgres", ["TCP 5432"])]
    assert data["opened"][0]["because"][0] == {"side": "new", "role": "allows", "text": "allow frontend -> postgres:5432", "file": "new.seg", "line": 4, "column": 1}
    md = segc("diff", "old.seg", "new.seg", "--format", "md").output
    assert md.startswith("### segc diff: 1 opened, 1 closed")
    assert "| **opened** | `webapp/frontend` | `webapp/postgres` | TCP 5432 |" in md
    # The picture of what changed: one edge per change, green opened, red closed.
    chart = md.split("```mermaid\n", 1)[1].split("```", 1)[0]
    edges = [line.strip() for line in chart.splitlines() if "-->" in line]
    assert len(edges) == 2 and '|"+ TCP 5432"|' in edges[0] and edges[1].startswith("n0 -->|\"− ")
    assert "linkStyle 0 stroke:#1a7f37" in chart and "linkStyle 1 stroke:#cf222e" in chart


def test_concrete_pairs_on_a_cluster(pair):
    (pair / "c.yaml").write_text(
        "kind: List\nitems:\n"
        "- {kind: Pod, metadata: {name: fe-1, namespace: webapp, labels: {app: frontend}}, status: {podIP: 10.0.0.1}}\n"
        "- {kind: Pod, metadata: {name: pg-0, namespace: webapp, labels: {app: postgres}}, status: {podIP: 10.0.0.2}}\n"
    )
    result = segc("diff", "old.seg", "new.seg", "--cluster", "c.yaml")
    assert result.exit_code == 0, result.output
    assert "opened  webapp/fe-1 -> webapp/pg-0  on TCP 5432" in result.output
    assert "1 opened, 0 closed" in result.output  # no api pod here: nothing closes


def test_git_revision_side_with_imports(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q"], check=True)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "common.seg").write_text("group db = data/postgres\n")
    (tmp_path / "policies" / "app.seg").write_text('import "common.seg"\n' + OLD.replace("api -> postgres", "api -> db"))
    subprocess.run(["git", "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    # The working tree changes the imported file: the revision side must not see it.
    (tmp_path / "policies" / "common.seg").write_text("group db = data/mysql\n")
    result = segc("diff", "HEAD:policies/app.seg", "policies/app.seg")
    assert result.exit_code == 0, result.output
    assert "opened  webapp/api -> data/mysql  on TCP 5432" in result.output
    assert "closed  webapp/api -> data/postgres  on TCP 5432" in result.output
    assert "old: HEAD:policies/app.seg:6:1: allow api -> db:5432  (allows it)" in result.output
    assert "no change in what is allowed" in segc("diff", "HEAD:policies/app.seg", "HEAD:policies/app.seg").output
    # A directory of manifests at a revision, against the program they came from.
    subprocess.run(["git", "stash", "-q"], check=True)
    assert segc("build", "policies/app.seg", "-o", "out").exit_code == 0
    subprocess.run(["git", "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "two"], check=True)
    same = segc("diff", "HEAD:out", "HEAD~1:policies/app.seg")
    assert same.exit_code == 0 and "no change in what is allowed" in same.output, same.output
    bad = segc("diff", "HEAD:nope.seg", "policies/app.seg")
    assert bad.exit_code == 1 and "no such .seg file at HEAD" in bad.output


def test_unreadable_sides_are_errors_not_tracebacks(pair):
    for args in (("missing.seg", "new.seg"), ("old.seg", "nothing-here"), ("old.seg", "c.txt")):
        (pair / "c.txt").write_text("x")
        result = segc("diff", *args)
        assert result.exit_code == 1 and "Traceback" not in result.output and "segc: error:" in result.output or "SEG051" in result.output, result.output


def test_a_yaml_side_is_explained_by_its_policies(pair):
    build = segc("build", "old.seg", "-o", "out")
    assert build.exit_code == 0, build.output
    result = segc("diff", "out", "new.seg")
    assert result.exit_code == 0, result.output
    assert "opened  webapp/frontend -> webapp/postgres  on TCP 5432" in result.output
    # evaluator 2's explanation, with witness pods named by their labels
    assert "    old: denied: src webapp/frontend is egress-isolated by webapp/" in result.output
    assert "pod-" not in result.output


def test_a_deny_is_cited_as_the_cause_in_every_format(tmp_path, monkeypatch):
    """Adding `deny {tier=batch} -> postgres` (examples/batch-jobs) closes the
    batch jobs' paths to postgres; removing it opens them. Both ways the deny
    statement is the cause, in text, md and json."""
    monkeypatch.chdir(tmp_path)
    example = open(os.path.join(ROOT, "examples", "batch-jobs", "batch-jobs.seg")).read()
    lines = example.splitlines()
    deny_line = next(i for i, line in enumerate(lines, 1) if line.startswith("deny "))
    (tmp_path / "with.seg").write_text(example)
    (tmp_path / "without.seg").write_text("\n".join(line for line in lines if not line.startswith("deny ")) + "\n")
    cause = f"with.seg:{deny_line}:1: deny {{tier=batch}} -> postgres  (denies it, whatever else is allowed)"
    closed = segc("diff", "without.seg", "with.seg")
    assert closed.exit_code == 0, closed.output
    assert "0 opened" in closed.output.splitlines()[0]
    assert "closed  shop/{tier=batch} -> shop/postgres  on SCTP every port, TCP every port, UDP every port" in closed.output
    assert f"    new: {cause}" in closed.output
    opened = segc("diff", "with.seg", "without.seg")
    assert "opened  shop/{tier=batch} -> shop/postgres" in opened.output and f"    old: {cause}" in opened.output
    data = json.loads(segc("diff", "without.seg", "with.seg", "--format", "json").output)
    assert data["closed"] and not data["opened"]
    for e in data["closed"]:
        assert {"side": "new", "role": "denies", "text": "deny {tier=batch} -> postgres", "file": "with.seg", "line": deny_line, "column": 1} in e["because"]
    md = segc("diff", "without.seg", "with.seg", "--format", "md").output
    assert f"new `with.seg:{deny_line}:1` denies it, whatever is allowed: `deny {{tier=batch}} -> postgres`" in md
