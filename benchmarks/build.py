"""Build benchmark: a generated ~14,000-statement program, and `segc check` start-up.

`python benchmarks/build.py [--namespaces 200] [--services 25]` prints wall
time, peak memory (of a child process), statements/s, policies/rules/peers
naive vs optimized vs the bound, output bytes, and the time of `segc check`
on a 20-line file.
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

from generate import generate  # noqa: E402

SEGC = os.path.join(os.path.dirname(sys.executable), "segc")


def run(cmd: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (KiB) of the child, stderr."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return wall, max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before), proc.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--namespaces", type=int, default=200)
    ap.add_argument("--services", type=int, default=25)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "src")
        statements = generate(src, args.namespaces, args.services)
        files = sorted(os.path.join(src, f) for f in os.listdir(src))
        out = os.path.join(tmp, "out")
        wall, rss, stderr = run([SEGC, "build", *files, "-o", out, "--stats"])
        size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
        print(f"program: {statements} statements in {len(files)} files")
        print(f"build: {wall:.2f} s wall, peak RSS {rss / 1024:.0f} MiB, {statements / wall:,.0f} statements/s, output {size / 1e6:.1f} MB")
        print(stderr.strip())
        small = os.path.join(tmp, "small.seg")
        with open(small, "w") as fh:
            fh.write("namespace app\ndeny-all\nallow dns\n" + "".join(f"allow svc-{i} -> svc-{i + 1}:8080\n" for i in range(17)))
        run([SEGC, "check", small])  # warm the parser-table cache
        times = sorted(run([SEGC, "check", small])[0] for _ in range(5))
        print(f"segc check on a 20-line file: median {times[2]:.3f} s, best {times[0]:.3f} s")


if __name__ == "__main__":
    main()
