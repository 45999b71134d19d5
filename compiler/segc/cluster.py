"""The cluster model both evaluators share: namespaces, pods, outside addresses.

Loaded from ordinary Kubernetes YAML (``kubectl get ns,pods -A -o yaml``):
``Namespace`` and ``Pod`` objects, multi-document streams or ``kind: List``.
Nothing here knows about .seg programs or NetworkPolicy objects.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Mapping

NAME_LABEL = "kubernetes.io/metadata.name"
PROTOCOLS = ("TCP", "UDP", "SCTP")


class ClusterError(ValueError):
    """A cluster file that cannot be understood; the message says where."""


@dataclass(frozen=True)
class ContainerPort:
    port: int
    protocol: str = "TCP"
    name: str | None = None


@dataclass(frozen=True, eq=False)
class Namespace:
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Kubernetes sets this label on every namespace; evaluators rely on it.
        labels = dict(self.labels)
        labels[NAME_LABEL] = self.name
        object.__setattr__(self, "labels", labels)


@dataclass(frozen=True, eq=False)
class Pod:
    namespace: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    ip: str | None = None
    ports: tuple[ContainerPort, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def named_port(self, name: str, protocol: str) -> int | None:
        """The number of the container port called ``name`` with ``protocol``."""
        for p in self.ports:
            if p.name == name and p.protocol == protocol:
                return p.port
        return None


@dataclass(frozen=True)
class External:
    """An address outside the cluster (never selected by labels)."""

    ip: str

    @property
    def key(self) -> str:
        return self.ip


Endpoint = Pod | External


@dataclass(eq=False)
class Cluster:
    namespaces: dict[str, Namespace] = field(default_factory=dict)
    pods: list[Pod] = field(default_factory=list)
    externals: list[External] = field(default_factory=list)

    def namespace(self, name: str) -> Namespace:
        ns = self.namespaces.get(name)
        if ns is None:
            ns = Namespace(name)
            self.namespaces[name] = ns
        return ns

    def endpoints(self) -> list[Endpoint]:
        return [*self.pods, *self.externals]

    def add_external(self, ip: str) -> None:
        self.externals.append(External(str(ipaddress.ip_address(ip))))


def _objects(docs: Iterable[object]) -> Iterator[dict]:
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ClusterError("expected Kubernetes objects (mappings), found " + type(doc).__name__)
        if doc.get("kind") == "List" or (doc.get("kind", "").endswith("List") and "items" in doc):
            yield from _objects(doc.get("items") or [])
        else:
            yield doc


def _labels(obj: dict, what: str) -> dict[str, str]:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    if not isinstance(labels, dict):
        raise ClusterError(f"{what}: metadata.labels must be a mapping")
    return {str(k): "" if v is None else str(v) for k, v in labels.items()}


def _ports(pod: dict, what: str) -> tuple[ContainerPort, ...]:
    spec = pod.get("spec") or {}
    out = []
    for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        for p in (c or {}).get("ports") or []:
            try:
                number = int(p["containerPort"])
            except (KeyError, TypeError, ValueError):
                raise ClusterError(f"{what}: a container port has no valid containerPort") from None
            proto = str(p.get("protocol") or "TCP").upper()
            if proto not in PROTOCOLS:
                raise ClusterError(f"{what}: unknown protocol {proto!r}")
            out.append(ContainerPort(number, proto, p.get("name")))
    return tuple(out)


def cluster_from_objects(docs: Iterable[object]) -> Cluster:
    """Build a cluster from parsed YAML documents; unknown kinds are ignored."""
    cluster = Cluster()
    pods: list[dict] = []
    for obj in _objects(docs):
        kind = obj.get("kind")
        meta = obj.get("metadata") or {}
        if kind == "Namespace":
            name = meta.get("name")
            if not name:
                raise ClusterError("a Namespace has no metadata.name")
            cluster.namespaces[name] = Namespace(name, _labels(obj, f"namespace {name}"))
        elif kind == "Pod":
            pods.append(obj)
    for obj in pods:
        meta = obj.get("metadata") or {}
        name = meta.get("name")
        if not name:
            raise ClusterError("a Pod has no metadata.name")
        ns = meta.get("namespace") or "default"
        what = f"pod {ns}/{name}"
        ip = (obj.get("status") or {}).get("podIP")
        if ip is not None:
            try:
                ip = str(ipaddress.ip_address(ip))
            except ValueError:
                raise ClusterError(f"{what}: status.podIP {ip!r} is not an IP address") from None
        cluster.namespace(ns)
        cluster.pods.append(Pod(ns, name, _labels(obj, what), ip, _ports(obj, what)))
    cluster.pods.sort(key=lambda p: (p.namespace, p.name))
    return cluster


def read_documents(path: str, error: type[Exception]) -> list:
    """Every YAML document of a file; problems raise ``error`` with the path and a reason."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        with open(path, encoding="utf-8") as fh:
            return list(yaml.load_all(fh, Loader=loader))
    except OSError as e:
        raise error(f"{path}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise error(f"{path}: not UTF-8 text: {e.reason}") from None
    except yaml.YAMLError as e:
        raise error(f"{path}: not valid YAML: {e}") from None


def load_cluster(path: str) -> Cluster:
    """Read a cluster from a YAML file; raises ClusterError with a readable reason."""
    docs = read_documents(path, ClusterError)
    try:
        return cluster_from_objects(docs)
    except ClusterError as e:
        raise ClusterError(f"{path}: {e}") from None
