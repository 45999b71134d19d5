"""`segc import FILE.yaml|DIR|-... [-o app.seg|-]`."""

from __future__ import annotations

import os
import sys

import click

from .common import print_diagnostics


@click.command("import")
@click.argument("files", nargs=-1, required=True)
@click.option("-o", "--output", "out", default="-", show_default=True, metavar="FILE|-", help="Where to write the .seg program (- for stdout).")
def import_cmd(files: tuple[str, ...], out: str) -> None:
    """Turn NetworkPolicy YAML (files, or directories of YAML files) into an equivalent .seg program.

    Objects with no exact .seg form are refused, each with its file, line and
    reason (SEG170-SEG179); then nothing is written and the exit code is 1.
    """
    from ..importer import import_paths

    paths, texts = [], {}
    for f in files:
        if f == "-":
            texts["<stdin>"] = sys.stdin.read()
            paths.append("<stdin>")
        else:
            paths.append(f)
    result = import_paths(paths, texts)
    print_diagnostics(result)
    if not result.ok:
        sys.exit(1)
    if out == "-":
        sys.stdout.write(result.text)
        return
    if os.path.exists(out):
        click.echo(f"segc: error: {out} exists; segc import never overwrites a file (remove it or pick another name)", err=True)
        sys.exit(1)
    with open(out, "x", encoding="utf-8") as fh:
        fh.write(result.text)
    click.echo(f"segc: wrote {out}", err=True)
