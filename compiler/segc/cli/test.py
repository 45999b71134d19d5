"""`segc test FILE... [--cluster C] [--why] [--export netassert]`: intent tests."""

from __future__ import annotations

import sys

import click

from .common import cluster_option, print_diagnostics, read_inputs


@click.command("test")
@click.argument("files", nargs=-1, required=True)
@click.option("--cluster", "cluster_path", default=None, metavar="CLUSTER.yaml", help="Check on this cluster (Namespace and Pod objects) instead of a witness cluster built from the program.")
@click.option("--why", is_flag=True, help="For each failing connection, name the policy rule or isolation responsible.")
@click.option("--export", "export", type=click.Choice(["netassert"]), default=None, help="Write the expectations as netassert v2 test YAML to stdout instead of checking them.")
def test(files: tuple[str, ...], cluster_path: str | None, why: bool, export: str | None) -> None:
    """Check the `expect` statements of FILE... (one program) against its compiled policies."""
    from ..compile import compile_paths
    from ..diagnostics import render_text
    from ..intent import check, diagnostics, netassert_tests, test_file_problems

    cluster = cluster_option(cluster_path)
    paths, texts = read_inputs(files)
    result = compile_paths(paths, texts)
    print_diagnostics(result)
    if not result.ok:
        sys.exit(1)
    program = result.program
    problems = test_file_problems(paths, texts, result.policies)
    if problems:
        click.echo(render_text(problems, result.texts), err=True)
        sys.exit(1)
    if not program.expects:
        click.echo("segc: no `expect` statements in " + ", ".join(files), err=True)
        sys.exit(1)
    run = check(program, result.policies, cluster)
    if export == "netassert":
        import yaml

        tests, warnings = netassert_tests(run, program)
        if warnings:
            click.echo(render_text(warnings, result.texts), err=True)
        sys.stdout.write(yaml.safe_dump(tests, sort_keys=False, default_flow_style=False) if tests else "[]\n")
        return
    failures = diagnostics(run, why=why, on_cluster=cluster is not None)
    if failures:
        click.echo(render_text(failures, result.texts), err=True)
    total = len(run.outcomes)
    failed = len(run.failed)
    where = cluster_path if cluster_path else "a witness cluster of " + str(len(run.cluster.pods)) + " pods"
    click.echo(f"segc: {total - failed} of {total} expectations hold on {where}", err=True)
    if failed:
        sys.exit(1)
