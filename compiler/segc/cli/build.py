"""`segc build FILE... -o DIR|- [--stats] [--no-optimize] [--k8s-version X.Y] [--validate]`."""

from __future__ import annotations

import re
import sys

import click

from .common import print_diagnostics, read_inputs, validate_output


def _version(ctx, param, value: str) -> tuple[int, int]:
    m = re.fullmatch(r"v?(\d+)\.(\d+)(\.\d+)?", value.strip())
    if not m:
        raise click.BadParameter(f"{value!r} is not a Kubernetes version like 1.30")
    version = (int(m.group(1)), int(m.group(2)))
    if version < (1, 21) or version[0] != 1:
        raise click.BadParameter(f"{value} is not supported: segc writes networking.k8s.io/v1 for Kubernetes 1.21 and later")
    return version


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("-o", "--output", "out", required=True, metavar="DIR|-", help="Directory to write (one file per policy plus kustomization.yaml), or - for one YAML stream on stdout.")
@click.option("--stats", is_flag=True, help="Print what the optimizer did (to stderr).")
@click.option("--no-optimize", is_flag=True, help="One policy per statement and namespace, for comparison.")
@click.option("--k8s-version", default="1.30", show_default=True, callback=_version, metavar="X.Y", help="Use only features this Kubernetes version has (endPort needs 1.25).")
@click.option("--validate", is_flag=True, help="Check every object against the Kubernetes schema of --k8s-version before writing.")
def build(files: tuple[str, ...], out: str, stats: bool, no_optimize: bool, k8s_version: tuple[int, int], validate: bool) -> None:
    """Compile FILE... (one program) into NetworkPolicy manifests."""
    from ..gcpause import gc_paused

    # Millions of small acyclic objects live until the end: the cyclic
    # collector would rescan them at every step (see segc.gcpause).
    with gc_paused():
        _build(files, out, stats, no_optimize, k8s_version, validate)


def _build(files: tuple[str, ...], out: str, stats: bool, no_optimize: bool, k8s_version: tuple[int, int], validate: bool) -> None:
    from ..compile import compile_paths
    from ..optimize import Stats
    from ..output import OutputError, stream, write_dir
    from .check import add_lint

    paths, texts = read_inputs(files)
    collected = Stats()
    result = compile_paths(paths, texts, optimize=not no_optimize, k8s_version=k8s_version, stats=collected)
    add_lint(result, paths)
    if validate:
        validate_output(result, k8s_version)
    print_diagnostics(result)
    if not result.ok:
        sys.exit(1)
    if stats:
        from ..stats import report

        click.echo(report(collected, k8s_version, optimized=not no_optimize), err=True)
    if out == "-":
        sys.stdout.write(stream(result.policies))
        return
    try:
        written = write_dir(result.policies, out)
    except OutputError as e:
        click.echo(f"segc: error: {e}", err=True)
        sys.exit(1)
    click.echo(f"segc: wrote {len(written) - 1} policies and kustomization.yaml to {out}", err=True)
