"""Validation of emitted objects: the official schema of a Kubernetes version,
plus the API server's own checks the schema does not carry.

* SEG071: the object breaks the OpenAPI schema of ``--k8s-version`` (strict:
  unknown fields are errors), as bundled by ``kubernetes-validate``. One
  jsonschema validator is built per (version, apiVersion, kind) and reused;
  building one per object (what ``kubernetes_validate.validate`` does) is about
  ten times slower.
* SEG072: what the API server checks in code (pkg/apis/networking/validation):
  ``endPort`` without a numeric ``port`` or below it, ports outside 1-65535,
  protocols other than TCP, UDP and SCTP, ``policyTypes`` other than at most
  one ``Ingress`` and one ``Egress``, port names that are not IANA service names.

segc's own output should never fail either; the checks exist so that a bug in a
later stage (or a version whose schema changed) stops a build instead of
reaching a cluster. Everything heavy is imported on first use, so commands that
do not validate start as fast as before.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache

from .diagnostics import Collector
from .ir import Span

PROTOCOLS = ("TCP", "UDP", "SCTP")
_PORT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_API = re.compile(r"^(?:(?P<group>[^./]+)(?:\.[^/]*)?/)?(?P<version>[^/]+)$")


class ValidationUnavailable(Exception):
    """No schema for the requested version (or the schemas are not installed)."""


@lru_cache(maxsize=None)
def _schema_root() -> str:
    """The schema folder kubernetes-validate installs (found without importing it:
    its import alone costs more than validating a program)."""
    import importlib.util

    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise ValidationUnavailable("schema validation needs the kubernetes-validate package (pip install kubernetes-validate), or --no-validate")
    return os.path.join(list(spec.submodule_search_locations)[0], "kubernetes-json-schema")


@lru_cache(maxsize=None)
def _strict_dirs() -> dict[tuple[int, int], str]:
    """Kubernetes minor -> folder of its newest patch's strict schemas."""
    found: dict[tuple[int, int], tuple[tuple[int, ...], str]] = {}
    for name in os.listdir(_schema_root()):
        m = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)-local-strict", name)
        if m:
            full = tuple(int(x) for x in m.groups())
            minor = full[:2]
            if minor not in found or found[minor][0] < full:
                found[minor] = (full, name)
    return {minor: os.path.join(_schema_root(), name) for minor, (_, name) in found.items()}


def bundled_versions() -> list[tuple[int, int]]:
    """The Kubernetes minors whose schemas are installed, oldest first."""
    return sorted(_strict_dirs())


def _schema_dir(version: tuple[int, int]) -> str:
    dirs = _strict_dirs()
    if version not in dirs:
        have = bundled_versions()
        raise ValidationUnavailable(
            f"no Kubernetes {version[0]}.{version[1]} schema is installed (kubernetes-validate bundles "
            f"{have[0][0]}.{have[0][1]} to {have[-1][0]}.{have[-1][1]}); pick --k8s-version in that range, "
            "or skip schema validation (--no-validate)"
        )
    return dirs[version]


def _load(path: str):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


@lru_cache(maxsize=None)
def validator(version: tuple[int, int], api_version: str, kind: str):
    """The jsonschema validator of ``kind`` in ``api_version`` for Kubernetes ``version``."""
    import jsonschema
    from referencing import Registry, Resource

    schema_dir = _schema_dir(version)
    m = _API.match(api_version)
    if m is None:
        raise ValidationUnavailable(f"{api_version!r} is not an apiVersion")
    api = f"{m.group('group')}-{m.group('version')}" if m.group("group") else m.group("version")
    try:
        schema = _load(os.path.join(schema_dir, f"{kind.lower()}-{api}.json"))
    except FileNotFoundError:
        raise ValidationUnavailable(f"no schema for {kind} {api_version} in Kubernetes {version[0]}.{version[1]}") from None
    registry = Resource.from_contents(_definitions(schema_dir)) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


@lru_cache(maxsize=None)
def _definitions(schema_dir: str):
    return _load(os.path.join(schema_dir, "_definitions.json"))


def schema_problems(obj: dict, version: tuple[int, int]) -> list[str]:
    """``path: message`` for each way ``obj`` breaks the schema of ``version``."""
    v = validator(version, str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
    out = []
    for err in sorted(v.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path))):
        where = ".".join(str(p) for p in err.absolute_path) or "(root)"
        out.append(f"{where}: {err.message}")
    return out


def api_problems(obj: dict) -> list[str]:
    """The API server's NetworkPolicy checks that the OpenAPI schema does not express."""
    if obj.get("kind") != "NetworkPolicy":
        return []
    spec = obj.get("spec") or {}
    out = []
    types = spec.get("policyTypes")
    if types is not None:
        if not isinstance(types, list) or len(types) > 2 or any(t not in ("Ingress", "Egress") for t in types) or len(set(types)) != len(types):
            out.append(f"spec.policyTypes: {types!r} must hold at most one Ingress and one Egress")
    for direction in ("ingress", "egress"):
        for i, rule in enumerate(spec.get(direction) or []):
            for j, port in enumerate((rule or {}).get("ports") or []):
                out += [f"spec.{direction}[{i}].ports[{j}]: {p}" for p in _port_problems(port or {})]
    return out


def _port_problems(port: dict) -> list[str]:
    out = []
    protocol = port.get("protocol", "TCP")
    if protocol not in PROTOCOLS:
        out.append(f"protocol {protocol!r} is not one of TCP, UDP, SCTP")
    number, end = port.get("port"), port.get("endPort")
    if isinstance(number, int) and not isinstance(number, bool) and not 1 <= number <= 65535:
        out.append(f"port {number} is outside 1-65535")
    if isinstance(number, str) and (len(number) > 15 or not _PORT_NAME.match(number) or not re.search("[a-z]", number) or "--" in number):
        out.append(f"port name {number!r} is not an IANA service name (at most 15 lowercase letters, digits and single '-', with a letter)")
    if end is not None:
        if not isinstance(number, int) or isinstance(number, bool):
            out.append("endPort needs a numeric port")
        elif not isinstance(end, int) or isinstance(end, bool) or not 1 <= end <= 65535:
            out.append(f"endPort {end!r} is outside 1-65535")
        elif end < number:
            out.append(f"endPort {end} is below port {number}")
    return out


def validate_objects(objects: list[dict], version: tuple[int, int], diags: Collector, texts: dict[str, str] | None = None) -> None:
    """Add SEG071/SEG072 errors for each emitted object that Kubernetes ``version`` would reject.

    Raises ValidationUnavailable when that version has no installed schema.
    """
    texts = texts or {}
    label = f"Kubernetes {version[0]}.{version[1]}"
    for obj in objects:
        meta = obj.get("metadata") or {}
        what = f"{obj.get('kind')} {meta.get('namespace', 'default')}/{meta.get('name')}"
        span = locate(obj, texts)
        for problem in schema_problems(obj, version):
            diags.error(span, "SEG071", f"{what} does not validate against the {label} schema: {problem}", "this is a bug in segc; please report it")
        for problem in api_problems(obj):
            diags.error(span, "SEG072", f"{what} would be rejected by the {label} API server: {problem}")


def locate(obj: dict, texts: dict[str, str]) -> Span:
    """The statement behind an emitted policy, from its ``segc.io/source`` annotation:
    the first line of a source file whose statement text it names."""
    note = ((obj.get("metadata") or {}).get("annotations") or {}).get("segc.io/source", "")
    for pointer in note.splitlines():
        pointer = pointer.split(" <- ", 1)[-1]
        file, _, statement = pointer.partition(": ")
        for path, text in texts.items():
            if not (path == file or path.replace("\\", "/").endswith("/" + file)):
                continue
            for n, line in enumerate(text.split("\n"), 1):
                if line.split("#", 1)[0].strip() == statement.strip():
                    return Span(path, n, len(line) - len(line.lstrip()) + 1)
    first = next(iter(texts), "<output>")
    return Span(first, 0, 0)
