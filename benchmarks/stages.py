"""Where a build spends its time: each pipeline stage timed in one process.

`python benchmarks/stages.py [--namespaces 200] [--services 25] [--repeat 1]`
generates the benchmark program, then times load (parse), resolve, plan,
optimize, render, YAML text and lint separately, in CPU seconds of this process
(wall time is printed too; on a shared machine it also counts other
processes). Best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from generate import generate, size_arguments  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size_arguments(ap, repeat=1)
    ap.add_argument("--no-gc", action="store_true", help="pause the cyclic garbage collector, as compile_paths does")
    args = ap.parse_args()

    from segc.backend.plan import plan
    from segc.compile import Result
    from segc.lint import lint
    from segc.backend.render import render
    from segc.compile import _source_namer
    from segc.diagnostics import Collector
    from segc.loader import load
    from segc.optimize import optimize
    from segc.output import to_yaml
    from segc.resolve import resolve

    with tempfile.TemporaryDirectory() as tmp:
        statements = generate(tmp, args.namespaces, args.services)
        paths = sorted(os.path.join(tmp, f) for f in os.listdir(tmp))
        best: dict[str, tuple[float, float]] = {}
        for _ in range(args.repeat):
            gc.collect()
            gc.disable() if args.no_gc else None
            diags = Collector()
            data: dict = {}
            stages = [
                ("load (read + parse)", lambda: data.update(sources=load(paths, diags))),
                ("resolve", lambda: data.update(program=resolve(data["sources"].files, diags))),
                ("plan", lambda: data.update(naive=plan(data["program"], diags, _source_namer(paths, {})))),
                ("optimize", lambda: data.update(optimized=optimize(data["naive"]))),
                ("render", lambda: data.update(objects=render(data["optimized"]))),
                ("YAML text", lambda: data.update(texts=[to_yaml(o) for o in data["objects"]])),
                ("lint", lambda: data.update(warnings=lint(Result(program=data["program"], texts=data["sources"].texts)))),
            ]
            for name, run in stages:
                c0, w0 = time.process_time(), time.perf_counter()
                run()
                c, w = time.process_time() - c0, time.perf_counter() - w0
                if name not in best or c < best[name][0]:
                    best[name] = (c, w)
            assert not diags.has_errors
        total = sum(c for c, _ in best.values())
        print(f"{statements} statements, {len(data['objects'])} policies; CPU s (wall s):")
        for name, (c, w) in best.items():
            print(f"  {name:22} {c:6.2f} ({w:5.2f})  {100 * c / total:4.0f}%")
        print(f"  {'total':22} {total:6.2f}")


if __name__ == "__main__":
    main()
