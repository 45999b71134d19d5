"""`segc check FILE... [--each] [--format text|json|sarif|github] [--cluster CLUSTER.yaml]
[--no-validate] [--k8s-version X.Y]`."""

from __future__ import annotations

import sys

import click

from .build import _version
from .common import cluster_option, print_diagnostics, read_inputs, validate_output


def add_lint(result, paths: list[str], cluster=None) -> None:
    """Add lint warnings to ``result`` and drop the silenced ones; exits 1 on a bad config file."""
    from ..lint import ConfigError, filter_ignored, lint, project_ignores

    try:
        ignore = project_ignores(paths)
    except ConfigError as e:
        click.echo(f"segc: error: {e}", err=True)
        sys.exit(1)
    found = lint(result, cluster, ignore=ignore)
    result.diagnostics[:] = filter_ignored(result.diagnostics, result.texts, ignore) + found


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--each", is_flag=True, help="Check every FILE as a program of its own (as pre-commit passes files), instead of FILE... as one program.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif", "github"]), default="text", show_default=True, help="sarif: SARIF 2.1.0 for GitHub code scanning; github: workflow annotations.")
@click.option("--cluster", "cluster_path", default=None, metavar="CLUSTER.yaml", help="Also check names and address blocks against this cluster (Namespace and Pod objects).")
@click.option("--validate/--no-validate", default=True, show_default=True, help="Check the manifests against the Kubernetes schema of --k8s-version.")
@click.option("--k8s-version", default="1.30", show_default=True, callback=_version, metavar="X.Y", help="Kubernetes version to compile and validate for.")
def check(files: tuple[str, ...], each: bool, fmt: str, cluster_path: str | None, validate: bool, k8s_version: tuple[int, int]) -> None:
    """Report errors and warnings (lint) in FILE... (one program); exit 1 on errors."""
    from ..compile import Result, compile_paths

    cluster = cluster_option(cluster_path)
    paths, texts = read_inputs(files)
    programs = [[p] for p in paths] if each else [paths]
    combined, ok, seen = Result(), True, set()
    for program in programs:
        result = compile_paths(program, texts, k8s_version=k8s_version)
        add_lint(result, program, cluster)
        if validate:
            validate_output(result, k8s_version)
        ok = ok and result.ok
        fresh = [d for d in result.diagnostics if d not in seen]  # a shared import reports once
        seen.update(fresh)
        combined.diagnostics += fresh
        combined.texts.update(result.texts)
    print_diagnostics(combined, fmt)
    if not ok:
        sys.exit(1)
