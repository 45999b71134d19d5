"""Where the optimizer spends its time: each pass and each canonical sort, per round.

`python benchmarks/optimize.py [--namespaces 200] [--services 25] [--repeat 3] [--k8s-version 1.30]`
generates the benchmark program (``generate.py``), plans it, then runs
``segc.optimize.optimize`` once per child process (cold caches, as in one
``segc build``; the cyclic collector paused, as ``compile_paths`` does) and
prints CPU seconds: the whole stage (best of ``--repeat`` children) and, for
the best child, each pass and each canonical sort in every round, with the
times each pass fired.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from generate import generate, size_arguments  # noqa: E402


def child(folder: str, k8s_version: tuple[int, int]) -> dict:
    import segc.optimize as optimizer
    from segc.backend.plan import plan
    from segc.compile import _source_namer
    from segc.diagnostics import Collector
    from segc.loader import load
    from segc.resolve import resolve

    paths = sorted(os.path.join(folder, f) for f in os.listdir(folder))
    diags = Collector()
    sources = load(paths, diags)
    program = resolve(sources.files, diags)
    naive = plan(program, diags, _source_namer(paths, {}), k8s_version)
    assert not diags.has_errors
    steps: list[tuple[str, float, int]] = []

    def timed(name, run, counts_fired):
        def wrapper(*args, **kwargs):
            c0 = time.process_time()
            out = run(*args, **kwargs)
            steps.append((name, time.process_time() - c0, out[1] if counts_fired else 0))
            return out

        return wrapper

    optimizer.PASSES = tuple((name, timed(name, run, True)) for name, run in optimizer.PASSES)
    canonical = optimizer.canonical
    optimizer.canonical = lambda policies: timed("canonical", lambda p: (canonical(p), 0), False)(policies)[0]
    gc.collect()
    gc.disable()
    stats = optimizer.Stats()
    c0 = time.process_time()
    out = optimizer.optimize(naive, k8s_version, stats)
    total = time.process_time() - c0
    return {"total": total, "rounds": stats.rounds, "steps": steps, "naive": len(naive), "optimized": len(out)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size_arguments(ap, repeat=3)
    ap.add_argument("--k8s-version", default="1.30")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    version = tuple(int(x) for x in args.k8s_version.split("."))
    if args.child:
        print(json.dumps(child(args.child, version)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        statements = generate(tmp, args.namespaces, args.services)
        runs = []
        for _ in range(args.repeat):
            cmd = [sys.executable, __file__, "--child", tmp, "--k8s-version", args.k8s_version]
            runs.append(json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout))
    best = min(runs, key=lambda r: r["total"])
    print(f"{statements} statements, {best['naive']} naive policies -> {best['optimized']}, Kubernetes {args.k8s_version}")
    every = ", ".join(f"{r['total']:.3f}" for r in runs)
    print(f"optimize: {best['total']:.3f} s CPU (best of {args.repeat}; all: {every}), {best['rounds']} rounds")
    print("steps of the best run, in order (CPU s, times fired):")
    for name, seconds, fired in best["steps"]:
        print(f"  {name:20} {seconds:6.3f}  {fired if fired else ''}")
    print(f"  {'sum of steps':20} {sum(s for _, s, _ in best['steps']):6.3f}")


if __name__ == "__main__":
    main()
