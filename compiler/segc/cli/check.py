"""`segc check FILE... [--format text|json|sarif|github] [--no-validate] [--k8s-version X.Y]`."""

from __future__ import annotations

import sys

import click

from .build import _version
from .common import print_diagnostics, read_inputs, validate_output


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif", "github"]), default="text", show_default=True, help="sarif: SARIF 2.1.0 for GitHub code scanning; github: workflow annotations.")
@click.option("--validate/--no-validate", default=True, show_default=True, help="Check the manifests against the Kubernetes schema of --k8s-version.")
@click.option("--k8s-version", default="1.30", show_default=True, callback=_version, metavar="X.Y", help="Kubernetes version to compile and validate for.")
def check(files: tuple[str, ...], fmt: str, validate: bool, k8s_version: tuple[int, int]) -> None:
    """Report errors and warnings in FILE... (one program); exit 1 on errors."""
    from ..compile import compile_paths

    paths, texts = read_inputs(files)
    result = compile_paths(paths, texts, k8s_version=k8s_version)
    if validate:
        validate_output(result, k8s_version)
    print_diagnostics(result, fmt)
    if not result.ok:
        sys.exit(1)
