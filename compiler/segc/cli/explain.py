"""`segc explain FILE... [--format text|md]`."""

from __future__ import annotations

import click

from .common import policy_inputs


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "md"]), default="text", show_default=True)
def explain(files: tuple[str, ...], fmt: str) -> None:
    """Say in plain English what FILE... allow (.seg program or NetworkPolicy YAML files/directories)."""
    from ..explain import add_denies, explain_policies, render_md, render_text

    policies, result = policy_inputs(files)
    explanations = explain_policies(policies)
    denied: list[str] = []
    if result is not None and len(policies) == len(result.policies or []):
        # A .seg program alone: its denies, in words, on the pods they protect.
        denied = add_denies(explanations, result.program)
    click.echo(render_md(explanations, denied) if fmt == "md" else render_text(explanations, denied), nl=False)
