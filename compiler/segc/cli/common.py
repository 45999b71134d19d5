"""What several commands share: reading FILE arguments and printing diagnostics."""

from __future__ import annotations

import sys

import click

from ..diagnostics import render_json, render_text


def read_inputs(files: tuple[str, ...]) -> tuple[list[str], dict[str, str | bytes]]:
    """Paths for the loader, with ``-`` read from standard input as ``<stdin>``."""
    paths, texts = [], {}
    for f in files:
        if f == "-":
            # Bytes: the loader decodes them as UTF-8 and reports where they are not.
            texts["<stdin>"] = sys.stdin.buffer.read()
            paths.append("<stdin>")
        else:
            paths.append(f)
    return paths, texts


def print_diagnostics(result, fmt: str = "text") -> None:
    if fmt == "json":
        click.echo(render_json(result.diagnostics))
        return
    if result.diagnostics:
        click.echo(render_text(result.diagnostics, result.texts), err=True)
