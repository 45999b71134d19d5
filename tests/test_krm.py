"""`segc krm`, the KRM function: the protocol itself (a ResourceList piped
in), and real kpt (`kpt fn eval --exec`, `kpt fn render --allow-exec`) where
kpt is installed; kpt is not obtainable from PyPI or Debian, so on a machine
without it those tests skip and say so.
"""

from __future__ import annotations

import os
import shutil
import sys

import pytest
import yaml

from tools.k8s import built, docs, policies, run, segc_cmd

PROGRAM = """\
namespace shop
deny-all
allow dns
allow frontend -> backend:http
"""

APP = [
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "frontend", "namespace": "shop"},
     "spec": {"selector": {"matchLabels": {"app": "frontend"}}, "template": {"metadata": {"labels": {"app": "frontend"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "backend", "namespace": "shop"},
     "spec": {"selector": {"matchLabels": {"app": "backend"}}, "template": {"metadata": {"labels": {"app": "backend"}}, "spec": {"containers": [{"name": "api", "image": "api", "ports": [{"name": "http", "containerPort": 8000}]}]}}}},
]

CONFIG = {"apiVersion": "segc.io/v1", "kind": "SegcTransformer", "metadata": {"name": "policies"}, "files": ["shop.seg"]}


def krm(tmp_path, items, config=CONFIG, program=PROGRAM):
    (tmp_path / "shop.seg").write_text(program)
    rl = {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": items, "functionConfig": config}
    p = run([*segc_cmd(), "krm"], cwd=tmp_path, input=yaml.safe_dump(rl))
    out = yaml.safe_load(p.stdout)
    assert out["kind"] == "ResourceList", p.stdout
    return p, out


def test_items_get_exactly_the_built_policies(tmp_path):
    p, out = krm(tmp_path, APP)
    assert p.returncode == 0, p.stderr
    assert "results" not in out
    assert out["items"][: len(APP)] == APP
    assert policies(out["items"]) == built("shop.seg", cwd=tmp_path)
    assert len(out["items"]) == len(APP) + len(built("shop.seg", cwd=tmp_path))


def test_running_on_its_own_output_changes_nothing(tmp_path):
    _, once = krm(tmp_path, APP)
    p, twice = krm(tmp_path, once["items"])
    assert p.returncode == 0, p.stderr
    assert twice["items"] == once["items"]
    # A policy the program no longer writes is dropped too.
    p, fewer = krm(tmp_path, once["items"], program=PROGRAM.replace("allow frontend -> backend:http\n", ""))
    assert p.returncode == 0
    assert policies(fewer["items"]) == built("shop.seg", cwd=tmp_path)
    assert len(policies(fewer["items"])) == 1 < len(policies(once["items"]))
    assert fewer["items"][: len(APP)] == APP


def test_configmap_function_config(tmp_path):
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fn"}, "data": {"files": "shop.seg", "strict": "true"}}
    p, out = krm(tmp_path, APP, config)
    assert p.returncode == 0, p.stderr
    assert policies(out["items"]) == built("shop.seg", cwd=tmp_path)


def test_diagnostics_are_results_with_file_and_line(tmp_path):
    p, out = krm(tmp_path, APP, program=PROGRAM.replace("-> backend:http", "-> backend:99999"))
    assert p.returncode == 1
    assert out["items"] == APP  # unchanged
    assert out["results"] == [
        {
            "message": "shop.seg:4:27: port 99999 is outside 1-65535 [SEG030]",
            "severity": "error",
            "file": {"path": "shop.seg"},
            "tags": {"code": "SEG030", "line": "4", "column": "27"},
        }
    ]
    assert "shop.seg:4:27: error: port 99999 is outside 1-65535 [SEG030]" in p.stderr


def test_render_mode_warning_is_a_result(tmp_path):
    p, out = krm(tmp_path, APP, program=PROGRAM.replace("-> backend:http", "-> backnd:http"))
    assert p.returncode == 0
    [r] = out["results"]
    assert r["severity"] == "warning" and r["tags"] == {"code": "SEG160", "line": "4", "column": "19"} and r["file"] == {"path": "shop.seg"}
    assert "did you mean app=backend?" in r["message"]
    strict = dict(CONFIG, strict=True)
    p, out = krm(tmp_path, APP, strict, program=PROGRAM.replace("-> backend:http", "-> backnd:http"))
    assert p.returncode == 1 and out["results"][0]["severity"] == "error" and out["items"] == APP


def test_a_policy_someone_else_wrote_is_refused(tmp_path):
    (tmp_path / "shop.seg").write_text(PROGRAM)
    mine = built("shop.seg", cwd=tmp_path)[0]
    del mine["metadata"]["labels"]
    p, out = krm(tmp_path, APP + [mine])
    assert p.returncode == 1
    [r] = out["results"]
    assert r["tags"]["code"] == "SEG163" and r["severity"] == "error"
    assert r["resourceRef"] == {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "name": mine["metadata"]["name"], "namespace": "shop"}
    assert out["items"] == APP + [mine]


@pytest.mark.parametrize(
    "stdin,why",
    [("items: [", "cannot read the ResourceList"), ("kind: ConfigMap\n", "expected a ResourceList")],
)
def test_bad_input_is_a_result_not_a_traceback(stdin, why):
    p = run([*segc_cmd(), "krm"], input=stdin)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    out = yaml.safe_load(p.stdout)
    assert out["kind"] == "ResourceList" and why in out["results"][0]["message"]


def test_input_that_is_not_utf8():
    import subprocess

    p = subprocess.run([*segc_cmd(), "krm"], input=b"items: [\xff]\n", capture_output=True)
    assert p.returncode == 1 and b"Traceback" not in p.stderr
    assert "cannot read the ResourceList" in yaml.safe_load(p.stdout)["results"][0]["message"]


def test_bad_function_config(tmp_path):
    p, out = krm(tmp_path, APP, {"apiVersion": "segc.io/v1", "kind": "SegcTransformer", "metadata": {"name": "x"}, "files": "shop.seg"})
    assert p.returncode == 1 and out["items"] == APP
    assert out["results"][0]["tags"]["code"] == "SEG164" and "`files` must be a non-empty list" in out["results"][0]["message"]


# ------------------------------------------------------------------ real kpt

KPT = shutil.which("kpt")
needs_kpt = pytest.mark.skipif(KPT is None, reason="kpt is not installed (it is not obtainable from PyPI or Debian); the protocol tests above still run")


def _segc_on_path(tmp_path) -> dict:
    d = tmp_path / "bin"
    d.mkdir()
    exe = d / "segc"
    exe.write_text(f"#!/bin/sh\nexec {sys.executable} -m segc \"$@\"\n")
    exe.chmod(0o755)
    return {**os.environ, "PATH": f"{d}{os.pathsep}{os.environ['PATH']}"}


def _package(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "app.yaml").write_text(yaml.safe_dump_all(APP))
    (pkg / "shop.seg").write_text(PROGRAM)
    return pkg


def _package_objects(pkg) -> list[dict]:
    out = []
    for root, _, files in os.walk(pkg):
        for f in files:
            if f.endswith(".yaml") and f not in ("Kptfile", "segc-fn.yaml"):
                with open(os.path.join(root, f), encoding="utf-8") as fh:
                    out += docs(fh.read())
    return out


@needs_kpt
def test_kpt_fn_eval(tmp_path):
    env = _segc_on_path(tmp_path)
    pkg = _package(tmp_path)
    (tmp_path / "fn.yaml").write_text(yaml.safe_dump(CONFIG))
    for _ in range(2):  # the second run finds its own output in the package
        p = run([KPT, "fn", "eval", str(pkg), "--exec", "segc krm", "--fn-config", str(tmp_path / "fn.yaml")], cwd=pkg, env=env)
        assert p.returncode == 0, p.stdout + p.stderr
        objs = _package_objects(pkg)
        assert policies(objs) == built("shop.seg", cwd=pkg)
        assert sorted(o["metadata"]["name"] for o in objs if o["kind"] == "Deployment") == ["backend", "frontend"]


@needs_kpt
def test_kpt_fn_render_pipeline_and_errors(tmp_path):
    env = _segc_on_path(tmp_path)
    pkg = _package(tmp_path)
    (pkg / "Kptfile").write_text(
        "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata: {name: pkg}\npipeline:\n  mutators:\n    - exec: segc krm\n      configPath: segc-fn.yaml\n"
    )
    config = dict(CONFIG, metadata={"name": "policies", "annotations": {"config.kubernetes.io/local-config": "true"}})
    (pkg / "segc-fn.yaml").write_text(yaml.safe_dump(config))
    # Run from elsewhere: .seg files are found next to the function's config.
    p = run([KPT, "fn", "render", str(pkg), "--allow-exec"], cwd=tmp_path, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert policies(_package_objects(pkg)) == built("shop.seg", cwd=pkg)
    (pkg / "shop.seg").write_text(PROGRAM.replace("backend:http", "backend:99999"))
    p = run([KPT, "fn", "render", str(pkg), "--allow-exec"], cwd=tmp_path, env=env)
    assert p.returncode != 0
    assert "shop.seg:4:27: port 99999 is outside 1-65535 [SEG030]" in p.stdout + p.stderr
