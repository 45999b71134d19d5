"""fmt and lint benchmark on the generated ~14,000-statement program.

`python benchmarks/fmt_lint.py [--namespaces 200] [--services 25]` prints the
CPU and wall time of `format_text` over every file (with its safety checks:
two parses and a second formatting pass), of compiling the program, and of
each lint rule, with the number of warnings each rule found.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from generate import generate, size_arguments  # noqa: E402


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size_arguments(ap)
    args = ap.parse_args()

    from segc import lint as lint_pkg
    from segc.compile import compile_paths
    from segc.fmt import format_text

    with tempfile.TemporaryDirectory() as tmp:
        statements = generate(tmp, args.namespaces, args.services)
        files = sorted(glob.glob(os.path.join(tmp, "*.seg")))
        texts = {f: open(f, encoding="utf-8").read() for f in files}
        lines = sum(t.count("\n") for t in texts.values())
        print(f"program: {statements} statements, {lines} lines, {len(files)} files")

        _, wall, cpu = timed(lambda: [format_text(t, f) for f, t in texts.items()])
        print(f"fmt:     {wall:7.2f} s wall {cpu:7.2f} s cpu  ({lines / cpu:,.0f} lines/s cpu)")

        result, wall, cpu = timed(lambda: compile_paths(files))
        print(f"compile: {wall:7.2f} s wall {cpu:7.2f} s cpu  (for comparison)")

        total = 0.0
        for name, rule in lint_pkg._rules():
            ctx = lint_pkg.Context(result.program, result.texts)
            found, wall, cpu = timed(lambda: list(rule(ctx)))
            total += cpu
            print(f"lint {name:14s} {wall:7.2f} s wall {cpu:7.2f} s cpu  {len(found):5d} warnings")
        print(f"lint total:            {total:7.2f} s cpu")


if __name__ == "__main__":
    main()
