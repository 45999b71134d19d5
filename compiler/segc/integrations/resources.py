"""Kubernetes objects flowing through a render step: read a YAML stream with
the line each object starts on, and append segc's policies to it.

The objects that come in are written back byte for byte (comments, Helm's
``# Source:`` lines and all); segc only appends.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from ..diagnostics import Collector
from ..ir import Span
from ..output import stream

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MANAGED_BY = ("app.kubernetes.io/managed-by", "segc")


@dataclass(frozen=True)
class Resource:
    obj: dict
    line: int  # where the object starts in its stream, from 1

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def metadata(self) -> dict:
        meta = self.obj.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))

    @property
    def namespace(self) -> str | None:
        ns = self.metadata.get("namespace")
        return str(ns) if ns else None


def read_stream(text: str, name: str, diags: Collector) -> list[Resource]:
    """Every non-empty document of ``text``; ``kind: List`` items are
    unpacked. A YAML error or a document that is not an object is an error
    (SEG162) naming ``name:LINE:COL``."""
    out: list[Resource] = []
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            line = node.start_mark.line + 1
            obj = loader.construct_document(node)
            if obj is None:
                continue
            if not isinstance(obj, dict):
                diags.error(Span(name, line, node.start_mark.column + 1), "SEG162", f"expected a Kubernetes object (a mapping), found {type(obj).__name__}")
                continue
            if obj.get("kind") == "List" and isinstance(obj.get("items"), list):
                out.extend(Resource(item, line) for item in obj["items"] if isinstance(item, dict))
                continue
            out.append(Resource(obj, line))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        span = Span(name, mark.line + 1, mark.column + 1) if mark else Span(name, 1, 1)
        diags.error(span, "SEG162", f"cannot read the resources: {e.problem or e.context}")
    except yaml.YAMLError as e:
        diags.error(Span(name, 1, 1), "SEG162", f"cannot read the resources: {e}")
    finally:
        loader.dispose()
    return out


def policy_id(obj: dict) -> tuple[str, str] | None:
    """(namespace, name) of a NetworkPolicy object, None for anything else."""
    if obj.get("kind") != "NetworkPolicy" or not isinstance(obj.get("metadata"), dict):
        return None
    meta = obj["metadata"]
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def is_segc_policy(obj: dict) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return policy_id(obj) is not None and isinstance(labels, dict) and labels.get(MANAGED_BY[0]) == MANAGED_BY[1]


def check_collisions(resources: list[Resource], policies: list[dict], name: str, diags: Collector) -> None:
    """An object that already has the kind, namespace and name of a policy
    segc writes would be silently replaced by one or the other: refuse (SEG163)."""
    ours = {policy_id(p) for p in policies}
    for r in resources:
        pid = policy_id(r.obj)
        if pid in ours:
            diags.error(
                Span(name, r.line, 1),
                "SEG163",
                f"the resources already contain NetworkPolicy {pid[0]}/{pid[1]}, which segc writes too",
                "remove it (or the segc output it came from) so that one source owns each policy",
            )


def append(text: str, policies: list[dict]) -> str:
    """``text`` unchanged, followed by the policies as YAML documents."""
    if not policies:
        return text
    if text and not text.endswith("\n"):
        text += "\n"
    return text + stream(policies)
