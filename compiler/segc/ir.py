"""The typed IR: immutable nodes with source spans that take no part in equality.

Two layers live here.

* Syntax nodes (``Statement`` subclasses, ``NameRef``, ``Qualified`` ...) are what
  the parser produces: names are still names.
* Resolved nodes (``PodPeer``, ``BlockPeer``, ``Allow``, ``DenyAll``, ``Program``)
  are what the resolver produces: every name has become a selector in a
  namespace, every port a concrete port. Evaluator 1 and the backend read only
  these.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, fields
from functools import lru_cache
from operator import attrgetter
from typing import Mapping, Union


def hash_once(cls):
    """Class decorator for a frozen dataclass: compute the hash once per object.

    The optimizer hashes the same selectors, peers and rules millions of
    times; the generated ``__hash__`` would rehash every nested field each
    time. The value is the same (hash of the compared fields); it is kept in
    the instance dict and left out of pickles (string hashes differ between
    processes).
    """
    names = tuple(f.name for f in fields(cls) if (f.compare if f.hash is None else f.hash))
    # The compared fields as a tuple (attrgetter gives a bare value for one name).
    values = attrgetter(*names) if len(names) > 1 else lambda self: tuple([getattr(self, n) for n in names])

    def __hash__(self):
        h = self._hash  # the class's None until this object's hash is known
        if h is None:
            h = hash(values(self))
            object.__setattr__(self, "_hash", h)
        return h

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_hash", None)
        return state

    cls._hash = None
    cls.__hash__ = __hash__
    cls.__getstate__ = __getstate__
    return cls


# --------------------------------------------------------------------- spans


@dataclass(frozen=True, order=True)
class Span:
    file: str
    line: int
    column: int
    end_line: int = 0
    end_column: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


NO_SPAN = Span("<none>", 0, 0)


def _span() -> Span:
    return field(default=NO_SPAN, compare=False, hash=False, repr=False)


# ----------------------------------------------------------------- selectors

IN, NOT_IN, EXISTS, DOES_NOT_EXIST = "In", "NotIn", "Exists", "DoesNotExist"


@hash_once
@dataclass(frozen=True, order=True)
class Requirement:
    """One label requirement, with Kubernetes' operator names."""

    key: str
    op: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.op == IN:
            return labels.get(self.key) in self.values
        if self.op == NOT_IN:
            return self.key not in labels or labels[self.key] not in self.values
        if self.op == EXISTS:
            return self.key in labels
        return self.key not in labels

    def to_seg(self) -> str:
        if self.op == IN:
            if len(self.values) == 1:
                return f"{self.key}={_seg_value(self.values[0])}"
            return f"{self.key} in ({', '.join(map(_seg_value, self.values))})"
        if self.op == NOT_IN:
            if len(self.values) == 1:
                return f"{self.key}!={_seg_value(self.values[0])}"
            return f"{self.key} notin ({', '.join(map(_seg_value, self.values))})"
        if self.op == EXISTS:
            return self.key
        return f"!{self.key}"


def _seg_value(v: str) -> str:
    return v if v else '""'


@hash_once
@dataclass(frozen=True, order=True)
class Selector:
    """A conjunction of requirements; the empty selector matches everything.

    Requirements are kept sorted and de-duplicated so that equal meaning written
    in a different order compares equal.
    """

    requirements: tuple[Requirement, ...] = ()

    @staticmethod
    def of(reqs) -> "Selector":
        return Selector(tuple(sorted(set(reqs))))

    @staticmethod
    def app(name: str) -> "Selector":
        return Selector((Requirement("app", IN, (name,)),))

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)

    @property
    def is_all(self) -> bool:
        return not self.requirements

    def to_seg(self) -> str:
        return "{" + ", ".join(r.to_seg() for r in self.requirements) + "}"


# -------------------------------------------------------------------- ports

TCP, UDP, SCTP = "TCP", "UDP", "SCTP"


@hash_once
@dataclass(frozen=True, order=True)
class Port:
    """A port range ``start..end`` (inclusive) or a named container port."""

    protocol: str
    start: int = 0
    end: int = 0
    name: str = ""

    def to_seg(self) -> str:
        if self.name:
            p = self.name
        elif self.start == self.end:
            p = str(self.start)
        else:
            p = f"{self.start}-{self.end}"
        return f"{p}/{self.protocol.lower()}"


# ``None`` means every port of every protocol.
Ports = Union[tuple[Port, ...], None]


def ports_to_seg(ports: Ports) -> str:
    return "" if ports is None else ":" + ",".join(p.to_seg() for p in ports)


# ---------------------------------------------------------- syntax endpoints


@dataclass(frozen=True)
class NameRef:
    """A bare name: a group, a stdlib name, or ``app=NAME`` in the current namespace."""

    name: str
    span: Span = _span()


@dataclass(frozen=True)
class AllPods:
    """``*``: every pod (of the current namespace when unqualified)."""

    span: Span = _span()


@dataclass(frozen=True)
class LabelPods:
    selector: Selector
    span: Span = _span()


@dataclass(frozen=True)
class NsByName:
    name: str
    span: Span = _span()


@dataclass(frozen=True)
class NsAny:
    span: Span = _span()


@dataclass(frozen=True)
class NsByLabels:
    selector: Selector
    span: Span = _span()


@dataclass(frozen=True)
class Qualified:
    """``NS/POD``: a namespace part and a pod part (a name here is ``app=NAME``)."""

    ns: Union[NsByName, NsAny, NsByLabels]
    pods: Union[NameRef, AllPods, LabelPods]
    span: Span = _span()


@dataclass(frozen=True)
class Block:
    net: Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
    excepts: tuple = ()
    span: Span = _span()


SyntaxEndpoint = Union[NameRef, AllPods, LabelPods, Qualified, Block]


@dataclass(frozen=True)
class Target:
    endpoint: SyntaxEndpoint
    ports: Ports = None
    span: Span = _span()


# --------------------------------------------------------------- statements


@dataclass(frozen=True)
class NamespaceStmt:
    name: str
    span: Span = _span()


@dataclass(frozen=True)
class DenyAllStmt:
    ingress: bool
    egress: bool
    namespace: str | None
    span: Span = _span()


@dataclass(frozen=True)
class AllowStmt:
    src: SyntaxEndpoint | None  # None: the one-endpoint form, source ``*``
    dst: Target
    text: str = field(default="", compare=False, hash=False)
    span: Span = _span()


@dataclass(frozen=True)
class DenyStmt:
    """``deny SRC -> DST[:PORTS]``; wins over every allow (docs/semantics.md, "Deny")."""

    src: SyntaxEndpoint | None  # None: the one-endpoint form, source ``*``
    dst: Target
    text: str = field(default="", compare=False, hash=False)
    span: Span = _span()


@dataclass(frozen=True)
class GroupStmt:
    name: str
    target: Target
    span: Span = _span()


@dataclass(frozen=True)
class ImportStmt:
    path: str
    span: Span = _span()


@dataclass(frozen=True)
class ExpectStmt:
    """``expect SRC -> DST[:PORTS] allowed|denied``: an intent test, no policy."""

    src: SyntaxEndpoint | None  # None: the one-endpoint form, source ``*``
    dst: Target
    allowed: bool
    text: str = field(default="", compare=False, hash=False)
    span: Span = _span()


Statement = Union[NamespaceStmt, DenyAllStmt, AllowStmt, DenyStmt, GroupStmt, ImportStmt, ExpectStmt]


@dataclass(frozen=True)
class SourceFile:
    path: str
    statements: tuple[Statement, ...]
    stdlib: bool = False


# ------------------------------------------------------------ resolved peers


@hash_once
@dataclass(frozen=True, order=True)
class NsNamed:
    name: str


@hash_once
@dataclass(frozen=True, order=True)
class NsAll:
    pass


@hash_once
@dataclass(frozen=True, order=True)
class NsLabels:
    selector: Selector


NsSelector = Union[NsNamed, NsAll, NsLabels]


@hash_once
@dataclass(frozen=True)
class PodPeer:
    """Pods chosen by labels: those matching ``pods`` in namespaces matching ``ns``."""

    ns: NsSelector
    pods: Selector

    def to_seg(self) -> str:
        if isinstance(self.ns, NsNamed):
            ns = self.ns.name
        elif isinstance(self.ns, NsAll):
            ns = "*"
        else:
            ns = self.ns.selector.to_seg()
        pods = "*" if self.pods.is_all else _pods_to_seg(self.pods)
        return f"{ns}/{pods}"


def _pods_to_seg(sel: Selector) -> str:
    r = sel.requirements
    if len(r) == 1 and r[0].key == "app" and r[0].op == IN and len(r[0].values) == 1:
        return r[0].values[0]
    return sel.to_seg()


@hash_once
@dataclass(frozen=True)
class BlockPeer:
    """Addresses: ``net`` minus each of ``excepts``. Never selects pods by labels."""

    net: Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
    excepts: tuple = ()

    def contains(self, ip) -> bool:
        if ip.version != self.net.version or ip not in self.net:
            return False
        return not any(ip in e for e in self.excepts)

    def to_seg(self) -> str:
        s = str(self.net)
        if self.excepts:
            s += " except " + ", ".join(map(str, self.excepts))
        return s


Peer = Union[PodPeer, BlockPeer]


@lru_cache(maxsize=None)
def peer_sort_key(p: Peer):
    if isinstance(p, PodPeer):
        ns = p.ns
        return (0, type(ns).__name__, repr(ns), repr(p.pods))
    return (1, p.net.version, int(p.net.network_address), p.net.prefixlen, repr(p.excepts))


@dataclass(frozen=True)
class Allow:
    src: Peer
    dst: Peer
    ports: Ports
    text: str = field(default="", compare=False, hash=False)
    span: Span = _span()

    def to_seg(self) -> str:
        return f"allow {self.src.to_seg()} -> {self.dst.to_seg()}{ports_to_seg(self.ports)}"


@dataclass(frozen=True)
class Expect:
    """A resolved ``expect``: every connection from ``src`` to ``dst`` on
    ``ports`` should be allowed (or denied). Takes no part in the program's meaning."""

    src: Peer
    dst: Peer
    ports: Ports
    allowed: bool
    text: str = field(default="", compare=False, hash=False)
    span: Span = _span()


@dataclass(frozen=True)
class Deny:
    """A connection this matches is never allowed, whatever the allows say."""

    src: Peer
    dst: Peer
    ports: Ports
    text: str = field(default="", compare=False, hash=False)
    span: Span = _span()

    def to_seg(self) -> str:
        return f"deny {self.src.to_seg()} -> {self.dst.to_seg()}{ports_to_seg(self.ports)}"


@dataclass(frozen=True)
class DenyAll:
    namespace: str
    ingress: bool
    egress: bool
    span: Span = _span()


@dataclass(frozen=True)
class Program:
    """A resolved program: what evaluator 1 and the backend consume."""

    managed: frozenset[str]
    deny_alls: tuple[DenyAll, ...]
    allows: tuple[Allow, ...]
    denies: tuple[Deny, ...] = ()
    # Intent tests ride along for `segc test`; they never change the meaning.
    expects: tuple[Expect, ...] = field(default=(), compare=False, hash=False)

    def ingress_denied(self, ns: str) -> bool:
        return any(d.ingress and d.namespace == ns for d in self.deny_alls)

    def egress_denied(self, ns: str) -> bool:
        return any(d.egress and d.namespace == ns for d in self.deny_alls)
