"""Build benchmark: a generated ~20,000-statement program, and `segc check` start-up.

`python benchmarks/build.py [--namespaces 200] [--services 25] [--repeat 3]`
prints wall time and CPU time (user + system) of `segc build -o DIR --stats`
in a child process, its peak memory, statements/s, policies/rules/peers naive
vs optimized vs the bound, output bytes, and the time of `segc check` on a
20-line file. Best of ``--repeat`` builds (into a fresh directory each time).
On a shared machine wall time also counts other processes: the load average
is printed beside it.
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


def _diagnostic_line(line: str) -> bool:
    """A line of a rendered diagnostic: the header, the source line, caret or note."""
    return ": warning: " in line or ": error: " in line or (line.startswith("    ") and not line.startswith("     "))


def run(cmd: list[str]) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds, peak RSS (KiB) of the child, stderr."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    # ru_maxrss of children is the largest child so far: run the build first.
    return wall, cpu, after.ru_maxrss, proc.stderr


def _create_files(folder: str, count: int) -> str:
    """What the file system alone costs: ``count`` empty files in a new folder
    (a build creates as many). On some virtual machines creating fresh inodes
    costs 0.1-0.2 ms each in the kernel, at other times 10 us."""
    os.makedirs(folder)
    before, start = os.times(), time.perf_counter()
    for i in range(count):
        os.close(os.open(os.path.join(folder, f"f{i}.yaml"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    wall, after = time.perf_counter() - start, os.times()
    return f"{wall:.2f} s wall, {after.system - before.system:.2f} s system time"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size_arguments(ap, repeat=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "src")
        statements = generate(src, args.namespaces, args.services)
        files = sorted(os.path.join(src, f) for f in os.listdir(src))
        runs = []
        for i in range(args.repeat):
            out = os.path.join(tmp, f"out{i}")
            runs.append((*run([SEGC, "build", *files, "-o", out, "--stats"]), out))
        wall, cpu, rss, stderr, out = min(runs)
        size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"program: {statements} statements in {len(files)} files")
        print(f"build (best of {args.repeat}): {wall:.2f} s wall, {cpu:.2f} s CPU, peak RSS {rss / 1024:.0f} MiB, {statements / wall:,.0f} statements/s")
        walls = sorted(r[0] for r in runs)
        print(f"every build, wall (CPU) s: {', '.join(f'{r[0]:.2f} ({r[1]:.2f})' for r in runs)}; median wall {walls[len(walls) // 2]:.2f}")
        print(f"output: {size:,} bytes in {len(os.listdir(out))} files; load average {load} on {os.cpu_count()} CPUs")
        # The --stats table; the program's lint warnings (the generator writes
        # duplicates on purpose) are counted, not printed.
        warnings = stderr.count(": warning: ")
        print("\n".join(line for line in stderr.splitlines() if not _diagnostic_line(line)).strip())
        print(f"lint warnings printed by the build: {warnings:,}")
        # The same program without creating files: to stdout, and again into
        # the folder of the best run (nothing changed, so nothing is written).
        stdout = min(run([SEGC, "build", *files, "-o", "-"])[:2] for _ in range(3))
        print(f"build -o - (best of 3): {stdout[0]:.2f} s wall ({stdout[1]:.2f} s CPU)")
        again = min(run([SEGC, "build", *files, "-o", out])[:2] for _ in range(3))
        print(f"build -o DIR again, output unchanged (best of 3): {again[0]:.2f} s wall ({again[1]:.2f} s CPU)")
        print(f"this machine creating {len(os.listdir(out))} empty files: {_create_files(os.path.join(tmp, 'probe'), len(os.listdir(out)))}")
        small = os.path.join(tmp, "small.seg")
        with open(small, "w") as fh:
            fh.write("namespace app\ndeny-all\nallow dns\n" + "".join(f"allow svc-{i} -> svc-{i + 1}:8080\n" for i in range(17)))
        run([SEGC, "check", small])  # warm the parser-table cache
        times = sorted(run([SEGC, "check", small])[:2] for _ in range(5))
        print(f"segc check on a 20-line file: median {times[2][0]:.3f} s wall ({times[2][1]:.3f} s CPU), best {times[0][0]:.3f} s")


if __name__ == "__main__":
    main()
