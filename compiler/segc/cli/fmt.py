"""`segc fmt [--check] [--diff] FILE|DIR|-...`."""

from __future__ import annotations

import difflib
import os
import sys

import click

from ..atomic import write_atomic
from ..diagnostics import render_text


def _files(args: tuple[str, ...]) -> list[str]:
    """Each argument, with directories replaced by the .seg files under them (sorted)."""
    out: list[str] = []
    for a in args:
        if a != "-" and os.path.isdir(a):
            found = []
            for root, dirs, names in os.walk(a):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found += [os.path.join(root, n) for n in names if n.endswith(".seg")]
            out += sorted(found)
        else:
            out.append(a)
    return out


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 and name the files that would change.")
@click.option("--diff", "show_diff", is_flag=True, help="Write nothing; print a unified diff of the changes.")
def fmt(files: tuple[str, ...], check: bool, show_diff: bool) -> None:
    """Rewrite FILE... in the canonical layout (`-`: stdin to stdout; a directory: every .seg file under it)."""
    from ..fmt import FormatError, format_text

    failed = changed = False
    for path in _files(files):
        name = "<stdin>" if path == "-" else path
        try:
            data = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()
        except OSError as e:
            click.echo(f"segc: error: cannot read {path}: {e.strerror or e}", err=True)
            failed = True
            continue
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            click.echo(f"segc: error: {name} is not UTF-8 text", err=True)
            failed = True
            continue
        try:
            new = format_text(text, name)
        except FormatError as e:
            click.echo(render_text(e.diagnostics, {name: text}), err=True)
            failed = True
            continue
        differs = new != text or data.startswith(b"\xef\xbb\xbf")
        if show_diff and differs:
            diff = difflib.unified_diff(text.splitlines(keepends=True), new.splitlines(keepends=True), f"{name}", f"{name} (formatted)")
            sys.stdout.write("".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in diff))
        if check or show_diff:
            if differs:
                changed = True
                if check:
                    click.echo(f"would reformat {name}", err=True)
            continue
        if path == "-":
            sys.stdout.write(new)
        elif differs:
            try:
                write_atomic(path, new, newline="")
            except OSError as e:
                click.echo(f"segc: error: cannot write {path}: {e.strerror or e}", err=True)
                failed = True
                continue
            click.echo(f"reformatted {name}", err=True)
    if failed or (check and changed):
        sys.exit(1)
