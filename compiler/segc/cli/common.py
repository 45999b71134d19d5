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
    if fmt in ("sarif", "github"):
        from ..formats import render_github, render_sarif

        text = render_sarif(result.diagnostics) if fmt == "sarif" else render_github(result.diagnostics)
        if text:
            click.echo(text)
        return
    if fmt == "json":
        click.echo(render_json(result.diagnostics))
        return
    if result.diagnostics:
        click.echo(render_text(result.diagnostics, result.texts), err=True)


def validate_output(result, k8s_version: tuple[int, int]) -> None:
    """Schema and API-server checks of the policies of a compiled ``result``
    (its diagnostics grow); a version without a schema is a usage error (exit 2)."""
    if not result.ok:
        return
    from ..diagnostics import Collector
    from ..validate import ValidationUnavailable, validate_objects

    diags = Collector()
    diags.items = result.diagnostics
    try:
        validate_objects(result.policies, k8s_version, diags, result.texts)
    except ValidationUnavailable as e:
        raise click.UsageError(str(e)) from None


def cluster_option(path: str | None):
    """The ``--cluster`` file loaded, or None without one; exits 1 when it cannot be read."""
    if path is None:
        return None
    from ..cluster import ClusterError, load_cluster

    try:
        return load_cluster(path)
    except ClusterError as e:
        click.echo(f"segc: error: {e}", err=True)
        sys.exit(1)
