"""`segc diff OLD NEW [--cluster C] [--format text|md|json] [--fail-on-open]`."""

from __future__ import annotations

import json
import sys

import click

from .common import cluster_option, print_diagnostics


@click.command()
@click.argument("old")
@click.argument("new")
@click.option("--cluster", "cluster_path", default=None, metavar="CLUSTER.yaml", help="Report concrete pod pairs of this cluster instead of a symbolic diff.")
@click.option("--format", "fmt", type=click.Choice(["text", "md", "json"]), default="text", show_default=True)
@click.option("--fail-on-open", is_flag=True, help="Exit 1 when the change opens anything.")
def diff(old: str, new: str, cluster_path: str | None, fmt: str, fail_on_open: bool) -> None:
    """What changes in what is allowed from OLD to NEW (.seg, NetworkPolicy YAML file or directory, or REV:PATH)."""
    from ..diff import DiffInputError, diff_sides, read_side, render_md, render_text, to_json

    cluster = cluster_option(cluster_path)
    sides = []
    for spec in (old, new):
        try:
            side = read_side(spec)
        except DiffInputError as e:
            click.echo(f"segc: error: {e}", err=True)
            sys.exit(1)
        if side.diagnostics:
            print_diagnostics(side)
        if not side.ok:
            sys.exit(1)
        sides.append(side)
    result = diff_sides(sides[0], sides[1], cluster)
    if fmt == "json":
        click.echo(json.dumps(to_json(result), indent=2))
    elif fmt == "md":
        click.echo(render_md(result), nl=False)
    else:
        click.echo(render_text(result), nl=False)
    if fail_on_open and result.opened:
        sys.exit(1)
