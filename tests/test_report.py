"""`segc report`: one self-contained HTML page, checked as data and in a real browser.

* The matrix in the page is evaluator 2's answer for every pair of endpoints
  (property test over random programs and clusters: each class cell holds for
  every member pair).
* Findings carry their source lines and accept extra diagnostics (lint).
* The page needs no network: no external script, style, image or font.
* Browser test: the system Chromium (Debian package ``chromium``) driven by
  Playwright's Python package, which downloads no browser here. The page loads
  with no console errors, the matrix has classes x classes cells, clicking a
  denied cell shows the isolation that denies it; a screenshot is kept under
  ``build/test-artifacts/`` (the path is printed).
"""

from __future__ import annotations

import json
import os
import re
import shutil

import pytest
from click.testing import CliRunner
from hypothesis import given, settings

from example_names import NAMES
import strategies as gen
from segc.cli import cli
from segc.compile import compile_paths
from segc.diagnostics import Diagnostic
from segc.ir import Span
from segc.k8s_eval import K8sEvaluator
from segc.report import build_report, collect_findings, matrix_data, why_text, witness_cluster

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A third of the profile's examples (ci: 100, deep: 3,333): each example compiles
# a program and evaluates it on a cluster, and the suite shares 2 cores.
LIGHT = settings(max_examples=max(30, settings().max_examples // 3))
EXAMPLES = NAMES
REACH = os.path.join(ROOT, "tests", "data", "reach")
ARTIFACTS = os.path.join(ROOT, "build", "test-artifacts")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]


def run(*args, input=None):
    r = CliRunner().invoke(cli, list(args), input=input)
    return r.exit_code, r.output


def example(name):
    d = os.path.join(ROOT, "examples", name)
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".seg"))


def page_data(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="data">(.*?)</script>', html, re.S)
    return json.loads(m.group(1))


# ------------------------------------------------------------------ the page


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_makes_a_self_contained_page(name, tmp_path):
    out = tmp_path / "r.html"
    code, msg = run("report", *example(name), "-o", str(out))
    assert code == 0, msg
    html = out.read_text()
    # Nothing is fetched: no external script, stylesheet, image, frame or font.
    assert not re.search(r"""(src|href)\s*=\s*["'](?!#|data:)""", html), "a resource outside the page"
    assert "@import" not in html and "url(http" not in html
    assert '<script src' not in html
    data = page_data(html)
    n = len(data["classes"])
    assert n and data["ports"] and len(data["allow"]) == len(data["ports"]) == len(data["why"])
    assert all(len(grid) == n and all(len(row) == n for row in grid) for grid in data["allow"])
    assert "<svg" in html  # the graph, drawn by Graphviz
    # Same input, same bytes.
    again = tmp_path / "r2.html"
    run("report", *example(name), "-o", str(again))
    assert again.read_bytes() == out.read_bytes()


def test_page_with_a_cluster(tmp_path):
    out = tmp_path / "r.html"
    code, msg = run("report", "--cluster", os.path.join(REACH, "cluster.yaml"), os.path.join(REACH, "app.seg"), "-o", str(out))
    assert code == 0, msg
    data = page_data(out.read_text())
    assert data["witness"] is False
    assert sorted(m for c in data["classes"] for m in c["members"]) == ["app/be", "app/fe", "data/pg"]


def test_findings_have_source_lines_and_take_extra_diagnostics():
    result = compile_paths(["shop.seg"], {"shop.seg": "namespace shop\ndeny-all ingress\nallow dns\n"})
    assert result.ok
    extra = [Diagnostic(Span("shop.seg", 2, 1, 2, 17), "warning", "SEG199", "an extra finding", ("a note",))]
    findings = collect_findings(result, extra)
    by_code = {f.code: f for f in findings}
    assert by_code["SEG100"].source == "allow dns" and by_code["SEG100"].line == 3
    assert by_code["SEG199"].source == "deny-all ingress" and by_code["SEG199"].notes == ("a note",)
    assert [f.line for f in findings] == sorted(f.line for f in findings)
    html = build_report(result.policies, result, findings=findings)
    assert "SEG199" in html and "an extra finding" in html and "allow dns" in html


def test_never_overwrites_a_users_file(tmp_path):
    mine = tmp_path / "index.html"
    mine.write_text("<p>mine</p>")
    code, out = run("report", *example("three-tier"), "-o", str(mine))
    assert code == 1 and "was not written by segc" in out
    assert mine.read_text() == "<p>mine</p>"
    ours = tmp_path / "report.html"
    assert run("report", *example("three-tier"), "-o", str(ours))[0] == 0
    assert run("report", *example("team-database"), "-o", str(ours))[0] == 0  # its own page: replaced
    assert "team-database" in ours.read_text()


def test_input_errors_exit_1(tmp_path):
    code, out = run("report", "-", "-o", str(tmp_path / "r.html"), input="namespace a\nallow x -> y:0\n")
    assert code == 1 and "SEG030" in out and not (tmp_path / "r.html").exists()


def test_witness_cluster_has_a_pod_for_each_selector():
    result = compile_paths(example("team-database"))
    cluster = witness_cluster(result.policies)
    ev = K8sEvaluator(result.policies, cluster)
    for p in ev.policies:
        assert any(pod.namespace == p.namespace and p.selector.matches(pod.labels) for pod in cluster.pods), p.key
    # The peer {team=orders}/orders-api gets a namespace labelled team=orders.
    assert any(ns.labels.get("team") == "orders" for ns in cluster.namespaces.values())
    assert [e.ip for e in cluster.externals] == ["198.51.100.20"]


@LIGHT
@given(gen.program(), gen.cluster())
def test_matrix_cells_are_evaluator_answers_for_every_member(text, cluster):
    result = compile_paths(["prog.seg"], {"prog.seg": text})
    if not result.ok:
        return
    data = matrix_data(result.policies, cluster)
    ev = K8sEvaluator(result.policies, cluster)
    by_key = {e.key: e for e in cluster.endpoints()}
    assert sorted(m for c in data["classes"] for m in c["members"]) == sorted(by_key)
    for pi, port in enumerate(data["ports"]):
        number, proto = port.split("/")
        for i, src in enumerate(data["classes"]):
            for j, dst in enumerate(data["classes"]):
                allowed = data["allow"][pi][i][j] == "1"
                a, b = by_key[src["members"][0]], by_key[dst["members"][0]]
                # The page's explanation is evaluator 2's, names put back exactly.
                assert why_text(data["whys"][data["why"][pi][i][j]], a.key, b.key, port) == ev.why(a, b, int(number), proto)
                for s in src["members"]:
                    for d in dst["members"]:
                        assert ev.allowed(by_key[s], by_key[d], int(number), proto) == bool(allowed)


# ------------------------------------------------------------------ browser


def _browser():
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (.ci/run installs the Debian packages chromium and chromium-driver as root)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is missing: pip install -e '.[test]'")
    return sync_playwright


def test_report_in_headless_chromium(tmp_path):
    sync_playwright = _browser()
    out = tmp_path / "report.html"
    code, msg = run("report", *example("team-database"), "-o", str(out))
    assert code == 0, msg
    data = page_data(out.read_text())
    n = len(data["classes"])
    os.makedirs(ARTIFACTS, exist_ok=True)
    shot = os.path.join(ARTIFACTS, "report-team-database.png")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            problems, requests = [], []
            page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(out.as_uri())
            page.wait_for_load_state("load")
            assert problems == []  # JavaScript errors would show here, before any lookup
            page.wait_for_selector("#matrix td.cell", timeout=10_000)
            assert requests == [out.as_uri()]  # the page fetches nothing else
            assert page.locator("#matrix td.cell").count() == n * n
            assert page.locator("#matrix tbody tr").count() == n
            assert page.locator(".svg svg").count() == 1
            assert page.locator("section.workload").count() >= 4
            # A denied cell: postgres' witness pod -> pg-backup's, on 5432.
            page.select_option("#port", label="5432/TCP")
            src = next(i for i, c in enumerate(data["classes"]) if c["members"] == ["data/app-postgres"])
            dst = next(i for i, c in enumerate(data["classes"]) if c["members"] == ["data/app-pg-backup"])
            cell = page.locator(f'#matrix td.cell[data-src="{src}"][data-dst="{dst}"]')
            assert cell.get_attribute("class") == "cell deny"
            cell.click()
            why = page.locator("#why").inner_text()
            assert "denied" in why
            assert "data/app-pg-backup is ingress-isolated by data/all-pods" in why
            assert "egress-isolated by data/all-pods" in why
            # An allowed cell: pg-backup -> postgres on 5432 names the rules.
            page.locator(f'#matrix td.cell[data-src="{dst}"][data-dst="{src}"]').click()
            why = page.locator("#why").inner_text()
            assert "allowed" in why and "data/postgres-ingress ingress rule #1" in why
            page.click("#fit")
            assert page.locator("div.svg.fit").count() == 1
            # Filters: only sources of namespace data.
            page.select_option("#src-ns", "data")
            rows = sum(1 for c in data["classes"] if c["ns"] == "data")
            assert page.locator("#matrix td.cell").count() == rows * n
            page.select_option("#src-ns", "*")
            page.locator(f'#matrix td.cell[data-src="{src}"][data-dst="{dst}"]').click()
            page.screenshot(path=shot, full_page=True)
            assert problems == []
        finally:
            browser.close()
    print(f"\nscreenshot: {shot}")
    assert os.path.getsize(shot) > 10_000


def test_report_page_carries_lint_findings(tmp_path):
    src = tmp_path / "app.seg"
    src.write_text("namespace app\ndeny-all\nallow dns\ngroup unused = {tier=api}\nallow fe -> be:80\n")
    out = tmp_path / "r.html"
    code, msg = run("report", str(src), "-o", str(out))
    assert code == 0, msg
    html = out.read_text()
    assert "SEG106" in html and "group unused = {tier=api}" in html  # the lint warning, with its line
