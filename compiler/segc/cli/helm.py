"""`segc helm-postrender` (Helm's --post-renderer) and `segc helm-plugin install DIR`."""

from __future__ import annotations

import sys

import click

from ..diagnostics import render_text
from .build import _version
from .common import install_or_exit


@click.command("helm-postrender")
@click.option("--seg", "seg_files", multiple=True, required=True, metavar="FILE", help="A .seg file of the program (repeat for several).")
@click.option("--strict", is_flag=True, help="Selectors or named ports that match no rendered workload are errors, not warnings.")
@click.option("--namespace", default=None, metavar="NS", help="The release namespace: where workloads without metadata.namespace go.")
@click.option("--report", default=None, metavar="FILE", help="Also write the diagnostics to FILE (Helm 4 does not show a plugin's standard error).")
@click.option("--k8s-version", default="1.30", show_default=True, callback=_version, metavar="X.Y", help="As for segc build.")
def helm_postrender(seg_files, strict: bool, namespace: str | None, report: str | None, k8s_version) -> None:
    """Read a rendered release on stdin; write it back with the policies added.

    Before adding them, checks the program against the rendered workloads:
    a selector that matches no pod template, or a named port a matched
    template does not declare, is a warning (an error with --strict).
    """
    from ..integrations.step import transform

    data = sys.stdin.buffer.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        _emit(f"<stdin>:1:1: error: the rendered manifests are not UTF-8 (byte {e.start}) [SEG162]", report)
        sys.exit(1)
    step = transform(list(seg_files), text, "<stdin>", strict=strict, namespace=namespace, k8s_version=k8s_version)
    _emit(render_text(step.diagnostics, step.texts) if step.diagnostics else "", report)
    if not step.ok:
        sys.exit(1)
    sys.stdout.write(step.output)


def _emit(text: str, report: str | None) -> None:
    if text:
        click.echo(text, err=True)
    if report:
        try:
            with open(report, "w", encoding="utf-8") as fh:
                fh.write(text + ("\n" if text else ""))
        except OSError as e:
            click.echo(f"segc: error: cannot write the report {report}: {e.strerror}", err=True)
            sys.exit(1)


@click.group("helm-plugin")
def helm_plugin() -> None:
    """The Helm 4 post-renderer plugin."""


@helm_plugin.command("install")
@click.argument("directory")
def install(directory: str) -> None:
    """Install the plugin into DIRECTORY (Helm's plugin folder: `helm env HELM_PLUGINS`)."""
    from ..integrations.install import install_helm_plugin

    install_or_exit(install_helm_plugin, directory, "segc: use it with: helm template|install ... --post-renderer segc --post-renderer-args --seg=FILE.seg")
