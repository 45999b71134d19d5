"""`segc reach` (placeholder registration; filled in by the evaluator work)."""

import click


@click.command()
def reach() -> None:
    """Evaluate reachability (not yet built)."""
    raise click.UsageError("segc reach is not built yet")
