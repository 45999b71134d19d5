"""The configuration object of the Kustomize plugins and the KRM function.

    apiVersion: segc.io/v1
    kind: SegcGenerator | SegcTransformer
    metadata: {name: policies}
    files: [app.seg]            # .seg files, relative to the kustomization (or package)
    strict: false               # transformer: unmatched selectors/ports are errors
    namespace: shop             # transformer: namespace of workloads that have none
    k8sVersion: "1.30"          # as `segc build --k8s-version`

The KRM function also takes a ConfigMap (what `kpt fn eval -- files=a.seg`
makes): ``data.files`` (separated by commas or spaces), ``data.strict``
("true"/"false"), ``data.namespace``, ``data.k8sVersion``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..compile import DEFAULT_K8S_VERSION

API_VERSION = "segc.io/v1"
GENERATOR, TRANSFORMER = "SegcGenerator", "SegcTransformer"
_FIELDS = {"apiVersion", "kind", "metadata", "files", "strict", "namespace", "k8sVersion"}


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Config:
    kind: str
    files: tuple[str, ...]
    strict: bool = False
    namespace: str | None = None
    k8s_version: tuple[int, int] = DEFAULT_K8S_VERSION


def parse_version(value: str) -> tuple[int, int]:
    m = re.fullmatch(r"v?(\d+)\.(\d+)(\.\d+)?", str(value).strip())
    if not m or int(m.group(1)) != 1 or int(m.group(2)) < 21:
        raise ConfigError(f"k8sVersion {value!r} is not a Kubernetes version of 1.21 or later, like 1.30")
    return int(m.group(1)), int(m.group(2))


def _bool(value, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ConfigError(f"{what} must be true or false, not {value!r}")


def parse(obj, kinds: tuple[str, ...] = (GENERATOR, TRANSFORMER)) -> Config:
    if not isinstance(obj, dict):
        raise ConfigError("the configuration is not a YAML mapping")
    kind = obj.get("kind")
    if kind == "ConfigMap" and "ConfigMap" in kinds:
        return _from_configmap(obj)
    if kind not in kinds or obj.get("apiVersion") != API_VERSION:
        want = " or ".join(f"{API_VERSION} {k}" for k in kinds)
        raise ConfigError(f"expected {want}, found {obj.get('apiVersion')} {kind}")
    unknown = sorted(set(obj) - _FIELDS)
    if unknown:
        raise ConfigError(f"unknown field(s) {', '.join(unknown)}; known: files, strict, namespace, k8sVersion")
    files = obj.get("files")
    if not isinstance(files, list) or not files or not all(isinstance(f, str) and f for f in files):
        raise ConfigError("`files` must be a non-empty list of .seg file names")
    if kind == GENERATOR and ("strict" in obj or "namespace" in obj):
        raise ConfigError("`strict` and `namespace` are for SegcTransformer: a generator sees no workloads to check")
    ns = obj.get("namespace")
    if ns is not None and not isinstance(ns, str):
        raise ConfigError("`namespace` must be a string")
    return Config(
        kind,
        tuple(files),
        _bool(obj.get("strict", False), "strict"),
        ns or None,
        parse_version(obj["k8sVersion"]) if "k8sVersion" in obj else DEFAULT_K8S_VERSION,
    )


def _from_configmap(obj: dict) -> Config:
    data = obj.get("data") or {}
    if not isinstance(data, dict):
        raise ConfigError("ConfigMap `data` must be a mapping")
    unknown = sorted(set(data) - {"files", "strict", "namespace", "k8sVersion"})
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(unknown)} in ConfigMap data; known: files, strict, namespace, k8sVersion")
    files = [f for f in re.split(r"[,\s]+", str(data.get("files", ""))) if f]
    if not files:
        raise ConfigError("ConfigMap data.files must name the .seg files (separated by commas or spaces)")
    return Config(
        TRANSFORMER,
        tuple(files),
        _bool(data.get("strict", "false"), "data.strict"),
        str(data["namespace"]) if data.get("namespace") else None,
        parse_version(data["k8sVersion"]) if "k8sVersion" in data else DEFAULT_K8S_VERSION,
    )
