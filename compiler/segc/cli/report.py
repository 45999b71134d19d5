"""`segc report FILE... [--cluster C] -o report.html`."""

from __future__ import annotations

import os
import sys

import click

from .common import cluster_option, policy_inputs


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--cluster", "cluster_path", default=None, metavar="CLUSTER.yaml", help="Real namespaces and pods (default: a witness cluster built from the policies).")
@click.option("-o", "--output", required=True, metavar="REPORT.html", help="The page to write (a file segc did not write is never overwritten).")
@click.option("--collapse", default=15, show_default=True, type=click.IntRange(min=0), help="Draw a namespace with more nodes than this as one node (0: never).")
def report(files, cluster_path, output, collapse) -> None:
    """Write one self-contained HTML page: graph, reachability matrix, explanations, findings."""
    from ..report import build_report, collect_findings, is_report

    if os.path.isdir(output):
        click.echo(f"segc: error: {output} is a directory; give a file name such as {os.path.join(output, 'report.html')}", err=True)
        sys.exit(1)
    if os.path.exists(output) and not is_report(output):
        click.echo(f"segc: error: {output} exists and was not written by segc; move it away or choose another -o file", err=True)
        sys.exit(1)
    cluster = cluster_option(cluster_path)
    policies, result = policy_inputs(files, cluster, lint=True)  # lint findings go on the page too
    title = "segc report: " + ", ".join(os.path.basename(f) if f != "-" else "<stdin>" for f in files)
    page = build_report(policies, result, cluster, collect_findings(result), title=title, collapse=collapse)
    tmp = output + ".segc-tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(page)
        os.replace(tmp, output)
    except OSError as e:
        click.echo(f"segc: error: {output}: cannot write: {e.strerror}", err=True)
        sys.exit(1)
    click.echo(f"segc: wrote {output}", err=True)
