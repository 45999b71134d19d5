"""The KRM function protocol (kpt, Kustomize's `exec` functions).

In: one ``ResourceList`` (``config.kubernetes.io/v1``) with ``items`` and a
``functionConfig`` (``segc.io/v1 SegcTransformer`` or a ConfigMap, see
``config``). Out: the same ``items`` with the policies appended, and
``results``: one per diagnostic, with the .seg file in ``file.path`` and the
line and column in ``tags``.

A function runs again on its own output (``kpt fn render`` writes the
policies into the package), so segc first drops the NetworkPolicies it wrote
before: those labelled ``app.kubernetes.io/managed-by: segc`` in a namespace
the program manages. Any other object with the kind, namespace and name of a
policy segc writes is an error (SEG163).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import yaml

from ..compile import compile_paths
from ..diagnostics import Collector, Diagnostic
from ..ir import Span
from ..output import to_yaml
from . import config as cfg
from .resources import Resource, is_segc_policy, policy_id
from .step import check_against

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
KRM_API = "config.kubernetes.io/v1"


@dataclass
class KrmResult:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    output: str = ""  # the ResourceList to print, always

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)


def run(text: str, root: str = ".") -> KrmResult:
    """Process one ResourceList. .seg file names are relative to the
    functionConfig's file when kpt gives its place (``kpt fn render``), else
    to ``root``."""
    diags = Collector()
    out = KrmResult(diags.items)
    here = Span("<ResourceList>", 1, 1)
    try:
        rl = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        diags.error(Span("<ResourceList>", mark.line + 1, mark.column + 1) if mark else here, "SEG162", f"cannot read the ResourceList: {getattr(e, 'problem', None) or e}")
        out.output = _dump({"apiVersion": KRM_API, "kind": "ResourceList", "items": []}, diags.items)
        return out
    if not isinstance(rl, dict) or rl.get("kind") != "ResourceList" or not isinstance(rl.get("items", []), list):
        diags.error(here, "SEG162", "expected a ResourceList (config.kubernetes.io/v1) with a list of items on standard input")
        out.output = _dump({"apiVersion": KRM_API, "kind": "ResourceList", "items": []}, diags.items)
        return out
    items = [i for i in rl.get("items") or [] if i is not None]
    try:
        conf = cfg.parse(rl.get("functionConfig"), (cfg.TRANSFORMER, cfg.GENERATOR, "ConfigMap"))
    except cfg.ConfigError as e:
        diags.error(Span("<functionConfig>", 1, 1), "SEG164", str(e))
        out.output = _dump(rl, diags.items)
        return out
    root = _config_dir(rl.get("functionConfig"), root)
    paths = [f if os.path.isabs(f) else os.path.join(root, f) for f in conf.files]
    result = compile_paths(paths, k8s_version=conf.k8s_version)
    diags.items.extend(result.diagnostics)
    out.texts = result.texts
    if not result.ok:
        out.output = _dump(rl, diags.items)
        return out
    managed = result.program.managed
    kept = [i for i in items if not (isinstance(i, dict) and is_segc_policy(i) and policy_id(i)[0] in managed)]
    resources = [Resource(i, 0) for i in kept if isinstance(i, dict)]
    if conf.kind != cfg.GENERATOR:
        check_against(paths, result, resources, diags, strict=conf.strict, namespace=conf.namespace, name="<ResourceList>")
    ours = {policy_id(p) for p in result.policies}
    for i in kept:
        pid = policy_id(i) if isinstance(i, dict) else None
        if pid in ours:
            diags.error(
                Span("<ResourceList>", 1, 1, 0, 0),
                "SEG163",
                f"the resources already contain NetworkPolicy {pid[0]}/{pid[1]}, which segc writes too",
                "remove it so that one source owns each policy",
                f"resourceRef: networking.k8s.io/v1 NetworkPolicy {pid[0]}/{pid[1]}",
            )
    if diags.has_errors:
        out.output = _dump(rl, diags.items)
        return out
    rl = dict(rl)
    rl["items"] = kept + list(result.policies)
    out.output = _dump(rl, diags.items)
    return out


def _config_dir(fn_config: dict, default: str) -> str:
    """The directory of the functionConfig's file when kpt says where it is
    (``kpt fn render``: a package path and a path inside it), else ``default``."""
    annotations = (fn_config.get("metadata") or {}).get("annotations") or {}
    package = annotations.get("internal.config.kubernetes.io/package-path")
    path = annotations.get("internal.config.kubernetes.io/path") or annotations.get("config.kubernetes.io/path")
    if isinstance(package, str) and os.path.isabs(package) and isinstance(path, str):
        return os.path.dirname(os.path.join(package, path))
    return default


def _dump(rl: dict, diags: list[Diagnostic]) -> str:
    rl = dict(rl)
    rl.setdefault("apiVersion", KRM_API)
    results = [_result(d) for d in sorted(set(diags))]
    if results:
        rl["results"] = results
    else:
        rl.pop("results", None)
    return to_yaml(rl)


def _result(d: Diagnostic) -> dict:
    message = f"{d.span}: {d.message} [{d.code}]" + "".join(f"; {n}" for n in d.notes if not n.startswith("resourceRef: "))
    r: dict = {"message": message, "severity": d.severity}
    if not d.span.file.startswith("<"):
        r["file"] = {"path": d.span.file}
    r["tags"] = {"code": d.code, "line": str(d.span.line), "column": str(d.span.column)}
    for n in d.notes:
        if n.startswith("resourceRef: "):
            api, kind, ref = n[len("resourceRef: "):].split(" ")
            ns, name = ref.split("/", 1)
            r["resourceRef"] = {"apiVersion": api, "kind": kind, "name": name, "namespace": ns}
    return r
