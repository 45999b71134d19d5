"""Set-up commands: the Kustomize plugin folder and the Helm 4 plugin.

Both write small files that run this installation of segc (the Python
interpreter running now, ``python -m segc``), so they work from a virtual
environment without it being on PATH. A file that exists and does not carry
segc's marker line is the user's: it is never overwritten.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
from importlib import resources

import yaml

from ..atomic import write_atomic
from ..output import to_yaml
from .config import API_VERSION, GENERATOR, TRANSFORMER

MARKER = "# Installed by segc: `segc kustomize-plugin install` or `segc helm-plugin install` rewrites this file.\n"
HELM_PLUGIN_NAME = "segc"


class InstallError(Exception):
    pass


def _command() -> list[str]:
    return [sys.executable, "-m", "segc"]


def _check_ours(paths: list[str]) -> None:
    for path in paths:
        if os.path.lexists(path):
            try:
                with open(path, encoding="utf-8") as fh:
                    fh.readline()
                    second = fh.readline()
            except (OSError, UnicodeDecodeError):
                second = ""
            if second != MARKER:
                raise InstallError(f"{path} exists and was not installed by segc; move it away first")


def _write(files: dict[str, str], executable: set[str]) -> list[str]:
    _check_ours(list(files))
    try:
        for path, text in sorted(files.items()):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            write_atomic(path, text)
            if path in executable:
                os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    except OSError as e:
        raise InstallError(f"cannot write {e.filename or ''}: {e.strerror}") from None
    return sorted(files)


def kustomize_plugin_paths(home: str) -> dict[str, str]:
    group, version = API_VERSION.split("/")
    return {kind: os.path.join(home, group, version, kind.lower(), kind) for kind in (GENERATOR, TRANSFORMER)}


def install_kustomize_plugins(home: str) -> list[str]:
    """``HOME/segc.io/v1/segcgenerator/SegcGenerator`` and the transformer,
    as Kustomize finds legacy exec plugins under ``KUSTOMIZE_PLUGIN_HOME``."""
    cmd = " ".join(shlex.quote(c) for c in _command())
    files = {}
    for kind, path in kustomize_plugin_paths(home).items():
        sub = "generate" if kind == GENERATOR else "transform"
        files[path] = f'#!/bin/sh\n{MARKER}exec {cmd} kustomize-plugin {sub} "$@"\n'
    paths = set(files)
    return _write(files, paths)


def helm_plugin_source() -> str:
    return resources.files("segc.integrations").joinpath("helm-plugin", "plugin.yaml").read_text(encoding="utf-8")


def install_helm_plugin(plugins_dir: str) -> list[str]:
    """``PLUGINS_DIR/segc/plugin.yaml``: the shipped plugin, with the command
    pinned to this installation."""
    meta = yaml.safe_load(helm_plugin_source())
    command = _command()
    meta["runtimeConfig"]["platformCommand"] = [{"command": command[0], "args": [*command[1:], "helm-postrender"]}]
    path = os.path.join(plugins_dir, HELM_PLUGIN_NAME, "plugin.yaml")
    return _write({path: "# The segc post-renderer for Helm 4 (postrenderer/v1).\n" + MARKER + to_yaml(meta)}, set())
