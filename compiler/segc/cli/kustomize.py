"""`segc kustomize-plugin install DIR | generate CONFIG | transform CONFIG`.

Kustomize (`kubectl kustomize --enable-alpha-plugins`) runs legacy exec
plugins from ``$KUSTOMIZE_PLUGIN_HOME/segc.io/v1/<kind>/<Kind>`` with the
plugin's configuration file as the only argument, in the directory of the
kustomization; a transformer reads every resource on stdin and prints them
all back. `install` writes those two executables; `generate` and `transform`
are what they run.
"""

from __future__ import annotations

import os
import sys

import click
import yaml

from ..diagnostics import render_text
from .common import install_or_exit


def _fail(message: str) -> None:
    click.echo(f"segc: error: {message} [SEG164]", err=True)
    sys.exit(1)


def _config(path: str, kind: str):
    from ..integrations import config as cfg

    try:
        with open(path, encoding="utf-8") as fh:
            obj = yaml.safe_load(fh)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        _fail(f"cannot read the {kind} configuration {path}: {e}")
    try:
        return cfg.parse(obj, (kind,))
    except cfg.ConfigError as e:
        name = ((obj or {}).get("metadata") or {}).get("name", "?") if isinstance(obj, dict) else "?"
        _fail(f"{kind} {name!r}: {e}")


def _root() -> str:
    # Kustomize sets this to the kustomization's directory (and runs us there).
    return os.environ.get("KUSTOMIZE_PLUGIN_CONFIG_ROOT") or os.getcwd()


def _paths(files, root: str) -> list[str]:
    return [f if os.path.isabs(f) else os.path.join(root, f) for f in files]


def _report(step, root: str) -> None:
    from ..integrations.step import absolute_names

    if step.diagnostics:
        diags, texts = absolute_names(step.diagnostics, step.texts, os.getcwd())
        click.echo(render_text(diags, texts), err=True)
    if not step.ok:
        sys.exit(1)


@click.group("kustomize-plugin")
def kustomize_plugin() -> None:
    """Kustomize plugins: SegcGenerator and SegcTransformer (segc.io/v1)."""


@kustomize_plugin.command("install")
@click.argument("directory")
def install(directory: str) -> None:
    """Write the plugins under DIRECTORY, for KUSTOMIZE_PLUGIN_HOME=DIRECTORY."""
    from ..integrations.install import install_kustomize_plugins

    install_or_exit(install_kustomize_plugins, directory, f"segc: run kustomize with KUSTOMIZE_PLUGIN_HOME={os.path.abspath(directory)} and --enable-alpha-plugins")


@kustomize_plugin.command("generate")
@click.argument("config_file", metavar="CONFIG")
def generate(config_file: str) -> None:
    """Print the policies of a SegcGenerator CONFIG (run by Kustomize)."""
    from ..integrations.config import GENERATOR
    from ..integrations.step import generate as run

    conf = _config(config_file, GENERATOR)
    root = _root()
    step = run(_paths(conf.files, root), conf.k8s_version)
    _report(step, root)
    from ..integrations.kustomization import hazards

    problems = hazards(root, step.policies)
    if problems:
        for p in problems:
            click.echo(f"segc: error: {p}; the generated policies would no longer mean what the .seg says [SEG166]", err=True)
        click.echo("    note: use SegcTransformer (it runs after these), or move the generator into a kustomization without them", err=True)
        sys.exit(1)
    sys.stdout.write(step.output)


@kustomize_plugin.command("transform")
@click.argument("config_file", metavar="CONFIG")
def transform(config_file: str) -> None:
    """Append the policies of a SegcTransformer CONFIG to the resources on stdin (run by Kustomize)."""
    from ..integrations.config import TRANSFORMER
    from ..integrations.step import transform as run

    conf = _config(config_file, TRANSFORMER)
    root = _root()
    text = _stdin_text()
    step = run(_paths(conf.files, root), text, "<resources>", strict=conf.strict, namespace=conf.namespace, k8s_version=conf.k8s_version)
    _report(step, root)
    sys.stdout.write(step.output)


def _stdin_text() -> str:
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        click.echo(f"<stdin>: error: the resources are not UTF-8 (byte {e.start}) [SEG162]", err=True)
        sys.exit(1)
