"""The CLI contract of BRIEF.md: `build -o -|DIR`, `check`, exit codes, stdin,
determinism, and the safety rules of the output directory.

Most tests run the click command in-process (CliRunner); a few run the
installed `segc` script in a subprocess, end to end.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml
from click.testing import CliRunner

from segc import __version__
from segc.cli import cli
from segc.output import HEADER

PROGRAM = """namespace app
deny-all
allow dns
allow frontend -> backend:8080/tcp
allow backend -> db:5432
"""

# PROGRAM without its last statement: the policies for `db` go away.
SMALLER = """namespace app
deny-all
allow dns
allow frontend -> backend:8080/tcp
"""


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A temporary working directory holding app.seg."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.seg").write_text(PROGRAM)
    return tmp_path


def segc(*args: str, input: str | bytes | None = None):
    return CliRunner().invoke(cli, list(args), input=input)


def ok(result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 0, (result.exit_code, result.output)


def no_traceback(result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output


def snapshot(directory) -> dict[str, tuple[bytes, int]]:
    """Every file under ``directory``: contents and modification time."""
    out = {}
    for root, _dirs, files in os.walk(directory):
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, directory)] = (fh.read(), os.stat(p).st_mtime_ns)
    return out


def policy_files(directory) -> list[str]:
    return sorted(f for f in os.listdir(directory) if f.endswith(".yaml") and f != "kustomization.yaml")


# ------------------------------------------------------------------ -o -


def test_build_stdout_is_a_multi_document_stream(work):
    r = segc("build", "app.seg", "-o", "-")
    ok(r)
    assert r.stdout.startswith("---\n")
    docs = list(yaml.safe_load_all(r.stdout))
    assert len(docs) == r.stdout.count("---\n") >= 4
    for doc in docs:
        assert doc["apiVersion"] == "networking.k8s.io/v1"
        assert doc["kind"] == "NetworkPolicy"
        assert doc["metadata"]["namespace"] == "app"
    names = [d["metadata"]["name"] for d in docs]
    assert len(set(names)) == len(names)
    assert r.stderr == ""  # nothing but YAML on stdout, nothing to say on stderr


def test_build_stdout_keeps_warnings_on_stderr(work):
    (work / "w.seg").write_text("namespace app\ngroup backend = {tier=be}\nallow frontend -> backnd:80\n")
    r = segc("build", "w.seg", "-o", "-")
    ok(r)
    assert "w.seg:3:19: warning:" in r.stderr
    assert all(d["kind"] == "NetworkPolicy" for d in yaml.safe_load_all(r.stdout))


def test_build_several_files_are_one_program(work):
    (work / "groups.seg").write_text("namespace app\ngroup api = {tier=api}\n")
    (work / "rules.seg").write_text("namespace app\nallow frontend -> api:443\n")
    r = segc("build", "groups.seg", "rules.seg", "-o", "-")
    ok(r)
    text = r.stdout
    assert "tier: api" in text


# ----------------------------------------------------------------- -o DIR


def test_build_dir_writes_one_file_per_policy_and_a_kustomization(work):
    r = segc("build", "app.seg", "-o", "out")
    ok(r)
    out = work / "out"
    files = policy_files(out)
    assert files
    kust_text = (out / "kustomization.yaml").read_text()
    assert kust_text.startswith(HEADER)
    kust = yaml.safe_load(kust_text)
    assert kust["kind"] == "Kustomization"
    assert kust["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kust["resources"] == files
    for f in files:
        text = (out / f).read_text()
        assert text.startswith(HEADER)
        doc = yaml.safe_load(text)
        assert doc["kind"] == "NetworkPolicy"
        assert f == f"{doc['metadata']['namespace']}.{doc['metadata']['name']}.yaml"
    assert sorted(os.listdir(out)) == sorted([*files, "kustomization.yaml"])  # no temporary files left
    assert f"wrote {len(files)} policies" in r.stderr


def test_build_dir_has_the_same_policies_as_the_stream(work):
    ok(segc("build", "app.seg", "-o", "out"))
    streamed = list(yaml.safe_load_all(segc("build", "app.seg", "-o", "-").stdout))
    written = [yaml.safe_load((work / "out" / f).read_text()) for f in policy_files(work / "out")]
    key = lambda d: (d["metadata"]["namespace"], d["metadata"]["name"])  # noqa: E731
    assert sorted(written, key=key) == sorted(streamed, key=key)


def test_build_creates_nested_output_directories(work):
    ok(segc("build", "app.seg", "-o", "deploy/overlays/prod/policies"))
    assert (work / "deploy/overlays/prod/policies/kustomization.yaml").exists()


def test_rebuild_removes_stale_files_segc_wrote(work):
    ok(segc("build", "app.seg", "-o", "out"))
    before = set(policy_files(work / "out"))
    (work / "app.seg").write_text(SMALLER)
    ok(segc("build", "app.seg", "-o", "out"))
    after = set(policy_files(work / "out"))
    assert before - after, "removing a statement removes a policy"
    assert yaml.safe_load((work / "out" / "kustomization.yaml").read_text())["resources"] == sorted(after)
    # The directory now equals a fresh build of the smaller program.
    ok(segc("build", "app.seg", "-o", "fresh"))
    assert {f: (work / "out" / f).read_bytes() for f in os.listdir(work / "out")} == {f: (work / "fresh" / f).read_bytes() for f in os.listdir(work / "fresh")}


def test_rebuild_of_the_same_program_changes_nothing(work):
    ok(segc("build", "app.seg", "-o", "out"))
    before = snapshot(work / "out")
    ok(segc("build", "app.seg", "-o", "out"))
    assert snapshot(work / "out") == before  # not even rewritten: mtimes are kept


def test_user_files_in_the_directory_are_never_touched(work):
    out = work / "out"
    out.mkdir()
    (out / "README.md").write_text("mine\n")
    (out / "extra-policy.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n")
    (out / "app.db-ingress.yml").write_text("# also mine\n")
    (out / "sub").mkdir()
    (out / "sub" / "x.yaml").write_text(HEADER + "nested files are not segc's business\n")
    mine = snapshot(out)
    ok(segc("build", "app.seg", "-o", "out"))
    (work / "app.seg").write_text(SMALLER)
    ok(segc("build", "app.seg", "-o", "out"))
    (work / "app.seg").write_text("namespace app\n")  # no policies at all: everything of segc's goes
    ok(segc("build", "app.seg", "-o", "out"))
    now = snapshot(out)
    for name, value in mine.items():
        assert now[name] == value, name
    assert policy_files(out) == ["extra-policy.yaml"]
    assert yaml.safe_load((out / "kustomization.yaml").read_text())["resources"] == []


def test_a_user_file_that_looks_like_a_stale_policy_is_kept(work):
    (work / "small.seg").write_text(SMALLER)
    ok(segc("build", "small.seg", "-o", "small"))
    ok(segc("build", "app.seg", "-o", "out"))
    stale = sorted(set(policy_files(work / "out")) - set(policy_files(work / "small")))[0]
    (work / "out" / stale).write_text("# edited by hand, no longer segc's\n")
    ok(segc("build", "small.seg", "-o", "out"))
    assert (work / "out" / stale).read_text() == "# edited by hand, no longer segc's\n"


def test_a_user_kustomization_makes_build_fail_and_write_nothing(work):
    out = work / "out"
    out.mkdir()
    (out / "kustomization.yaml").write_text("resources:\n- deployment.yaml\n")
    before = snapshot(out)
    r = segc("build", "app.seg", "-o", "out")
    no_traceback(r)
    assert r.exit_code == 1
    assert r.stderr.startswith("segc: error: ")
    assert "kustomization.yaml exists and was not written by segc" in r.stderr
    assert snapshot(out) == before


def test_a_user_kustomization_blocks_even_stale_removal(work):
    ok(segc("build", "app.seg", "-o", "out"))
    (work / "out" / "kustomization.yaml").write_text("# taken over by hand\n")
    before = snapshot(work / "out")
    (work / "app.seg").write_text(SMALLER)
    r = segc("build", "app.seg", "-o", "out")
    assert r.exit_code == 1
    assert snapshot(work / "out") == before  # the stale policy files are still there


def test_a_user_file_with_a_policy_name_makes_build_fail_and_write_nothing(work):
    ok(segc("build", "app.seg", "-o", "ref"))
    taken = policy_files(work / "ref")[0]
    out = work / "out"
    out.mkdir()
    (out / taken).write_text("kind: NetworkPolicy  # hand-written\n")
    before = snapshot(out)
    r = segc("build", "app.seg", "-o", "out")
    no_traceback(r)
    assert r.exit_code == 1
    assert f"{taken} exists and was not written by segc" in r.stderr
    assert snapshot(out) == before


def test_output_is_an_existing_regular_file(work):
    (work / "out.yaml").write_text("precious\n")
    r = segc("build", "app.seg", "-o", "out.yaml")
    no_traceback(r)
    assert r.exit_code == 1
    assert r.stderr == "segc: error: out.yaml exists and is not a directory\n"
    assert (work / "out.yaml").read_text() == "precious\n"
    assert sorted(os.listdir(work)) == ["app.seg", "out.yaml"]


def test_output_below_a_regular_file(work):
    (work / "f").write_text("x")
    r = segc("build", "app.seg", "-o", "f/out")
    no_traceback(r)
    assert r.exit_code == 1
    assert r.stderr.startswith("segc: error: cannot create f/out")


def test_build_with_errors_writes_nothing(work):
    (work / "bad.seg").write_text("namespace app\nallow a -> b:0\n")
    r = segc("build", "bad.seg", "-o", "out")
    no_traceback(r)
    assert r.exit_code == 1
    assert "bad.seg:2:14: error: port 0 is outside 1-65535 [SEG030]" in r.stderr
    assert not (work / "out").exists()
    r = segc("build", "bad.seg", "-o", "-")
    assert r.exit_code == 1 and r.stdout == ""


# ---------------------------------------------------------- determinism


def test_same_input_same_bytes(work):
    first = segc("build", "app.seg", "-o", "-").stdout_bytes
    assert segc("build", "app.seg", "-o", "-").stdout_bytes == first
    ok(segc("build", "app.seg", "-o", "a"))
    ok(segc("build", "app.seg", "-o", "b"))
    assert {f: (work / "a" / f).read_bytes() for f in os.listdir(work / "a")} == {f: (work / "b" / f).read_bytes() for f in os.listdir(work / "b")}


def test_statement_order_and_file_name_only_change_the_source_notes(work):
    # The same rules from another file name: the policies are the same objects.
    (work / "copy.seg").write_text(PROGRAM)
    a = list(yaml.safe_load_all(segc("build", "app.seg", "-o", "-").stdout))
    b = list(yaml.safe_load_all(segc("build", "copy.seg", "-o", "-").stdout))
    for doc in a + b:
        doc["metadata"].pop("annotations", None)
    assert a == b


# ----------------------------------------------------------------- check


def test_check_exit_codes(work):
    r = segc("check", "app.seg")
    ok(r)
    assert r.output == ""
    (work / "bad.seg").write_text("namespace app\nallow a ->\n")
    r = segc("check", "bad.seg")
    no_traceback(r)
    assert r.exit_code == 1
    assert r.stderr.startswith("bad.seg:2:11: error: ")
    # A warning alone does not fail the check.
    (work / "warn.seg").write_text("namespace app\ngroup backend = {tier=be}\nallow frontend -> backnd:80\n")
    r = segc("check", "warn.seg")
    assert r.exit_code == 0
    assert "warning:" in r.stderr


def test_check_several_files_errors_in_each(work):
    (work / "a.seg").write_text("namespace app\nallow a -> b:0\n")
    (work / "b.seg").write_text("namespace app\nallow a -> b:99999\n")
    r = segc("check", "--format", "json", "a.seg", "b.seg")
    assert r.exit_code == 1
    assert [(d["file"], d["line"], d["code"]) for d in json.loads(r.stdout)] == [("a.seg", 2, "SEG030"), ("b.seg", 2, "SEG030")]


def test_check_refusal_exits_1(work):
    (work / "r.seg").write_text("namespace app\ndeny-all\nallow {team=orders}/api -> 203.0.113.10/32:443\n")
    r = segc("check", "r.seg")
    no_traceback(r)
    assert r.exit_code == 1
    assert "r.seg:3:1: error:" in r.stderr


# ------------------------------------------------------------ version, usage


def test_version():
    r = segc("--version")
    ok(r)
    assert r.output == f"segc {__version__}\n"


def test_help():
    r = segc("--help")
    ok(r)
    for command in ("build", "check"):
        assert command in r.output


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["build"],
        ["build", "app.seg"],  # no -o
        ["build", "-o", "out"],  # no FILE
        ["check"],
        ["check", "--format", "xml", "app.seg"],
        ["check", "--frobnicate", "app.seg"],
        ["compile", "app.seg"],
        ["build", "app.seg", "-o"],
    ],
    ids=lambda a: " ".join(a) or "nothing",
)
def test_usage_errors_exit_2(work, args):
    r = segc(*args)
    no_traceback(r)
    assert r.exit_code == 2, (args, r.exit_code, r.output)
    if args:
        assert "Usage:" in r.stderr or "Error:" in r.stderr
    assert not (work / "out").exists()


# ---------------------------------------------------------------- stdin


def test_stdin_build(work):
    r = segc("build", "-", "-o", "-", input=PROGRAM)
    ok(r)
    assert r.stdout == segc("build", "app.seg", "-o", "-").stdout.replace("app.seg:", "<stdin>:")


def test_stdin_check_errors_name_stdin(work):
    r = segc("check", "-", input="namespace app\nallow a -> b:0\n")
    assert r.exit_code == 1
    assert r.stderr.splitlines()[:3] == ["<stdin>:2:14: error: port 0 is outside 1-65535 [SEG030]", "    allow a -> b:0", "                 ^"]


def test_stdin_with_other_files(work):
    (work / "groups.seg").write_text("namespace app\ngroup api = {tier=api}\n")
    r = segc("build", "groups.seg", "-", "-o", "-", input="namespace app\nallow frontend -> api:443\n")
    ok(r)
    assert "tier: api" in r.stdout


def test_stdin_not_utf8(work):
    r = segc("check", "-", input=b"namespace app\nallow \xff\n")
    no_traceback(r)
    assert r.exit_code == 1
    assert r.stderr.startswith("<stdin>:2:7: error: <stdin> is not UTF-8 text")


def test_stdin_empty(work):
    r = segc("build", "-", "-o", "-", input="")
    ok(r)
    assert r.stdout == ""


# --------------------------------------------------------- missing files


@pytest.mark.parametrize("command", [["check"], ["check", "--format", "json"], ["build", "-o", "-"], ["build", "-o", "out"]])
def test_missing_file(work, command):
    r = segc(*command, "missing.seg")
    no_traceback(r)
    assert r.exit_code == 1
    if "json" in command:
        (d,) = json.loads(r.stdout)
        assert (d["file"], d["line"], d["column"], d["severity"], d["code"]) == ("missing.seg", 1, 1, "error", "SEG051")
    else:
        assert r.stderr.startswith("missing.seg:1:1: error: cannot read missing.seg: No such file or directory")
    assert not (work / "out").exists()


def test_missing_file_among_good_ones(work):
    r = segc("check", "app.seg", "missing.seg")
    assert r.exit_code == 1
    assert r.stderr.startswith("missing.seg:1:1: error:")


def test_directory_as_file(work):
    (work / "d.seg").mkdir()
    r = segc("check", "d.seg")
    no_traceback(r)
    assert r.exit_code == 1
    assert r.stderr.startswith("d.seg:1:1: error: cannot read d.seg")


# ----------------------------------------------------- end to end (subprocess)


def _segc_command() -> list[str]:
    script = shutil.which("segc", path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, "-c", "from segc.cli import main; main()"]


def run(*args: str, cwd, stdin: bytes | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*_segc_command(), *args], cwd=cwd, input=stdin, capture_output=True, timeout=120, env=env)


def test_e2e_build_dir_and_stream(work):
    p = run("build", "app.seg", "-o", "out", cwd=work)
    assert p.returncode == 0, p.stderr
    assert (work / "out" / "kustomization.yaml").exists()
    p = run("build", "app.seg", "-o", "-", cwd=work)
    assert p.returncode == 0 and p.stdout.startswith(b"---\n")
    p = run("check", "-", cwd=work, stdin=b"namespace app\nallow a ->\n")
    assert p.returncode == 1
    assert p.stderr.startswith(b"<stdin>:2:11: error: ")
    p = run("check", "missing.seg", cwd=work)
    assert (p.returncode, p.stderr.splitlines()[0]) == (1, b"missing.seg:1:1: error: cannot read missing.seg: No such file or directory [SEG051]")
    p = run("build", cwd=work)
    assert p.returncode == 2 and b"Traceback" not in p.stderr
    p = run("--version", cwd=work)
    assert (p.returncode, p.stdout) == (0, f"segc {__version__}\n".encode())


def test_e2e_output_does_not_depend_on_the_hash_seed(work):
    # Sets and dicts of strings iterate in hash order; output must not.
    digests = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        p = run("build", "app.seg", "-o", "-", cwd=work, env=env)
        assert p.returncode == 0, p.stderr
        digests.add(hashlib.sha256(p.stdout).hexdigest())
    assert len(digests) == 1


def test_e2e_examples_build_deterministically(work, tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    program = os.path.join(root, "tests", "data", "core.seg")
    outs = []
    for seed in ("3", "4"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        p = run("build", program, "-o", str(tmp_path / f"out{seed}"), cwd=work, env=env)
        assert p.returncode == 0, p.stderr
        outs.append({f: (tmp_path / f"out{seed}" / f).read_bytes() for f in os.listdir(tmp_path / f"out{seed}")})
    assert outs[0] == outs[1]
