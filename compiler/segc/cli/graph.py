"""`segc graph FILE... [--format mermaid|dot|svg] [--cluster C] [--collapse N] [-o FILE]`."""

from __future__ import annotations

import os
import sys

import click

from .common import cluster_option, policy_inputs


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot", "svg"]), default="mermaid", show_default=True)
@click.option("--cluster", "cluster_path", default=None, metavar="CLUSTER.yaml", help="Draw real workloads of this cluster instead of the program's selectors.")
@click.option("--collapse", default=15, show_default=True, type=click.IntRange(min=0), help="Draw a namespace with more nodes than this as one node with a count (0: never).")
@click.option("-o", "--output", default="-", metavar="FILE|-", help="Where to write the graph (default: standard output).")
def graph(files, fmt, cluster_path, collapse, output) -> None:
    """Draw who may reach whom under FILE... (.seg program or NetworkPolicy YAML)."""
    from ..graph import GraphError, cluster_graph, symbolic_graph, to_dot, to_mermaid, to_svg

    if output != "-" and os.path.exists(output) and not _ours(output):
        click.echo(f"segc: error: {output} exists and was not written by segc; move it away or choose another -o file", err=True)
        sys.exit(1)
    policies, _ = policy_inputs(files)
    cluster = cluster_option(cluster_path)
    g = cluster_graph(policies, cluster, collapse) if cluster is not None else symbolic_graph(policies, collapse)
    try:
        text = {"mermaid": to_mermaid, "dot": to_dot, "svg": to_svg}[fmt](g)
    except GraphError as e:
        click.echo(f"segc: error: {e}", err=True)
        sys.exit(1)
    if output == "-":
        click.echo(text, nl=False)
        return
    try:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as e:
        click.echo(f"segc: error: {output}: cannot write: {e.strerror}", err=True)
        sys.exit(1)


def _ours(path: str) -> bool:
    from ..graph import MARKER

    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return MARKER in fh.read(1000)
    except OSError:
        return False
