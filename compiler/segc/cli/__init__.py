"""The command line: one module per command, each only flags and one library call.

Library code never prints or exits; this package renders diagnostics and
chooses exit codes: 0 ok, 1 the input has errors, 2 usage error.
"""

from __future__ import annotations

import os
import sys

import click

from .. import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="segc", message="%(prog)s %(version)s")
def cli() -> None:
    """Compile .seg network segmentation programs to Kubernetes NetworkPolicy."""


def _register() -> None:
    from . import build, check, explain, fmt, graph, import_cmd, reach, report
    from . import diff as diff_cmd
    from . import test as test_cmd

    cli.add_command(build.build)
    cli.add_command(check.check)
    cli.add_command(fmt.fmt)
    cli.add_command(reach.reach)
    cli.add_command(explain.explain)
    cli.add_command(graph.graph)
    cli.add_command(report.report)

    from . import helm, krm, kustomize

    cli.add_command(kustomize.kustomize_plugin)
    cli.add_command(krm.krm)
    cli.add_command(helm.helm_postrender)
    cli.add_command(helm.helm_plugin)
    cli.add_command(import_cmd.import_cmd)
    cli.add_command(diff_cmd.diff)
    cli.add_command(test_cmd.test)


_register()


def main() -> None:
    try:
        cli.main(prog_name="segc")
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        sys.exit(130)
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            _exit_now(e.code or 0)
        raise


def _exit_now(code: int) -> None:
    """End the process without freeing every object one by one: after a large
    build the interpreter's teardown alone takes 0.2 s (mypy's ``fast_exit``
    does the same). segc registers no exit handlers and holds no open files
    by now; only the standard streams need flushing."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed pipe (`segc build -o - | head`): nothing more to say
        code = code or 1
    os._exit(code)
