"""Lint (SEG101-SEG109): each rule fires, can be silenced by a comment and by
project configuration, and says something true (checked with evaluator 1
where the claim is semantic)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from segc import ir
from segc.cluster import Cluster, Namespace, Pod
from segc.compile import compile_paths
from segc.lint import ConfigError, lint, project_ignores
from segc.seg_eval import SegEvaluator
from strategies import PROBE_PORTS, cluster, program

ROOT = Path(__file__).resolve().parent.parent
SEGC = str(Path(sys.executable).parent / "segc")


def shop_cluster() -> Cluster:
    c = Cluster()
    c.namespaces["shop"] = Namespace("shop", {"team": "orders"})
    c.namespaces["kube-system"] = Namespace("kube-system")
    c.pods += [
        Pod("shop", "web-1", {"app": "web"}, "10.1.0.5"),
        Pod("shop", "api-1", {"app": "api", "tier": "backend"}, "10.1.0.6"),
        Pod("kube-system", "dns-1", {"k8s-app": "kube-dns"}, "10.1.0.2"),
    ]
    return c


def warnings(text: str, cluster=None, ignore=()) -> list[tuple[int, str, str]]:
    result = compile_paths(["t.seg"], {"t.seg": text})
    assert result.program is not None, result.diagnostics
    return [(d.span.line, d.code, d.message) for d in lint(result, cluster, ignore=ignore)]


def codes(text: str, cluster=None, ignore=()) -> list[tuple[int, str]]:
    return [(line, code) for line, code, _ in warnings(text, cluster, ignore)]


# One program per rule: (code, program, line it fires on, needs the cluster).
CASES = {
    "SEG101": ("namespace shop\nallow web -> api:80,443\nallow web -> api:443\n", 3, False),
    "SEG102": ("namespace shop\ndeny-all\nallow web -> api:8080\n", 2, False),
    "SEG103": ("namespace shop\nallow */* -> db:5432\n", 2, False),
    "SEG104": ("namespace shop\ndeny-all egress\nallow dns\nallow api -> 0.0.0.0/0:443\n", 4, False),
    "SEG105": ("namespace shop\nallow */* -> web:8080\n", 2, False),
    "SEG106": ("namespace shop\ngroup unused = {tier=x}\nallow web -> api\n", 2, False),
    "SEG107": ("namespace shop\nallow web -> apis:8080\n", 2, True),
    "SEG108": ("namespace shop\nallow 10.1.0.0/16 -> web:8080\n", 2, True),
    "SEG109": ("namespace shop\nallow api -> web:80\nallow api -> {app=Web}:80\n", 3, False),
}


@pytest.mark.parametrize("code", sorted(CASES))
def test_rule_fires(code):
    text, line, needs_cluster = CASES[code]
    assert (line, code) in codes(text, shop_cluster() if needs_cluster else None)


@pytest.mark.parametrize("code", sorted(CASES))
def test_rule_is_silenced_by_a_trailing_comment(code):
    text, line, needs_cluster = CASES[code]
    lines = text.split("\n")
    lines[line - 1] += f"  # segc: ignore[SEG000, {code}]"
    assert (line, code) not in codes("\n".join(lines), shop_cluster() if needs_cluster else None)


@pytest.mark.parametrize("code", sorted(CASES))
def test_rule_is_silenced_by_a_comment_above(code):
    text, line, needs_cluster = CASES[code]
    lines = text.split("\n")
    lines.insert(line - 1, f"# reviewed with the DBA: segc: ignore[{code}]")
    assert (line + 1, code) not in codes("\n".join(lines), shop_cluster() if needs_cluster else None)


def test_a_comment_silences_only_its_codes_and_its_statement():
    text = "namespace shop\n# segc: ignore[SEG103]\nallow */* -> db:5432\nallow */* -> db2:5432\nallow */* -> web  # segc: ignore[SEG103]\n"
    assert codes(text) == [(4, "SEG103"), (5, "SEG105")]
    # A block of comment lines above counts; a blank line or a statement in between does not.
    text = "namespace shop\n# segc: ignore[SEG103]\n# public by design\nallow */* -> db:5432\n# segc: ignore[SEG103]\n\nallow */* -> db2:5432\n"
    assert codes(text) == [(7, "SEG103")]


@pytest.mark.parametrize("code", sorted(CASES))
def test_rule_is_silenced_by_project_config(code, tmp_path):
    text, line, needs_cluster = CASES[code]
    for name, content in ((".segc.toml", f'ignore = ["{code}"]\n'), ("pyproject.toml", f'[project]\nname = "x"\n\n[tool.segc]\nignore = ["{code}"]\n')):
        project = tmp_path / name.strip(".")
        (project / "policies").mkdir(parents=True)
        (project / name).write_text(content)
        f = project / "policies" / "app.seg"
        f.write_text(text)
        ignore = project_ignores([str(f)])
        assert ignore == {code}
        result = compile_paths([str(f)])
        found = [(d.span.line, d.code) for d in lint(result, shop_cluster() if needs_cluster else None, ignore=ignore)]
        assert (line, code) not in found
        assert (line, code) in [(d.span.line, d.code) for d in lint(result, shop_cluster() if needs_cluster else None)]


def test_project_config_search(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.segc]\nignore = ["SEG105"]\n')
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "pyproject.toml").write_text('[project]\nname = "no-segc-table"\n')  # no [tool.segc]: keep walking
    assert project_ignores([str(tmp_path / "a" / "b" / "x.seg")]) == {"SEG105"}
    (tmp_path / "a" / ".segc.toml").write_text('ignore = ["seg101"]\n')  # the nearest wins
    assert project_ignores([str(tmp_path / "a" / "b" / "x.seg")]) == {"SEG101"}
    (tmp_path / "a" / ".segc.toml").write_text("ignore = 3\n")
    with pytest.raises(ConfigError, match=r"\.segc\.toml: ignore must be a list of codes"):
        project_ignores([str(tmp_path / "a" / "b" / "x.seg")])
    (tmp_path / "a" / ".segc.toml").write_text("ignore = [\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        project_ignores([str(tmp_path / "a" / "b" / "x.seg")])


# ------------------------------------------------------------ each rule's details


def test_covered_names_the_covering_statement():
    ((line, code, message),) = warnings("namespace shop\nallow * -> api\nallow web -> api:443\n")
    assert (line, code) == (3, "SEG101")
    assert message == "this allow adds nothing: `allow * -> api` (t.seg:2:1) already allows all of it"


def test_covered_needs_the_same_kind_of_peer():
    # A block covers pod IPs but never isolates: `web` is not covered by 0.0.0.0/0.
    assert "SEG101" not in [c for _, c in codes("namespace shop\nallow api -> 0.0.0.0/0\nallow api -> web\n")]
    # Equal statements: the second one is reported, once.
    assert codes("namespace shop\nallow api -> web\nallow api -> web\n") == [(3, "SEG101")]


@given(program(), cluster())
def test_removing_a_covered_allow_changes_nothing(text, c):
    """SEG101's claim, on random programs: the reported allow can be deleted."""
    note(text)
    result = compile_paths(["p.seg"], {"p.seg": text})
    if result.program is None:
        return
    covered = {d.span for d in lint(result) if d.code == "SEG101"}
    if not covered:
        return
    full = result.program
    reduced = ir.Program(full.managed, full.deny_alls, tuple(a for a in full.allows if a.span not in covered))
    a, b = SegEvaluator(full, c), SegEvaluator(reduced, c)
    for src in c.endpoints():
        for dst in c.endpoints():
            for port, proto in PROBE_PORTS:
                assert a.allowed(src, dst, port, proto) == b.allowed(src, dst, port, proto), (src.key, dst.key, port, proto)


def test_dns_is_satisfied_by_any_rule_to_port_53():
    assert codes("namespace shop\ndeny-all\nallow dns\n") == []
    assert codes("namespace shop\ndeny-all egress\nallow * -> kube-system/*:53/udp\n") == []
    assert codes("namespace shop\ndeny-all ingress\n") == []  # egress still open
    assert codes("deny-all egress in batch\n") == [(1, "SEG102")]


def test_broad_rules():
    assert codes("namespace shop\nallow 0.0.0.0/0 -> db:3306\n") == [(2, "SEG103")]
    assert codes("namespace shop\nallow {}/{} -> db:6000-6500\n") == [(2, "SEG103")]
    assert codes("namespace shop\nallow 0.0.0.0/0 -> web:443\n") == []  # a public web site
    assert codes("namespace shop\nallow */prometheus -> db:5432\n") == []  # named clients
    assert codes("namespace shop\ndeny-all egress\nallow dns\nallow api -> internet:443\n") == []  # private ranges excepted
    assert codes("namespace shop\ndeny-all egress\nallow dns\nallow api -> ::/0\n") == [(4, "SEG104")]


def test_unused_groups():
    text = "group a = x/y\ngroup b = a\nnamespace shop\ngroup c = {tier=x}\nallow web -> shop/c\nallow b -> web\n"
    assert codes(text) == [(4, "SEG106")]  # `shop/c` is the label app=c, not the group


def test_cluster_names_with_did_you_mean():
    c = shop_cluster()
    ((_, code, message),) = warnings("namespace shop\nallow web -> apis:8080\n", c)
    assert (code, message) == ("SEG107", "the destination shop/apis matches no pod of the cluster")
    result = compile_paths(["t.seg"], {"t.seg": "namespace shop\nallow web -> apis:8080\n"})
    assert lint(result, c)[0].notes == ("did you mean app=api?",)
    result = compile_paths(["t.seg"], {"t.seg": "namespace shop\nallow shopp/web -> api:8080\n"})
    assert [d.notes for d in lint(result, c)] == [("did you mean namespace 'shop'?",)]
    result = compile_paths(["t.seg"], {"t.seg": "namespace shop\nallow web -> {teir=backend}:8080\n"})
    assert [d.notes for d in lint(result, c)] == [("did you mean the label key 'tier'?",)]
    assert codes("namespace shop\nallow web -> api:8080\nallow dns\n", c) == []


def test_block_covering_pods():
    c = shop_cluster()
    ((_, code, message),) = warnings("namespace shop\nallow 10.1.0.0/16 -> web:8080\n", c)
    assert code == "SEG108"
    assert message == "the source 10.1.0.0/16 covers pod IPs of the cluster (kube-system/dns-1, shop/api-1, shop/web-1), whatever their labels"
    assert codes("namespace shop\nallow 192.0.2.0/24 -> web:8080\n", c) == []


def test_policy_names_match_what_build_writes():
    text = CASES["SEG109"][0]
    result = compile_paths(["t.seg"], {"t.seg": text})
    names = sorted(p["metadata"]["name"] for p in result.policies)
    assert all(n.startswith("web-ingress-") for n in names), names  # the hashes the lint warns about
    ((line, code, message),) = warnings(text)
    assert message == "this statement's policy for pods {app=Web} in 'shop' wants the name 'web-ingress', like the policy for {app=web} from t.seg:2:1; segc adds a hash to both names"


# Pod parts whose policy names collide (web / {app=Web} / {app.kubernetes.io/name=web},
# a-b / {app in (a, b)}, default-deny / deny-all, all-pods / *).
CLASHING = ["web", "{app=Web}", "{app.kubernetes.io/name=web}", "a-b", "{app in (a, b)}", "{app=default-deny}", "*", "{app=all-pods}", "api"]


@st.composite
def clashing_program(draw):
    lines = [f"namespace {draw(st.sampled_from(['shop', 'data']))}"]
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["allow", "allow", "deny"]))
        if kind == "deny":
            lines.append(f"deny-all{draw(st.sampled_from(['', ' ingress', ' egress']))}")
        else:
            src, dst = draw(st.sampled_from(CLASHING)), draw(st.sampled_from(CLASHING))
            lines.append(f"allow {src} -> {dst}:{draw(st.sampled_from(['80', '443', '53/udp']))}")
    return "\n".join(lines) + "\n"


@given(st.one_of(program(), clashing_program()))
def test_policy_name_lint_fires_iff_build_adds_hashes(text):
    note(text)
    result = compile_paths(["p.seg"], {"p.seg": text})
    if not result.ok:
        return
    fired = any(d.code == "SEG109" for d in lint(result))
    # Names here stay far below 63 characters, so a hash suffix means a clash.
    hashed = any(re.fullmatch(r".*-[0-9a-f]{8}", p["metadata"]["name"]) for p in result.policies)
    assert fired == hashed


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "examples").iterdir() if (p / f"{p.name}.seg").is_file()))
def test_examples_are_lint_clean(name):
    result = compile_paths([str(ROOT / "examples" / name / f"{name}.seg")])
    assert lint(result) == []


# ---------------------------------------------------------------------- CLI


def test_check_cli_reports_lint_and_cluster(tmp_path):
    f = tmp_path / "app.seg"
    f.write_text("namespace shop\nallow web -> apis:8080\nallow */* -> db:5432\n")
    cl = tmp_path / "cluster.yaml"
    cl.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: api-1, namespace: shop, labels: {app: api}}\n")
    r = subprocess.run([SEGC, "check", "--format", "json", "--cluster", str(cl), str(f)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    found = [(d["line"], d["code"], d["notes"][:1]) for d in json.loads(r.stdout)]
    assert (2, "SEG107", ["did you mean app=api?"]) in found  # the destination apis
    assert {(line, code) for line, code, _ in found} == {(2, "SEG107"), (3, "SEG103"), (3, "SEG107")}  # no pod is app=web or app=db
    (tmp_path / ".segc.toml").write_text('ignore = ["SEG103", "SEG107"]\n')
    r = subprocess.run([SEGC, "check", "--format", "json", "--cluster", str(cl), str(f)], capture_output=True, text=True)
    assert (r.returncode, json.loads(r.stdout)) == (0, [])
    (tmp_path / ".segc.toml").write_text("ignore = [\n")
    r = subprocess.run([SEGC, "check", str(f)], capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.startswith("segc: error: ") and "not valid TOML" in r.stderr


def test_build_prints_lint_warnings_and_still_builds(tmp_path):
    f = tmp_path / "app.seg"
    f.write_text("namespace shop\nallow */* -> db:5432\n")
    r = subprocess.run([SEGC, "build", str(f), "-o", "-"], capture_output=True, text=True)
    assert r.returncode == 0 and "kind: NetworkPolicy" in r.stdout
    assert "[SEG103]" in r.stderr


# --------------------------------------------------------------------- docs


def _doc_sections() -> dict[str, str]:
    """docs/lint.md: the first ```seg example of each `## SEG1xx` section."""
    text = (ROOT / "docs" / "lint.md").read_text()
    out = {}
    for part in text.split("\n## ")[1:]:
        code = part.split(":", 1)[0]
        if code.startswith("SEG"):
            out[code] = part.split("```seg\n", 1)[1].split("```", 1)[0]
    return out


def test_every_lint_code_has_a_docs_entry_whose_example_triggers_it():
    sections = _doc_sections()
    assert sorted(sections) == ["SEG100", *sorted(CASES)]
    for code, example in sections.items():
        result = compile_paths(["doc.seg"], {"doc.seg": example})
        found = {d.code for d in result.diagnostics} | {d.code for d in lint(result, shop_cluster())}
        assert code in found, (code, example, found)


@pytest.mark.parametrize("code,text", [
    ("SEG100", "namespace shop\nallow api -> 203.0.113.10/32:443\n"),
    ("SEG044", "namespace shop\ngroup payments = {team=payments}\nallow payment -> payments\n"),
])
def test_compiler_warnings_are_silenced_the_same_way(code, text, tmp_path):
    f = tmp_path / "app.seg"

    def reported() -> list[str]:
        r = subprocess.run([SEGC, "check", "--format", "json", str(f)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        return [d["code"] for d in json.loads(r.stdout)]

    f.write_text(text)
    assert code in reported()
    f.write_text(text.rstrip("\n") + f"  # segc: ignore[{code}]\n")
    assert code not in reported()
    f.write_text(text)
    (tmp_path / ".segc.toml").write_text(f'ignore = ["{code}"]\n')
    assert code not in reported()


def _covered_by_pairs(allows):
    """SEG101 by definition, comparing every pair: the (allow, first covering
    allow) pairs the indexed rule must report."""
    from segc.optimize.algebra import peer_within, ports_within

    def covers(b, a):
        return peer_within(a.dst, b.dst) and peer_within(a.src, b.src) and ports_within(a.ports, b.ports)

    out = []
    for i, a in enumerate(allows):
        for j, b in enumerate(allows):
            if j != i and covers(b, a) and (j < i or not covers(a, b)):
                out.append((a.span, b.span))
                break
    return out


# A tiny vocabulary of nested endpoints, so that allows cover one another often.
_NESTED = ["web", "app/web", "*/web", "{team=orders}/web", "app/{app=web, tier=api}", "app/{app in (web, api)}",
           "app/{app notin (api)}", "app/{tier}", "app/*", "*", "*/*", "data/web", "10.0.0.0/8", "10.0.0.0/24",
           "10.0.0.0/16 except 10.0.1.0/24"]
_NESTED_PORTS = ["", ":80", ":80,443", ":8000-8100", ":http", ":53/udp"]


@st.composite
def nested_program(draw):
    allows = draw(st.lists(st.tuples(st.sampled_from(_NESTED), st.sampled_from(_NESTED), st.sampled_from(_NESTED_PORTS)), min_size=2, max_size=14))
    return "namespace app\n" + "".join(f"allow {s} -> {d}{p}\n" for s, d, p in allows)


@given(st.one_of(program(), clashing_program(), nested_program()))
def test_covered_index_finds_what_comparing_every_pair_finds(text):
    """SEG101 buckets destinations and sources and indexes selectors by a
    requirement; that must only skip pairs that cannot cover."""
    from segc.lint import Context, covered

    note(text)
    result = compile_paths(["p.seg"], {"p.seg": text})
    if result.program is None:
        return
    ctx = Context(result.program, result.texts)
    found = [(d.span, d.message) for d in covered.run(ctx)]
    expected = _covered_by_pairs(ctx.allows)
    assert [span for span, _ in found] == [a for a, _ in expected]
    for (_, message), (_, by) in zip(found, expected):
        assert f"({by})" in message
