"""What a kustomization would do to generated policies.

Kustomize runs its built-in transformers (``namespace``, ``commonLabels``,
``labels`` with ``includeSelectors``) over generated resources too. On a
NetworkPolicy they change its meaning: ``namespace`` moves the policy (and
every peer written without a namespace selector) to another namespace;
``commonLabels`` adds the labels to every pod selector, including the ones
for other namespaces' pods (``allow dns`` would no longer match CoreDNS).
The generator refuses to run under such a kustomization (sound or refuse);
the transformer runs after them and is not affected.
"""

from __future__ import annotations

import os

import yaml

NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def hazards(root: str, policies: list[dict]) -> list[str]:
    """Why the kustomization in ``root`` would change the generated policies
    (empty when it would not, or when there is no readable kustomization)."""
    for name in NAMES:
        path = os.path.join(root, name)
        if os.path.isfile(path):
            break
    else:
        return []
    try:
        with open(path, encoding="utf-8") as fh:
            k = yaml.safe_load(fh)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []  # Kustomize itself reports an unreadable kustomization
    if not isinstance(k, dict):
        return []
    out = []
    ns = k.get("namespace")
    moved = sorted({p["metadata"]["namespace"] for p in policies} - {ns}) if ns else []
    if moved:
        out.append(f"{path} sets `namespace: {ns}`, which would move the policies of {', '.join(moved)} into {ns}")
    if k.get("commonLabels"):
        out.append(f"{path} sets `commonLabels`, which Kustomize also adds to every pod selector of a NetworkPolicy")
    for entry in k.get("labels") or []:
        if isinstance(entry, dict) and entry.get("includeSelectors"):
            out.append(f"{path} has `labels` with `includeSelectors: true`, which Kustomize also adds to every pod selector of a NetworkPolicy")
    return out
