"""`segc check FILE... [--format text|json]`."""

from __future__ import annotations

import sys

import click

from .common import print_diagnostics, read_inputs


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def check(files: tuple[str, ...], fmt: str) -> None:
    """Report errors and warnings in FILE... (one program); exit 1 on errors."""
    from ..compile import compile_paths

    paths, texts = read_inputs(files)
    result = compile_paths(paths, texts)
    print_diagnostics(result, fmt)
    if not result.ok:
        sys.exit(1)
