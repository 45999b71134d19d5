"""The wheel works on its own: built from a copy of the source tree, installed
into a fresh virtual environment, its `segc` compiles a program that uses the
standard library (`allow dns`) and reports errors through the shipped grammar.

One wheel and one venv serve every test of this module. Dependencies (lark,
click, PyYAML) come from the package index, as for any user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Not part of the package: copying less makes the build faster, and a build in
# a copy leaves no build/ or egg-info behind in the working tree.
IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "venv", ".hypothesis", ".pytest_cache", "__pycache__", "build", "dist", "*.egg-info", "tests", "examples", "benchmarks", "out"
)


def _run(cmd, **kw) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, **kw)


def _bin(venv: str, name: str) -> str:
    return os.path.join(venv, "Scripts" if os.name == "nt" else "bin", name + (".exe" if os.name == "nt" else ""))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> str:
    src = str(tmp_path_factory.mktemp("src") / "segc")
    shutil.copytree(ROOT, src, ignore=IGNORE)
    dist = str(tmp_path_factory.mktemp("dist"))
    p = _run([sys.executable, "-m", "build", "--wheel", "--outdir", dist, src])
    if p.returncode != 0:
        # No `build` module, or no index for an isolated build environment:
        # pip with this interpreter's setuptools.
        p2 = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", dist, src])
        assert p2.returncode == 0, f"python -m build:\n{p.stdout}\n{p.stderr}\npip wheel:\n{p2.stdout}\n{p2.stderr}"
    wheels = [f for f in os.listdir(dist) if f.endswith(".whl")]
    assert len(wheels) == 1, wheels
    return os.path.join(dist, wheels[0])


@pytest.fixture(scope="module")
def venv(tmp_path_factory, wheel) -> str:
    path = str(tmp_path_factory.mktemp("venv") / "v")
    # --without-pip and pip --python: skips ensurepip, which is the slow part.
    p = _run([sys.executable, "-m", "venv", "--without-pip", path])
    assert p.returncode == 0, p.stderr
    p = _run([sys.executable, "-m", "pip", "--python", _bin(path, "python"), "install", "-q", wheel])
    if p.returncode != 0:  # a pip without --python: give the venv its own pip
        assert _run([sys.executable, "-m", "venv", "--clear", path]).returncode == 0
        p = _run([_bin(path, "python"), "-m", "pip", "install", "-q", wheel])
    assert p.returncode == 0, p.stdout + p.stderr
    return path


@pytest.fixture
def workdir(tmp_path):
    """An empty directory to run in: nothing to import from by accident."""
    return tmp_path


def _source_modules() -> set[str]:
    """Every module of compiler/segc, as its path inside the wheel."""
    base = os.path.join(ROOT, "compiler", "segc")
    out = set()
    for root, dirs, files in os.walk(base):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for f in files:
            if f.endswith(".py"):
                out.add("segc/" + os.path.relpath(os.path.join(root, f), base).replace(os.sep, "/"))
    return out


def test_wheel_ships_every_module(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    missing = sorted(_source_modules() - names)
    assert not missing, f"not in the wheel (add their packages to [tool.setuptools] packages in pyproject.toml): {missing}"


def test_wheel_ships_grammar_and_stdlib(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        assert "segc/grammar/seg.lark" in names
        assert "segc/stdlib/dns.seg" in names
        assert z.read("segc/grammar/seg.lark").decode() == open(os.path.join(ROOT, "grammar", "seg.lark"), encoding="utf-8").read()
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "segc = segc.cli:main" in z.read(entry_points).decode()
    # No test or tool files in the package.
    assert not any(n.startswith(("tests/", "examples/")) for n in names)


def test_installed_segc_is_the_wheel(venv, workdir):
    p = _run([_bin(venv, "python"), "-c", "import segc, os; print(os.path.realpath(segc.__file__))"], cwd=workdir)
    assert p.returncode == 0, p.stderr
    assert os.path.realpath(p.stdout.strip()).startswith(os.path.realpath(venv)), p.stdout


def test_installed_segc_builds_allow_dns(venv, workdir):
    (workdir / "app.seg").write_text("namespace app\ndeny-all\nallow dns\nallow frontend -> backend:8080\n")
    p = _run([_bin(venv, "segc"), "build", "app.seg", "-o", "-"], cwd=workdir)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    docs = list(yaml.safe_load_all(p.stdout))
    assert docs and all(d["kind"] == "NetworkPolicy" for d in docs)
    # `dns` comes from the stdlib inside the wheel: kube-system pods labelled k8s-app=kube-dns on 53.
    egress = [rule for d in docs for rule in d["spec"].get("egress", [])]
    dns_rules = [r for r in egress if any(peer.get("podSelector", {}).get("matchLabels", {}).get("k8s-app") == "kube-dns" for peer in r.get("to", []))]
    assert dns_rules, p.stdout
    assert {(port["protocol"], port["port"]) for r in dns_rules for port in r["ports"]} == {("UDP", 53), ("TCP", 53)}


def test_installed_segc_build_dir_and_check(venv, workdir):
    (workdir / "app.seg").write_text("namespace app\nallow dns\n")
    p = _run([_bin(venv, "segc"), "build", "app.seg", "-o", "out"], cwd=workdir)
    assert p.returncode == 0, p.stderr
    assert (workdir / "out" / "kustomization.yaml").exists()
    (workdir / "bad.seg").write_text("namespace app\nallow a ->\n")
    p = _run([_bin(venv, "segc"), "check", "bad.seg"], cwd=workdir)
    assert p.returncode == 1
    assert p.stderr.startswith("bad.seg:2:11: error: unexpected end of the line")
    assert "Traceback" not in p.stderr
    p = _run([_bin(venv, "segc"), "--version"], cwd=workdir)
    assert p.returncode == 0 and p.stdout.startswith("segc ")


def test_installed_segc_writes_a_report_page(venv, workdir):
    """The report's HTML template is package data: it must be in the wheel."""
    (workdir / "app.seg").write_text("namespace app\ndeny-all\nallow frontend -> backend:8080\n")
    p = _run([_bin(venv, "segc"), "report", "app.seg", "-o", "r.html"], cwd=workdir)
    assert p.returncode == 0, p.stderr
    page = (workdir / "r.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and 'id="matrix"' in page


def test_installed_segc_ships_the_helm_plugin(venv, workdir):
    p = _run([_bin(venv, "segc"), "helm-plugin", "install", "plugins"], cwd=workdir)
    assert p.returncode == 0, p.stderr
    meta = yaml.safe_load((workdir / "plugins" / "segc" / "plugin.yaml").read_text())
    assert meta["type"] == "postrenderer/v1" and meta["runtime"] == "subprocess"
    [cmd] = meta["runtimeConfig"]["platformCommand"]
    assert os.path.realpath(cmd["command"]).startswith(os.path.realpath(venv)) or cmd["command"].startswith(venv), cmd
    assert cmd["args"] == ["-m", "segc", "helm-postrender"]
