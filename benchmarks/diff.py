"""`segc diff` and `segc test`: speed on large programs, and how often the symbolic diff misses.

`python benchmarks/diff.py [--namespaces 10,50,200] [--services 25] [--samples 300] [--seed 3]`

Speed: for each size, generates a program with benchmarks/generate.py, makes a
NEW version with one path added and one removed, and times (in-process)
`read_side` for both, `diff_sides` on the witness cluster, and the witness's
size. Precision: on `--samples` random program pairs and random clusters from
tests/strategies.py, counts the pairs whose concrete diff on the random
cluster is non-empty while the symbolic (witness) diff is empty: the
changes the witness construction cannot see (docs/diff.md, "Precision").
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))


def speed(namespaces: int, services: int) -> None:
    from generate import generate

    from segc.diff import diff_sides, read_side

    with tempfile.TemporaryDirectory() as tmp:
        old_dir = os.path.join(tmp, "old")
        statements = generate(old_dir, namespaces, services)
        files = sorted(f for f in os.listdir(old_dir) if f.endswith(".seg"))
        for d in ("old", "new"):
            with open(os.path.join(tmp, f"{d}.seg"), "w") as fh:
                fh.write("".join(f'import "{os.path.join(old_dir, f)}"\n' for f in files))
        with open(os.path.join(tmp, "new.seg"), "a") as fh:
            fh.write("namespace team-000\nallow svc-00 -> svc-05:5432\n")
        t0 = time.perf_counter()
        old, new = read_side(os.path.join(tmp, "old.seg")), read_side(os.path.join(tmp, "new.seg"))
        t1 = time.perf_counter()
        d = diff_sides(old, new)
        t2 = time.perf_counter()
        c = d.cluster
        print(
            f"{namespaces:4d} namespaces, {statements:6d} statements: compile both {t1 - t0:6.2f}s, "
            f"diff {t2 - t1:6.2f}s on a witness of {len(c.namespaces)} namespaces, {len(c.pods)} pods, "
            f"{len(d.witness.ports)} port intervals; {len(d.opened)} opened, {len(d.closed)} closed"
        )


def precision(samples: int, seed: int) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    import strategies as strat
    from segc.compile import compile_paths
    from segc.diff import Side, _from_seg, diff_sides

    counts = {"pairs": 0, "refused": 0, "changed on cluster": 0, "missed by witness": 0, "witness non-empty": 0}

    def side(text, name):
        r = compile_paths([name], {name: text})
        return _from_seg(Side(name), r) if r.ok else None

    @settings(max_examples=samples, database=None, deadline=None, derandomize=False, suppress_health_check=list(HealthCheck))
    @given(strat.program(), strat.program(), strat.cluster(), st.random_module())
    def run(a, b, c, _rnd):
        counts["pairs"] += 1
        old, new = side(a, "old.seg"), side(b, "new.seg")
        if old is None or new is None:
            counts["refused"] += 1
            return
        concrete = diff_sides(old, new, c)
        symbolic = diff_sides(old, new)
        counts["witness non-empty"] += bool(symbolic.changes)
        if concrete.changes:
            counts["changed on cluster"] += 1
            if not symbolic.changes:
                counts["missed by witness"] += 1

    random.seed(seed)
    run()
    print(", ".join(f"{k}: {v}" for k, v in counts.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--namespaces", default="10,50,200")
    ap.add_argument("--services", type=int, default=25)
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    for n in (int(x) for x in args.namespaces.split(",")):
        speed(n, args.services)
    if args.samples:
        precision(args.samples, args.seed)


if __name__ == "__main__":
    main()
