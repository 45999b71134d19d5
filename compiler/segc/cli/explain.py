"""`segc explain FILE... [--format text|md]`."""

from __future__ import annotations

import sys

import click

from .common import print_diagnostics, read_inputs


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "md"]), default="text", show_default=True)
def explain(files: tuple[str, ...], fmt: str) -> None:
    """Say in plain English what FILE... allow (.seg program or NetworkPolicy YAML files/directories)."""
    from ..explain import InputError, explain_policies, load_inputs, render_md, render_text

    paths, texts = read_inputs(files)
    try:
        policies, result = load_inputs(paths, texts)
    except InputError as e:
        click.echo(f"segc: error: {e}", err=True)
        sys.exit(1)
    if result is not None:
        print_diagnostics(result)
        if policies is None:
            sys.exit(1)
    explanations = explain_policies(policies)
    click.echo(render_md(explanations) if fmt == "md" else render_text(explanations), nl=False)
