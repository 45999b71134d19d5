"""Parse time: lark + _ToIR against the fast path (segc/fastparse.py).

`python benchmarks/parse.py [--namespaces 200] [--services 25] [--repeat 3]`
generates the benchmark program (generate.py), reads its files, and parses
every file with ``parse_text(..., fast=False)`` (lark's LALR parser and the
``_ToIR`` walk) and with ``parse_text`` (the fast path, lark when it
declines), in CPU seconds of this process, best of ``--repeat``, the cyclic
garbage collector paused as ``compile_paths`` does. Prints statements/s, how
many files the fast path accepted, and whether both results are identical,
spans and ``text`` fields included.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from generate import generate, size_arguments  # noqa: E402


def _deep(x):
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return (type(x).__name__,) + tuple(_deep(getattr(x, f.name)) for f in dataclasses.fields(x))
    if isinstance(x, tuple):
        return tuple(_deep(i) for i in x)
    return x


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size_arguments(ap, repeat=3)
    args = ap.parse_args()

    from segc.diagnostics import Collector
    from segc.fastparse import fast_parse
    from segc.parser import _parser, parse_text

    with tempfile.TemporaryDirectory() as tmp:
        generate(tmp, args.namespaces, args.services)
        texts = []
        for name in sorted(os.listdir(tmp)):
            with open(os.path.join(tmp, name), encoding="utf-8") as fh:
                texts.append((name, fh.read()))
    _parser()  # lark's tables are loaded once per process either way

    def run(fast: bool):
        diags = Collector()
        return [parse_text(text, name, diags, fast=fast) for name, text in texts], diags

    results = {}
    best = {}
    for _ in range(args.repeat):
        for label, fast in (("lark + _ToIR", False), ("fast path", True)):
            gc.collect()
            gc.disable()
            c0 = time.process_time()
            results[label] = run(fast)
            c = time.process_time() - c0
            gc.enable()
            best[label] = min(best.get(label, c), c)
    statements = sum(len(s) for s in results["fast path"][0])
    accepted = sum(fast_parse(text if text.endswith("\n") else text + "\n", name) is not None for name, text in texts)
    same = _deep(results["fast path"][0]) == _deep(results["lark + _ToIR"][0])
    same = same and results["fast path"][1].items == results["lark + _ToIR"][1].items
    print(f"{statements} statements in {len(texts)} files; CPU s, best of {args.repeat}:")
    for label, c in best.items():
        print(f"  {label:14} {c:6.3f} s  {statements / c:10,.0f} statements/s")
    print(f"  speed-up       {best['lark + _ToIR'] / best['fast path']:6.1f}x")
    print(f"  fast path accepted {accepted} of {len(texts)} files; results identical (spans included): {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
