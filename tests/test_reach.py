"""`segc reach`: the CLI contract of BRIEF.md, on .seg and on YAML inputs."""

from __future__ import annotations

import json
import os

from click.testing import CliRunner

from segc.cli import cli

DATA = os.path.join(os.path.dirname(__file__), "data", "reach")
CLUSTER = os.path.join(DATA, "cluster.yaml")
APP = os.path.join(DATA, "app.seg")


def run(*args):
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def probes(*args):
    code, out = run("reach", "--cluster", CLUSTER, "--format", "json", *args)
    assert code == 0, out
    return {(p["from"], p["to"], p["port"], p["protocol"]): p["allowed"] for p in json.loads(out)["probes"]}


def test_json_has_the_contract_shape():
    code, out = run("reach", "--cluster", CLUSTER, "--format", "json", "--ports", "8080/TCP", APP)
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == {"probes"}
    assert doc["probes"][0].keys() == {"from", "to", "port", "protocol", "allowed"}
    # Every pod to every pod: 3 x 3 probes on one port.
    assert len(doc["probes"]) == 9


def test_seg_meaning():
    p = probes("--ports", "8080/TCP,5432/TCP", "--external", "192.0.2.1", APP)
    assert p[("app/fe", "app/be", 8080, "TCP")] is True  # named port http = 8080 on backend
    assert p[("app/be", "app/fe", 8080, "TCP")] is False  # backend may not send to frontend
    assert p[("app/be", "data/pg", 5432, "TCP")] is True
    assert p[("app/fe", "data/pg", 5432, "TCP")] is False  # fe is egress-isolated
    assert p[("192.0.2.1", "data/pg", 5432, "TCP")] is True  # data is not managed
    assert p[("192.0.2.1", "app/be", 8080, "TCP")] is False  # app denies all ingress


def test_yaml_output_agrees_with_seg(tmp_path):
    out = tmp_path / "out"
    code, text = run("build", APP, "-o", str(out))
    assert code == 0, text
    ports = ("--ports", "80/TCP,8080/TCP,5432/TCP,53/UDP", "--external", "192.0.2.1")
    from_seg = probes(*ports, APP)
    assert probes(*ports, str(out)) == from_seg
    assert probes(*ports, *sorted(str(p) for p in out.glob("app.*.yaml"))) == from_seg


def test_yaml_list_and_multidoc(tmp_path):
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "deny", "namespace": "app"},
        "spec": {"podSelector": {}},
    }
    as_list = tmp_path / "list.yaml"
    as_list.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [policy]}))
    p = probes("--ports", "80/TCP", str(as_list))
    assert p[("data/pg", "app/fe", 80, "TCP")] is False
    assert p[("app/fe", "data/pg", 80, "TCP")] is True


def test_table_layout():
    code, out = run("reach", "--cluster", CLUSTER, "--ports", "8080/TCP", APP)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "8080/TCP"
    assert lines[1].split() == ["app/be", "app/fe", "data/pg"]
    assert lines[3].split() == ["app/fe", ".", "X", "X"]


def test_why_names_the_statement_and_the_isolation():
    code, out = run("reach", "--cluster", CLUSTER, APP, "--why", "app/fe", "app/be", "8080/TCP")
    assert code == 0
    assert "allowed" in out and "allow frontend -> backend:http" in out
    code, out = run("reach", "--cluster", CLUSTER, APP, "--why", "app/fe", "data/pg", "5432/TCP")
    assert code == 0
    assert "denied" in out and "egress-isolated" in out and "deny-all" in out


def test_bad_inputs_are_clean_errors(tmp_path):
    code, out = run("reach", "--cluster", str(tmp_path / "nope.yaml"), APP)
    assert code == 1 and "cannot read" in out
    code, out = run("reach", "--cluster", CLUSTER, "--ports", "80/XTP", APP)
    assert code == 2
    code, out = run("reach", "--cluster", CLUSTER, "--external", "not-an-ip", APP)
    assert code == 2
    bad = tmp_path / "bad.seg"
    bad.write_text("namespace app\nallow a ->\n")
    code, out = run("reach", "--cluster", CLUSTER, str(bad))
    assert code == 1 and "bad.seg:2:" in out
