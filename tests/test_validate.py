"""Built-in validation: `segc build --validate`, on by default in `segc check`.

The examples' output is validated for every Kubernetes minor in
tests/test_examples.py (with segc.validate's validator); here: that the checks
have teeth (each of segc's own checks fails the objects it should, the schema
rejects unknown fields and wrong types), that a version without a schema is a
clear usage error, and that the CLI wires it up.
"""

from __future__ import annotations

import copy

import pytest
from click.testing import CliRunner
from hypothesis import given, settings

from segc.cli import cli
from segc.compile import compile_paths
from segc.diagnostics import Collector
from segc.validate import ValidationUnavailable, api_problems, bundled_versions, locate, schema_problems, validate_objects, validator
from strategies import program

GOOD = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "x", "namespace": "app"},
    "spec": {
        "podSelector": {"matchLabels": {"app": "api"}},
        "policyTypes": ["Ingress"],
        "ingress": [{"ports": [{"protocol": "TCP", "port": 8000, "endPort": 8100}]}],
    },
}


def _with_port(port: dict) -> dict:
    obj = copy.deepcopy(GOOD)
    obj["spec"]["ingress"][0]["ports"] = [port]
    return obj


def test_the_good_object_passes():
    assert schema_problems(GOOD, (1, 30)) == []
    assert api_problems(GOOD) == []


@pytest.mark.parametrize(
    "port, problem",
    [
        ({"endPort": 8100}, "endPort needs a numeric port"),
        ({"port": "http", "endPort": 8100}, "endPort needs a numeric port"),
        ({"port": 8100, "endPort": 8000}, "endPort 8000 is below port 8100"),
        ({"port": 70000}, "port 70000 is outside 1-65535"),
        ({"port": 0}, "port 0 is outside 1-65535"),
        ({"port": 80, "endPort": 70000}, "endPort 70000 is outside 1-65535"),
        ({"protocol": "ICMP", "port": 80}, "protocol 'ICMP' is not one of TCP, UDP, SCTP"),
        ({"port": "HTTP"}, "is not an IANA service name"),
    ],
)
def test_api_server_checks_the_schema_misses(port, problem):
    obj = _with_port(port)
    assert schema_problems(obj, (1, 30)) == [], "the schema does not catch this; segc's own check must"
    found = api_problems(obj)
    assert any(problem in p for p in found), found


@pytest.mark.parametrize("types", [["Ingress", "Ingress"], ["Inbound"], ["Ingress", "Egress", "Ingress"]])
def test_bad_policy_types(types):
    obj = copy.deepcopy(GOOD)
    obj["spec"]["policyTypes"] = types
    assert any("policyTypes" in p for p in api_problems(obj))


def test_schema_rejects_unknown_fields_and_wrong_types():
    typo = copy.deepcopy(GOOD)
    typo["spec"]["ingres"] = []
    assert schema_problems(typo, (1, 30))
    assert schema_problems(_with_port({"port": [80]}), (1, 30))


def test_one_validator_per_version_and_kind_is_reused():
    assert validator((1, 30), "networking.k8s.io/v1", "NetworkPolicy") is validator((1, 30), "networking.k8s.io/v1", "NetworkPolicy")


def test_versions_without_a_schema_are_a_clear_error():
    have = bundled_versions()
    assert (1, 28) in have and have[-1] >= (1, 30)
    for version in ((1, 22), (have[-1][0], have[-1][1] + 1)):
        with pytest.raises(ValidationUnavailable, match=r"no Kubernetes 1\.\d+ schema is installed .*--no-validate"):
            validator(version, "networking.k8s.io/v1", "NetworkPolicy")


@settings(max_examples=30, deadline=None)
@given(program())
def test_compiled_programs_validate(text):
    """Whatever segc accepts, Kubernetes accepts: random programs, newest schema."""
    result = compile_paths(["prog.seg"], {"prog.seg": text})
    if not result.ok:
        return
    diags = Collector()
    validate_objects(result.policies, bundled_versions()[-1], diags, result.texts)
    assert diags.items == []


def test_diagnostics_point_at_the_statement_behind_the_policy():
    text = "namespace app\ndeny-all\n\nallow frontend -> backend:8080   # the one\n"
    result = compile_paths(["app.seg"], {"app.seg": text})
    backend = next(p for p in result.policies if p["metadata"]["name"].startswith("backend"))
    span = locate(backend, result.texts)
    assert (span.file, span.line, span.column) == ("app.seg", 4, 1)
    broken = copy.deepcopy(backend)
    broken["spec"]["ingress"][0]["ports"][0]["endPort"] = 10
    diags = Collector()
    validate_objects([broken], (1, 30), diags, result.texts)
    [d] = diags.items
    assert d.code == "SEG072" and d.span.line == 4
    assert "NetworkPolicy app/backend" in d.message and "endPort 10 is below port 8080" in d.message


def test_cli_check_validates_by_default_and_build_on_request(tmp_path):
    seg = tmp_path / "app.seg"
    seg.write_text("namespace app\ndeny-all\nallow frontend -> backend:8000-8100\n")
    runner = CliRunner()
    assert runner.invoke(cli, ["check", str(seg)]).exit_code == 0
    assert runner.invoke(cli, ["check", "--no-validate", "--k8s-version", "1.22", str(seg)]).exit_code == 0
    refused = runner.invoke(cli, ["check", "--k8s-version", "1.22", str(seg)])
    assert refused.exit_code == 2 and "no Kubernetes 1.22 schema is installed" in refused.output
    built = runner.invoke(cli, ["build", "--validate", "--k8s-version", "1.28", str(seg), "-o", "-"])
    assert built.exit_code == 0 and "endPort: 8100" in built.stdout


def test_cli_reports_invalid_output_as_errors(tmp_path, monkeypatch):
    """A backend bug that emitted an invalid object would stop the build (simulated
    by corrupting what the renderer returns)."""
    import segc.compile as compile_module

    real = compile_module.render

    def corrupt(policies):
        out = real(policies)
        for obj in out:
            obj["spec"]["policyTypes"] = ["Ingress", "Ingress"]
        return out

    monkeypatch.setattr(compile_module, "render", corrupt)
    seg = tmp_path / "app.seg"
    seg.write_text("namespace app\nallow frontend -> backend:8080\n")
    out = CliRunner().invoke(cli, ["build", "--validate", str(seg), "-o", "-"])
    assert out.exit_code == 1 and "[SEG072]" in out.stderr and out.stdout == ""
    checked = CliRunner().invoke(cli, ["check", "--format", "json", str(seg)])
    assert checked.exit_code == 1 and '"SEG072"' in checked.stdout
