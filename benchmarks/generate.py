"""Generate large, realistic .seg programs with the sprawl seen in real clusters.

`python benchmarks/generate.py OUTDIR [--namespaces 200] [--services 25]`
writes one file per namespace plus shared files: per-namespace deny-all and
DNS, a chain of service calls with port lists, the same path written again in
a second "team" file (duplicates across files), overlapping selectors
(`tier=web` next to `app=web-N`), broad rules next to narrow ones,
cross-namespace monitoring and ingress-controller traffic, shared databases,
a few egress rules to outside address blocks, and consecutive ports that are
really ranges.
Deterministic for a given seed.
"""

from __future__ import annotations

import argparse
import os
import random


def generate(out: str, namespaces: int = 200, services: int = 25, seed: int = 7) -> int:
    """Write the program to ``out``; return the number of statements (about 20,000 by default)."""
    rnd = random.Random(seed)
    os.makedirs(out, exist_ok=True)
    count = 0
    files = []
    for n in range(namespaces):
        ns = f"team-{n:03d}"
        lines = [f"# namespace {ns}: {services} services", f"namespace {ns}", "deny-all", "allow dns"]
        dup = [f"namespace {ns}"]
        for s in range(services):
            svc = f"svc-{s:02d}"
            callee = f"svc-{(s + 1) % services:02d}"
            ports = rnd.choice(["8080", "8080,8081,8082", "443/tcp", "5432", "9000-9010", "http", "53/udp,53/tcp"])
            lines.append(f"allow {svc} -> {callee}:{ports}")
            if rnd.random() < 0.3:
                # the same path again, in another file, maybe with a port of the list
                dup.append(f"allow {svc} -> {callee}:{ports.split(',')[0]}")
            if rnd.random() < 0.2:
                lines.append(f"allow {{tier=web}} -> {callee}:8080")
            lines.append(f"allow monitoring/prometheus -> {svc}:9090")
            if rnd.random() < 0.1:
                lines.append(f"allow {svc} -> 203.0.113.{rnd.randrange(256)}/32:443")
            if rnd.random() < 0.05:
                lines.append(f"allow {svc} -> team-{rnd.randrange(namespaces):03d}/svc-{rnd.randrange(services):02d}:8080")
            if rnd.random() < 0.6:
                # traffic from the ingress controller, by port name or number
                lines.append(f"allow ingress-nginx/controller -> {svc}:{rnd.choice(['http', '8080', '80,443'])}")
            if rnd.random() < 0.4:
                lines.append(f"allow {svc} -> databases/postgres-{n % 10}:5432")
            if rnd.random() < 0.2:
                # a broad rule next to the narrow ones (subsumes them)
                dup.append(f"allow {svc} -> {callee}")
        lines.append("allow monitoring/node-exporter-scraper -> *:9100")
        lines.append("allow {purpose=monitoring}/prometheus -> {metrics=on}:9090")
        path = os.path.join(out, f"{ns}.seg")
        with open(path, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        with open(os.path.join(out, f"{ns}.extra.seg"), "w") as fh:
            fh.write("\n".join(dup) + "\n")
        files += [path, os.path.join(out, f"{ns}.extra.seg")]
        count += sum(1 for line in lines + dup if line and not line.startswith(("#", "namespace")))
    return count


def size_arguments(ap, namespaces: int = 200, repeat: int | None = None) -> None:
    """The options every benchmark on the generated program takes."""
    ap.add_argument("--namespaces", type=int, default=namespaces)
    ap.add_argument("--services", type=int, default=25)
    if repeat is not None:
        ap.add_argument("--repeat", type=int, default=repeat)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    size_arguments(ap)
    args = ap.parse_args()
    print(generate(args.out, args.namespaces, args.services), "statements")
