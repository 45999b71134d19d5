"""`segc build FILE... -o DIR|-`."""

from __future__ import annotations

import sys

import click

from .common import print_diagnostics, read_inputs


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("-o", "--output", "out", required=True, metavar="DIR|-", help="Directory to write (one file per policy plus kustomization.yaml), or - for one YAML stream on stdout.")
def build(files: tuple[str, ...], out: str) -> None:
    """Compile FILE... (one program) into NetworkPolicy manifests."""
    from ..compile import compile_paths
    from ..output import OutputError, stream, write_dir

    paths, texts = read_inputs(files)
    result = compile_paths(paths, texts)
    print_diagnostics(result)
    if not result.ok:
        sys.exit(1)
    if out == "-":
        sys.stdout.write(stream(result.policies))
        return
    try:
        written = write_dir(result.policies, out)
    except OutputError as e:
        click.echo(f"segc: error: {e}", err=True)
        sys.exit(1)
    click.echo(f"segc: wrote {len(written) - 1} policies and kustomization.yaml to {out}", err=True)
