"""`segc krm`: a KRM function (ResourceList on stdin, ResourceList on stdout)."""

from __future__ import annotations

import os
import sys

import click

from ..diagnostics import render_text


@click.command("krm")
def krm() -> None:
    """Run as a KRM function (kpt fn eval/render --exec, Kustomize exec functions).

    Reads a ResourceList whose functionConfig is a segc.io/v1 SegcTransformer
    (or a ConfigMap with data.files); writes the items with the policies
    appended, and one result per diagnostic. .seg files are relative to the
    current directory. Exit code 1 when a result is an error.
    """
    from ..integrations.krm import run

    data = sys.stdin.buffer.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = "\0"  # reported as unreadable YAML below
    result = run(text, os.getcwd())
    sys.stdout.write(result.output)
    if result.diagnostics:
        click.echo(render_text(result.diagnostics, result.texts), err=True)
    if not result.ok:
        sys.exit(1)
