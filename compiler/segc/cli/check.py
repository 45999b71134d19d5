"""`segc check FILE... [--format text|json] [--cluster CLUSTER.yaml]`."""

from __future__ import annotations

import sys

import click

from .common import print_diagnostics, read_inputs


def add_lint(result, paths: list[str], cluster=None) -> None:
    """Add lint warnings to ``result`` and drop the silenced ones; exits 1 on a bad config file."""
    from ..lint import ConfigError, filter_ignored, lint, project_ignores

    try:
        ignore = project_ignores(paths)
    except ConfigError as e:
        click.echo(f"segc: error: {e}", err=True)
        sys.exit(1)
    found = lint(result, cluster, ignore=ignore)
    result.diagnostics[:] = filter_ignored(result.diagnostics, result.texts, ignore) + found


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--cluster", "cluster_path", default=None, metavar="CLUSTER.yaml", help="Also check names and address blocks against this cluster (Namespace and Pod objects).")
def check(files: tuple[str, ...], fmt: str, cluster_path: str | None) -> None:
    """Report errors and warnings (lint) in FILE... (one program); exit 1 on errors."""
    from ..cluster import ClusterError, load_cluster
    from ..compile import compile_paths

    cluster = None
    if cluster_path is not None:
        try:
            cluster = load_cluster(cluster_path)
        except ClusterError as e:
            click.echo(f"segc: error: {e}", err=True)
            sys.exit(1)
    paths, texts = read_inputs(files)
    result = compile_paths(paths, texts)
    add_lint(result, paths, cluster)
    print_diagnostics(result, fmt)
    if not result.ok:
        sys.exit(1)
