"""Benchmark `segc explain`, `segc graph` and `segc report` on synthetic inputs.

    python benchmarks/pictures.py [--sizes 200,1000] [--policies 100,300] [--seed 11]

Inputs come from benchmarks/reach.py's generator (Deployments, StatefulSets,
named ports, matchExpressions, ipBlocks). For each size it prints wall times
of the library calls (in this process, after loading):

* explain: explain_policies + render_text;
* graph: symbolic_graph + to_mermaid, and cluster_graph + to_dot;
* svg: Graphviz on the cluster graph (skipped without `dot`);
* report: build_report with the cluster (matrix over classes, every cell's
  explanation), and the page size;

plus node/edge/class counts, so the effect of grouping and collapsing shows.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from reach import write_inputs  # noqa: E402

from segc.cluster import load_cluster  # noqa: E402
from segc.explain import explain_policies, render_text  # noqa: E402
from segc.graph import cluster_graph, symbolic_graph, to_dot, to_mermaid, to_svg  # noqa: E402
from segc.k8s_eval import load_policies  # noqa: E402
from segc.report import build_report, matrix_data  # noqa: E402


def timed(fn):
    t = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="200,1000")
    ap.add_argument("--policies", default="100,300")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    counts = [int(x) for x in args.policies.split(",")]
    print(f"{'pods':>6} {'pols':>5} {'explain':>8} {'sym graph':>9} {'cl graph':>9} {'svg':>7} {'report':>8}  notes")
    for pods, n_pol in zip(sizes, counts):
        with tempfile.TemporaryDirectory() as tmp:
            meta = write_inputs(tmp, pods, n_pol, args.seed)
            cluster = load_cluster(os.path.join(tmp, "cluster.yaml"))
            pdir = os.path.join(tmp, "policies")
            policies = [p for f in sorted(os.listdir(pdir)) for p in load_policies(os.path.join(pdir, f))]
            ex, t_ex = timed(lambda: render_text(explain_policies(policies)))
            sg, t_sg = timed(lambda: (lambda g: (g, to_mermaid(g)))(symbolic_graph(policies)))
            cg, t_cg = timed(lambda: (lambda g: (g, to_dot(g)))(cluster_graph(policies, cluster)))
            t_svg = float("nan")
            if shutil.which("dot"):
                _, t_svg = timed(lambda: to_svg(cg[0]))
            page, t_rep = timed(lambda: build_report(policies, None, cluster))
            data = matrix_data(policies, cluster)
            print(
                f"{meta['pods']:>6} {meta['policies']:>5} {t_ex:>7.2f}s {t_sg:>8.2f}s {t_cg:>8.2f}s {t_svg:>6.2f}s {t_rep:>7.2f}s  "
                f"symbolic {len(sg[0].nodes)} nodes/{len(sg[0].edges)} edges; cluster {len(cg[0].nodes)} nodes/{len(cg[0].edges)} edges; "
                f"matrix {len(data['classes'])} classes x {len(data['ports'])} ports; page {len(page) / 1e6:.1f} MB"
            )


if __name__ == "__main__":
    main()
