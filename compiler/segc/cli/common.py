"""What several commands share: reading FILE arguments and printing diagnostics."""

from __future__ import annotations

import os
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


def policy_inputs(files: tuple[str, ...], lint_cluster=None, *, lint: bool = False):
    """The NetworkPolicies FILE... mean (a .seg program compiled, or YAML read)
    as ``(policies, result)``; ``result`` is the compile result of a .seg input,
    else None. Prints the diagnostics (with lint when ``lint``); exits 1 when
    the inputs cannot be read or do not compile."""
    from ..explain import InputError, load_inputs

    paths, texts = read_inputs(files)
    try:
        policies, result = load_inputs(paths, texts)
    except InputError as e:
        click.echo(f"segc: error: {e}", err=True)
        sys.exit(1)
    if result is not None:
        if lint and policies is not None:
            from .check import add_lint

            add_lint(result, paths, lint_cluster)
        print_diagnostics(result)
        if policies is None:
            sys.exit(1)
    return policies, result


def install_or_exit(install, directory: str, hint: str) -> None:
    """Run an installer of ``segc.integrations.install`` into ``directory``,
    name what it wrote, then print ``hint``; exits 1 when it refuses."""
    from ..integrations.install import InstallError

    try:
        written = install(os.path.abspath(directory))
    except InstallError as e:
        click.echo(f"segc: error: {e}", err=True)
        sys.exit(1)
    for path in written:
        click.echo(f"segc: installed {path}", err=True)
    click.echo(hint, err=True)
