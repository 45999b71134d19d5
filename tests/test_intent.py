"""Intent tests: `expect` statements and `segc test`.

The examples' expectations must hold, a wrong expectation must fail with its
position and verdict, and on random programs the verdict of `segc test`
(evaluator 2 on the compiled manifests, over the witness cluster) must be
what the program's own meaning (evaluator 1) says on that same cluster.
"""

from __future__ import annotations

import glob
import os

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, note
from hypothesis import strategies as st

from example_names import NAMES
from segc import intent, ir, witness
from segc.cli import cli
from segc.cluster import Cluster, Namespace, Pod
from segc.compile import compile_paths
from segc.output import stream
from segc.seg_eval import SegEvaluator
from strategies import expect_statement, program, program_with_denies

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE_TESTS = sorted(glob.glob(os.path.join(ROOT, "examples", "*", "*.test.seg")))


def segc(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_every_example_carries_expectations():
    examples = sorted(os.path.join(ROOT, "examples", n) for n in NAMES)
    with_tests = {os.path.dirname(p) for p in EXAMPLE_TESTS}
    assert examples and set(examples) == with_tests


@pytest.mark.parametrize("path", EXAMPLE_TESTS, ids=lambda p: os.path.basename(p))
def test_example_expectations_hold(path):
    result = segc("test", path)
    assert result.exit_code == 0, result.output
    assert "expectations hold" in result.output
    # The same verdicts from the program's own meaning, independently of the backend.
    compiled = compile_paths([path])
    run = intent.check(compiled.program, compiled.policies)
    assert run.outcomes and not run.failed
    _agrees_with_program(compiled.program, run)


def test_expectations_generate_no_policies():
    base = os.path.join(ROOT, "examples", "three-tier", "three-tier.seg")
    tests = os.path.join(ROOT, "examples", "three-tier", "three-tier.test.seg")
    assert stream(compile_paths([base]).policies) == stream(compile_paths([tests]).policies)


WRONG = """import "{base}"
namespace webapp
expect frontend -> api:8000 allowed
expect frontend -> postgres:5432 allowed
"""


def test_a_wrong_expectation_fails_with_its_position_and_why(tmp_path):
    base = os.path.join(ROOT, "examples", "three-tier", "three-tier.seg")
    f = tmp_path / "wrong.test.seg"
    f.write_text(WRONG.format(base=base))
    result = segc("test", str(f), "--why")
    assert result.exit_code == 1
    assert f"{f}:4:1: error: expected allowed, but 1 of 1 connections are denied" in result.output
    assert "[SEG090]" in result.output and "expect frontend -> postgres:5432 allowed" in result.output
    assert "denied: webapp/frontend -> webapp/postgres on TCP 5432" in result.output
    # evaluator 2's explanation names the isolating policies
    assert "why: denied: src webapp/frontend is egress-isolated by webapp/" in result.output and "pod-" not in result.output
    assert "1 of 2 expectations hold" in result.output
    assert ":3:1:" not in result.output  # the true one is not reported


def test_on_a_cluster_an_expectation_that_selects_nothing_fails(tmp_path):
    base = os.path.join(ROOT, "examples", "three-tier", "three-tier.seg")
    f = tmp_path / "t.test.seg"
    f.write_text(f'import "{base}"\nnamespace webapp\nexpect frontend -> api:8000 allowed\nexpect frontend -> nosuch:8000 denied\n')
    c = tmp_path / "cluster.yaml"
    c.write_text(yaml.safe_dump_all([
        {"kind": "Namespace", "metadata": {"name": "webapp"}},
        {"kind": "Pod", "metadata": {"name": "fe", "namespace": "webapp", "labels": {"app": "frontend"}}, "status": {"podIP": "10.0.0.1"}},
        {"kind": "Pod", "metadata": {"name": "api", "namespace": "webapp", "labels": {"app": "api"}}, "status": {"podIP": "10.0.0.2"}},
    ]))
    result = segc("test", str(f), "--cluster", str(c))
    assert result.exit_code == 1, result.output
    assert ":4:1: error: this expectation checks nothing on this cluster" in result.output and "[SEG091]" in result.output
    assert "the destination webapp/nosuch covers no pod" in result.output
    assert ":3:1:" not in result.output


def test_no_expectations_is_an_error(tmp_path):
    f = tmp_path / "a.seg"
    f.write_text("namespace a\nallow x -> y\n")
    result = segc("test", str(f))
    assert result.exit_code == 1 and "no `expect` statements" in result.output


def test_a_bad_expectation_is_a_located_syntax_error(tmp_path):
    f = tmp_path / "a.seg"
    f.write_text("namespace a\nexpect x -> y:80 maybe\n")
    result = segc("test", str(f))
    assert result.exit_code == 1
    assert f"{f}:2:18: error: unexpected" in result.output and "'allowed' or 'denied'" in result.output


def test_export_netassert(tmp_path):
    base = os.path.join(ROOT, "examples", "three-tier", "three-tier.seg")
    f = tmp_path / "t.test.seg"
    f.write_text(
        f'import "{base}"\nnamespace webapp\nexpect frontend -> api:8000 allowed\nexpect frontend -> postgres:5432 denied\n'
        "expect frontend -> {tier=x}:80 denied\nexpect api -> kube-system/{k8s-app=kube-dns}:53/udp allowed\n"
        "expect frontend -> 203.0.113.7/32:443 denied\n"
    )
    result = CliRunner().invoke(cli, ["test", str(f), "--export", "netassert"])
    assert result.exit_code == 0, result.output
    tests = yaml.safe_load(result.stdout)
    assert [(t["src"]["k8sResource"]["name"], t.get("dst"), t["targetPort"], t["protocol"], t["exitCode"]) for t in tests] == [
        ("frontend", {"k8sResource": {"kind": "deployment", "name": "api", "namespace": "webapp"}}, 8000, "tcp", 0),
        ("frontend", {"k8sResource": {"kind": "deployment", "name": "postgres", "namespace": "webapp"}}, 5432, "tcp", 1),
        ("frontend", {"host": {"name": "203.0.113.7"}}, 443, "tcp", 1),
    ]
    # What netassert v2 validates (internal/data/types.go): unique names, tcp/udp,
    # a port in range, attempts and timeout above 0, a k8sResource source.
    assert len({t["name"] for t in tests}) == len(tests)
    for t in tests:
        assert t["type"] == "k8s" and t["attempts"] > 0 and t["timeoutSeconds"] > 0 and 1 <= t["targetPort"] <= 65535
        assert set(t["src"]["k8sResource"]) == {"kind", "name", "namespace"}
    # The two that cannot be named as a Deployment are reported, not dropped silently.
    assert result.stderr.count("[SEG150]") == 2


# ------------------------------------------------------------------ properties


def _agrees_with_program(prog, run) -> None:
    """Each verdict equals the program's meaning (evaluator 1) on the same probes."""
    seg = SegEvaluator(prog, run.cluster)
    for o in run.outcomes:
        e = o.expect
        srcs, dsts = intent._covered(e.src, run.cluster), intent._covered(e.dst, run.cluster)
        numeric, named = intent._probes(e, run.witness.ports)
        wrong = 0
        for s in srcs:
            for d in dsts:
                for iv in numeric:
                    wrong += seg.allowed(s, d, iv.start, iv.protocol) != e.allowed
                for p in named:
                    n = d.named_port(p.name, p.protocol) if isinstance(d, Pod) else None
                    if n is not None:
                        wrong += seg.allowed(s, d, n, p.protocol) != e.allowed
        assert wrong == o.wrong_count, (e.text, wrong, o.wrong_count)


@given(program(), st.lists(expect_statement(), min_size=1, max_size=4))
def test_verdicts_are_the_programs_meaning_on_the_witness(text, expects):
    _verdicts_are_the_programs_meaning(text, expects)


@given(program_with_denies(), st.lists(expect_statement(), min_size=1, max_size=4))
def test_verdicts_are_the_programs_meaning_with_denies(text, expects):
    _verdicts_are_the_programs_meaning(text, expects)


@given(program_with_denies())
def test_an_expectation_of_each_deny_holds(text):
    """`expect D denied` for each `deny D` of a program holds on its witness:
    the witness has a pod for every shape the deny names, so the expectation
    is probed (and found true) wherever the deny can be enforced."""
    result = compile_paths(["p.seg"], {"p.seg": text})
    if not result.ok:
        return
    # Only denies whose endpoints are all pods of the managed namespace are
    # fully enforced (the others are enforced on the managed end only).
    # A selector no pod can satisfy (`{a=x, a!=x}`) selects nothing, which a
    # test reports as a failure of its own; such denies deny nothing.
    ns = ir.NsNamed(next(iter(result.program.managed)))
    local = [
        x
        for x in result.program.denies
        if all(isinstance(p, ir.PodPeer) and p.ns == ns and witness.satisfy(witness._ir_reqs(p.pods)) is not None for p in (x.src, x.dst))
    ]
    if not local:
        return
    expects = [x.to_seg().replace("deny ", "expect ", 1) + " denied" for x in local]
    note(text + "\n".join(expects))
    checked = compile_paths(["p.seg"], {"p.seg": text + "\n".join(expects) + "\n"})
    assert checked.ok, checked.diagnostics
    run = intent.check(checked.program, checked.policies)
    assert len(run.outcomes) == len(expects) and not run.failed, [(o.expect.text, o.wrong_count) for o in run.outcomes]


def _verdicts_are_the_programs_meaning(text, expects):
    text = text + "\n".join(expects) + "\n"
    note(text)
    result = compile_paths(["p.seg"], {"p.seg": text})
    if not result.ok:
        assert {d.code for d in result.diagnostics if d.severity == "error"} <= {"SEG060", "SEG061", "SEG080", "SEG081", "SEG082", "SEG083", "SEG084", "SEG085"}
        return
    run = intent.check(result.program, result.policies)
    assert len(run.outcomes) == len(expects)
    _agrees_with_program(result.program, run)


def test_witness_pods_satisfy_the_expressions_they_stand_for():
    reqs = (("env", "NotIn", ("dev",)), ("env", "Exists", ()), ("tier", "In", ("api", "web")))
    labels = witness.satisfy(reqs)
    assert labels == {"env": "other", "tier": "api"}
    assert witness.satisfy((("a", "In", ("x",)), ("a", "In", ("y",)))) is None
    v = witness.Vocabulary(pod_exprs={(witness.NsScope("name", "a"), reqs)}, namespaces={"a"})
    c = witness.build(v).cluster
    shapes = [p.labels for p in c.pods if p.namespace == "a"]
    assert {"env": "other", "tier": "api"} in shapes and {"env": "dev"} in shapes and {} in shapes
    assert "witness-other" in c.namespaces and isinstance(c, Cluster) and isinstance(c.namespaces["a"], Namespace)


def test_a_test_file_that_changes_the_program_is_refused(tmp_path):
    base = os.path.join(ROOT, "examples", "three-tier", "three-tier.seg")
    f = tmp_path / "leak.test.seg"
    # `namespace kube-system` would make the program manage kube-system and isolate kube-dns.
    f.write_text(f'import "{base}"\nnamespace kube-system\nexpect webapp/api -> {{k8s-app=kube-dns}}:53/udp allowed\n')
    result = segc("test", str(f))
    assert result.exit_code == 1
    assert f"{f}:2:1: error: this line makes the program manage namespace kube-system" in result.output and "[SEG092]" in result.output
    # A namespace the program manages anyway is harmless.
    f.write_text(f'import "{base}"\nnamespace webapp\nexpect api -> kube-system/{{k8s-app=kube-dns}}:53/udp allowed\n')
    assert segc("test", str(f)).exit_code == 0
