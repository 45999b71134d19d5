"""`segc explain`: plain English per workload, from .seg programs and from NetworkPolicy YAML.

Golden phrases are checked on the examples and on hand-written YAML; the
properties check, on random programs and clusters, that every peer and port
of every rule appears in the explanation of the pods it applies to, and that
the policies merged into (or named next to) a workload are exactly those
Kubernetes applies to its pods.
"""

from __future__ import annotations

import copy
import glob
import os

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from example_names import NAMES
import strategies as gen
from segc.cli import cli
from segc.compile import compile_paths
from segc.explain import (
    DIRECTIONS,
    compile_policies,
    explain_policies,
    explain_workload,
    implies,
    disjoint,
    peer_text,
    port_text,
    render_text,
    workloads,
)
from segc.k8s_eval import K8sEvaluator, policies_from_objects

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A third of the profile's examples (ci: 100, deep: 3,333): each example compiles
# a program and evaluates it on a cluster, and the suite shares 2 cores.
LIGHT = settings(max_examples=max(30, settings().max_examples // 3))
EXAMPLES = [os.path.join(ROOT, "examples", n, "") for n in NAMES]
HANDWRITTEN = os.path.join(ROOT, "tests", "data", "explain", "handwritten.yaml")
CONFORMANCE = sorted(glob.glob(os.path.join(ROOT, "tests", "conformance", "*.yaml")))


def run(*args, input=None):
    r = CliRunner().invoke(cli, list(args), input=input)
    return r.exit_code, r.output


def seg_files(example: str) -> list[str]:
    return sorted(glob.glob(os.path.join(example, "*.seg")))


def sections(text: str) -> dict[str, str]:
    """Title line -> the lines under it, from the text format."""
    out, title = {}, None
    for line in text.splitlines():
        if line and not line.startswith(" "):
            title = line.rstrip(":")
            out[title] = ""
        elif title is not None and line.strip():
            out[title] += line.strip() + "\n"
    return out


# ------------------------------------------------------------------ examples


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: os.path.basename(os.path.dirname(p)))
def test_seg_and_its_expected_yaml_explain_the_same(example):
    """One explainer: the .seg program and the reviewed manifests it compiles to read the same."""
    code, from_seg = run("explain", *seg_files(example))
    assert code == 0, from_seg
    code, from_yaml = run("explain", os.path.join(example, "expected"))
    assert code == 0, from_yaml
    assert from_seg == from_yaml
    assert from_seg.strip()


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: os.path.basename(os.path.dirname(p)))
def test_md_has_one_heading_per_workload(example):
    code, md = run("explain", "--format", "md", *seg_files(example))
    assert code == 0
    _, text = run("explain", *seg_files(example))
    assert md.count("\n### ") == len(sections(text))


def test_team_database_reads_like_the_issue():
    code, out = run("explain", os.path.join(ROOT, "examples", "team-database", "team-database.seg"))
    assert code == 0
    s = sections(out)
    assert "postgres (app=postgres in data)" in s
    postgres = s["postgres (app=postgres in data)"]
    assert "Accepts TCP 5432 from orders-api pods in namespaces labelled team=orders or pg-backup pods in data" in postgres
    assert "All other ingress is denied (isolated by data/all-pods and data/postgres-ingress)." in postgres
    backup = s["pg-backup (app=pg-backup in data)"]
    assert "May connect to addresses in 198.51.100.20/32 on TCP 443" in backup
    assert "All ingress is denied (isolated by data/all-pods)." in backup


def test_handwritten_yaml():
    code, out = run("explain", HANDWRITTEN)
    assert code == 0, out
    s = sections(out)
    # No policyTypes and only ingress rules: egress is not restricted (API defaulting).
    assert s["postgres (app=postgres in data)"] == (
        "Accepts TCP 5432 from orders-api pods in namespaces labelled team=orders (data/postgres ingress rule 1).\n"
        "All other ingress is denied (isolated by data/postgres).\n"
        "Egress is not restricted.\n"
    )
    web = s["pods labelled tier in (edge, web) in shop"]
    assert "Accepts any port from anywhere (shop/web-open ingress rule 1).\nSo all ingress is allowed" in web
    assert "any IPv4 address except 10.0.0.0/8, 169.254.169.254/32 on TCP 443 and TCP 8000-8100" in web
    assert "May connect to all pods in shop on TCP port named http" in web
    everyone = s["all pods in shop"]
    assert "Ingress is not restricted." in everyone
    assert "All egress is denied (isolated by shop/lockdown)." in everyone
    # The overlapping selector is named, never merged silently.
    assert "Pods that also match tier in (edge, web) are selected by shop/web-open too" in everyone


def test_md_escapes_markdown():
    code, md = run("explain", "--format", "md", HANDWRITTEN)
    assert code == 0
    assert md.startswith("## What these policies allow\n")
    assert "### postgres (app=postgres in data)" in md
    assert "- Accepts TCP 5432" in md


def test_mixed_inputs_and_stdin(tmp_path):
    seg = "namespace shop\ndeny-all ingress\nallow frontend -> backend:8080\n"
    code, out = run("explain", "-", HANDWRITTEN, input=seg)
    assert code == 0, out
    assert "backend (app=backend in shop)" in out and "postgres (app=postgres in data)" in out


def test_errors_are_diagnostics_not_tracebacks(tmp_path):
    bad = tmp_path / "bad.seg"
    bad.write_text("namespace shop\nallow a -> b:99999\n")
    code, out = run("explain", str(bad))
    assert code == 1 and "SEG030" in out and "Traceback" not in out
    code, out = run("explain", str(tmp_path / "missing.yaml"))
    assert code == 1 and "segc: error:" in out
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: NetworkPolicy\nmetadata: {name: x}\nspec: {ingress: [{ports: [{port: 0}]}]}\n")
    code, out = run("explain", str(broken))
    assert code == 1 and "outside 1-65535" in out


def test_no_policies():
    code, out = run("explain", "-", input="namespace shop\n")
    assert code == 0
    assert out.startswith("No NetworkPolicy")


def test_output_is_deterministic_under_reordering(tmp_path):
    docs = list(yaml.safe_load_all(open(HANDWRITTEN)))
    (tmp_path / "rev.yaml").write_text(yaml.safe_dump_all(list(reversed(docs))))
    assert run("explain", HANDWRITTEN)[1] == run("explain", str(tmp_path / "rev.yaml"))[1]


# ------------------------------------------------------------ every phrase


def assert_every_rule_is_explained(policy_dicts: list[dict]) -> None:
    """Every peer and port of every rule appears in each workload it applies to."""
    policies = compile_policies(copy.deepcopy(policy_dicts))
    text = render_text(explain_policies(copy.deepcopy(policy_dicts)))
    by_title = sections(text)
    for ns, sel in workloads(policies):
        w = explain_workload(policies, ns, sel)
        body = by_title[w.title]
        for p in policies:
            if p.namespace != ns or not implies(sel, p.selector):
                continue
            for direction in DIRECTIONS:
                rules = p.rules(direction)
                if rules is None:
                    continue
                assert f"{direction} is not restricted" not in body.lower(), (w.title, p.key)
                assert p.key in body, (w.title, p.key)  # named as isolating
                for rule in rules:
                    tag = f"({p.key} {direction} rule {rule.number})"
                    line = next((l for l in body.splitlines() if l.endswith(tag + ".")), None)
                    assert line is not None, (w.title, tag, body)
                    for peer in rule.peers or ():
                        assert peer_text(peer, p.namespace) in line, (line, peer)
                    if rule.peers is None:
                        assert "anywhere" in line
                    for port in rule.ports or ():
                        assert port_text(port) in line, (line, port)
                    if rule.ports is None:
                        assert "any port" in line


@pytest.mark.parametrize("path", CONFORMANCE, ids=lambda p: os.path.basename(os.path.dirname(p)))
def test_every_rule_of_the_conformance_corpus_is_explained(path):
    data = yaml.safe_load(open(path, encoding="utf-8"))
    assert_every_rule_is_explained(policies_from_objects(data.get("policies") or []))


def test_every_rule_of_handwritten_yaml_is_explained():
    assert_every_rule_is_explained(policies_from_objects(list(yaml.safe_load_all(open(HANDWRITTEN)))))


def _compiled(text: str):
    result = compile_paths(["prog.seg"], {"prog.seg": text})
    return result.policies if result.ok else None


@LIGHT
@given(gen.program(), gen.cluster())
def test_random_programs_are_explained_completely_and_soundly(text, cluster):
    """Every rule is explained (as above), and for every pod of a workload:
    each merged policy selects it (implies is sound) and each policy selecting
    it is merged or named (disjoint is sound)."""
    policies = _compiled(text)
    if not policies:
        return
    assert_every_rule_is_explained(policies)
    ev = K8sEvaluator(policies, cluster)
    for ns, sel in workloads(ev.policies):
        w = explain_workload(ev.policies, ns, sel)
        for pod in cluster.pods:
            if pod.namespace != ns or not sel.matches(pod.labels):
                continue
            selecting = {p.key for p in ev.policies if p.namespace == ns and p.selector.matches(pod.labels)}
            assert set(w.policies) <= selecting
            assert selecting <= set(w.policies) | set(w.also)
            for direction in DIRECTIONS:
                isolated = any(p.key in w.policies and p.rules(direction) is not None for p in ev.policies)
                assert w.directions[direction].isolated == isolated


@given(st.data())
def test_implies_and_disjoint_are_sound_on_label_sets(data):
    """implies(a, b): every label set matching a matches b; disjoint: none matches both."""
    from segc.k8s_eval import _compile_selector

    def sel():
        reqs = data.draw(st.lists(st.sampled_from([
            {"key": "app", "operator": "In", "values": ["a"]},
            {"key": "app", "operator": "In", "values": ["a", "b"]},
            {"key": "app", "operator": "NotIn", "values": ["a"]},
            {"key": "app", "operator": "Exists"},
            {"key": "app", "operator": "DoesNotExist"},
            {"key": "tier", "operator": "In", "values": ["web"]},
            {"key": "tier", "operator": "DoesNotExist"},
        ]), max_size=2))
        labels = data.draw(st.dictionaries(st.sampled_from(["app"]), st.sampled_from(["a", "b"]), max_size=1))
        return _compile_selector({"matchLabels": labels, "matchExpressions": reqs}, "s")

    a, b = sel(), sel()
    label_sets = [{}, {"app": "a"}, {"app": "b"}, {"app": "c"}, {"tier": "web"}, {"app": "a", "tier": "web"}, {"app": "b", "tier": "x"}]
    if implies(a, b):
        assert all(b.matches(l) for l in label_sets if a.matches(l))
    if disjoint(a, b):
        assert not any(a.matches(l) and b.matches(l) for l in label_sets)
