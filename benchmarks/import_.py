"""`segc import` on the output of a generated program (the round trip a team makes).

`python benchmarks/import_.py [--namespaces 20] [--services 25]` generates a
program (benchmarks/generate.py), builds it with `segc build -o DIR`, then
times `segc import DIR` in a child process and prints the policy count, the
wall time, peak memory, and the size of the imported program against the
generated one.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from generate import generate, size_arguments  # noqa: E402

SEGC = os.path.join(os.path.dirname(sys.executable), "segc")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size_arguments(ap, 20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src, out = os.path.join(tmp, "src"), os.path.join(tmp, "out")
        statements = generate(src, args.namespaces, args.services)
        files = sorted(os.path.join(src, f) for f in os.listdir(src))
        subprocess.run([SEGC, "build", *files, "-o", out], check=True, capture_output=True)
        policies = len([f for f in os.listdir(out) if f != "kustomization.yaml"])
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        start = time.perf_counter()
        done = subprocess.run([SEGC, "import", out], check=True, capture_output=True, text=True)
        wall = time.perf_counter() - start
        rss = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        print(f"program: {statements} statements in {len(files)} files -> {policies} policies")
        print(f"import: {wall:.2f} s wall, peak RSS {rss / 1024:.0f} MiB, {policies / wall:,.0f} policies/s")
        print(f"imported program: {len(lines)} lines ({sum(1 for x in lines if x.startswith('allow'))} allows)")


if __name__ == "__main__":
    main()
