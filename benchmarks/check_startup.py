"""`segc check` start-up on a 20-line file, with and without schema validation.

`python benchmarks/check_startup.py [--runs 9]` prints, for `segc check
--no-validate`, `segc check` (validation on, the default) and `segc --version`
(the floor: Python, click and segc's CLI module), the median and best wall
time and the median CPU time (user + system) of a child process. CPU time is
the steadier figure on a shared machine; wall time is what a user waits.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

SEGC = os.path.join(os.path.dirname(sys.executable), "segc")

PROGRAM = """\
# A 20-line program, the size of a small team's file.
namespace shop
deny-all
allow dns
allow frontend -> backend:8080
allow frontend -> backend:8000-8100
allow backend -> data/postgres:5432
allow 192.0.2.0/24 -> frontend:443
allow api -> 10.0.0.0/8 except 10.1.0.0/16:443
allow */prometheus -> backend:metrics
allow {team=orders}/orders-api -> backend:8080
allow frontend -> {tier=api, env!=dev}:8080
allow backend -> cache:6379
allow worker -> backend:8080
allow worker -> data/postgres:5432
allow api -> internet:443
group payments = {tier in (api, worker), team=payments}
allow payments -> backend:8443
allow frontend -> api:http
allow ingress-nginx/controller -> frontend:8080
"""


def run(cmd: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one child run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "app.seg")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(PROGRAM)
        assert PROGRAM.count("\n") == 20
        cases = [
            ("segc --version", [SEGC, "--version"]),
            ("segc check --no-validate", [SEGC, "check", "--no-validate", path]),
            ("segc check (validation on)", [SEGC, "check", path]),
        ]
        for _, cmd in cases:
            run(cmd)  # warm caches (parser tables, page cache)
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; {args.runs} runs each")
        for name, cmd in cases:
            samples = [run(cmd) for _ in range(args.runs)]
            walls = sorted(w for w, _ in samples)
            cpu = statistics.median(c for _, c in samples)
            print(f"{name:30s} wall median {statistics.median(walls):.3f} s, best {walls[0]:.3f} s; CPU median {cpu:.3f} s")


if __name__ == "__main__":
    main()
