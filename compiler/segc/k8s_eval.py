"""Evaluator 2: what a set of Kubernetes NetworkPolicy (networking.k8s.io/v1)
objects allows, following the API reference to the letter.

This evaluator knows nothing about .seg programs.  It exists so that the
compiler's output can be checked against an independent reading of the
Kubernetes semantics (``segc reach`` compares the two).

Semantics implemented (one line each; the tests quote the sources):

* A policy applies to pods in ``metadata.namespace`` (default ``default``)
  matched by ``spec.podSelector`` (empty or null selects every pod there).
* ``policyTypes`` omitted or empty: ``Ingress``, plus ``Egress`` when
  ``spec.egress`` holds at least one rule -- exactly what the API server's
  defaulting does (``len(spec.Egress) != 0``).
* A pod is ingress-isolated when a policy of type Ingress selects it;
  likewise for egress.  Non-isolated directions allow everything.
* src -> dst is allowed iff the egress side (src) and the ingress side (dst)
  both allow it; an address outside the cluster has no side of its own.
* A rule admits a connection when its peers (``from``/``to``) and its
  ``ports`` both match; missing or empty lists match everything.
* Peers: ``podSelector`` alone = pods in the policy's namespace;
  ``namespaceSelector`` alone = every pod in matching namespaces; both =
  AND; ``ipBlock`` = any endpoint whose IP lies in ``cidr`` and outside every
  ``except`` (a pod without an IP never matches).  Peers of a rule are ORed.
* Ports: protocol defaults to TCP; no ``port`` = every port of the
  protocol; ``endPort`` makes an inclusive range; a named port matches when
  the *destination* pod has a container port of that name and protocol whose
  number is the probed port (never for an address outside the cluster).

Two ways to ask:

* :meth:`K8sEvaluator.allowed` / :meth:`K8sEvaluator.why` walk the rules
  directly.  They are the readable reference.
* :meth:`K8sEvaluator.matrix` answers whole sources x destinations x ports
  grids.  It reduces every endpoint to bit masks of the rules that can apply
  to it, groups endpoints with equal masks, and decides once per group; the
  tests check it against :meth:`allowed`.
"""

from __future__ import annotations

import bisect
import ipaddress
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Iterable, Iterator, Mapping, Sequence

from .cluster import NAME_LABEL, PROTOCOLS, Cluster, ContainerPort, Endpoint, Pod, read_documents

PortKey = tuple[int, str]


class PolicyFileError(ValueError):
    """NetworkPolicy input that cannot be understood; the message says where."""


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------


def load_policies(path: str) -> list[dict]:
    """Read the NetworkPolicy objects of a YAML file (other kinds are skipped).

    Every policy is also compiled once, so that a malformed policy is reported
    here, with the file name, rather than later in the middle of a query.
    """
    docs = read_documents(path, PolicyFileError)
    try:
        return policies_from_objects(docs)
    except PolicyFileError as e:
        raise PolicyFileError(f"{path}: {e}") from None


def policies_from_objects(docs: Iterable[object]) -> list[dict]:
    """The NetworkPolicy objects among parsed documents, lists flattened.

    Returns the objects themselves (not copies); raises PolicyFileError for
    non-mapping documents and for policies Kubernetes would reject.
    """
    policies = [obj for obj in _flatten(docs) if obj.get("kind") == "NetworkPolicy"]
    for policy in policies:
        _compile_policy(policy, _RuleCounter())
    return policies


def _flatten(docs: Iterable[object]) -> Iterator[dict]:
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise PolicyFileError("expected Kubernetes objects (mappings), found " + type(doc).__name__)
        kind = doc.get("kind")
        if isinstance(kind, str) and kind.endswith("List") and "items" in doc:
            items = doc.get("items") or []
            if not isinstance(items, list):
                raise PolicyFileError(f"{kind}: items must be a list")
            yield from _flatten(items)
        else:
            yield doc


# --------------------------------------------------------------------------
# Compiled policy model
# --------------------------------------------------------------------------

_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


@dataclass(frozen=True)
class Selector:
    """A label selector: matchLabels and matchExpressions, all ANDed."""

    match_labels: tuple[tuple[str, str], ...] = ()
    expressions: tuple[tuple[str, str, frozenset[str]], ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        for key, value in self.match_labels:
            if labels.get(key) != value:
                return False
        return all(_expression_holds(expr, labels) for expr in self.expressions)


def _expression_holds(expr: tuple[str, str, frozenset[str]], labels: Mapping[str, str]) -> bool:
    # NotIn and DoesNotExist hold for objects without the key, as in apimachinery.
    key, op, values = expr
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    return key not in labels


@dataclass(frozen=True)
class IPBlock:
    """A CIDR minus exceptions, kept as integer ranges for quick tests."""

    version: int
    first: int
    last: int
    excepts: tuple[tuple[int, int, int], ...] = ()  # (version, first, last)

    def contains(self, ip: tuple[int, int] | None) -> bool:
        if ip is None or ip[0] != self.version or not self.first <= ip[1] <= self.last:
            return False
        return not any(v == ip[0] and a <= ip[1] <= b for v, a, b in self.excepts)


@dataclass(frozen=True)
class PortSpec:
    """One entry of a rule's ``ports``, defaults applied."""

    protocol: str
    port: int | str | None = None  # None: every port of the protocol
    end_port: int | None = None

    def matches(self, port: int, protocol: str, dst_ports: tuple[ContainerPort, ...] | None) -> bool:
        """Whether traffic to ``port``/``protocol`` matches; ``dst_ports`` are the
        destination pod's container ports (None for an address outside the cluster)."""
        if protocol != self.protocol:
            return False
        if self.port is None:
            return True
        if isinstance(self.port, int):
            return self.port <= port <= (self.end_port or self.port)
        if dst_ports is None:
            return False
        return any(cp.name == self.port and cp.protocol == protocol and cp.port == port for cp in dst_ports)


@dataclass(frozen=True)
class Peer:
    """One entry of ``from``/``to``.  ``namespace_selector`` None with no
    ``ip_block`` means "the policy's own namespace"; ``pod_selector`` None
    means every pod of the selected namespaces."""

    pod_selector: Selector | None = None
    namespace_selector: Selector | None = None
    ip_block: IPBlock | None = None


@dataclass(eq=False)
class Rule:
    """One ingress or egress rule.  Each rule owns one bit (``1 << index``)
    so that sets of rules are plain integers in the grid path."""

    direction: str  # "ingress" or "egress"
    number: int  # 1-based position in the policy, for explanations
    index: int  # position among all rules of this direction (its bit)
    peers: tuple[Peer, ...] | None  # None: every source/destination
    ports: tuple[PortSpec, ...] | None  # None: every port and protocol

    @property
    def bit(self) -> int:
        return 1 << self.index


@dataclass(eq=False)
class Policy:
    """A compiled NetworkPolicy, policyTypes already applied."""

    namespace: str
    name: str
    selector: Selector
    ingress: tuple[Rule, ...] | None  # None: the policy does not have type Ingress
    egress: tuple[Rule, ...] | None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def rules(self, direction: str) -> tuple[Rule, ...] | None:
        return self.ingress if direction == "ingress" else self.egress

    def mask(self, direction: str) -> int:
        mask = 0
        for rule in self.rules(direction) or ():
            mask |= rule.bit
        return mask


@dataclass
class _RuleCounter:
    """Hands out rule indices, separately for each direction."""

    rules: dict[str, list[Rule]] = field(default_factory=lambda: {"ingress": [], "egress": []})

    def add(self, direction: str, number: int, peers, ports) -> Rule:
        bucket = self.rules[direction]
        rule = Rule(direction, number, len(bucket), peers, ports)
        bucket.append(rule)
        return rule


# --------------------------------------------------------------------------
# Compilation (with the validation the API server would do)
# --------------------------------------------------------------------------


def _fail(where: str, message: str) -> PolicyFileError:
    return PolicyFileError(f"{where}: {message}")


def _mapping(value: object, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(where, "must be a mapping")
    return value


def _list(value: object, where: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail(where, "must be a list")
    return value


def _label_value(value: object) -> str:
    # Same conversion as the cluster loader, so the two sides compare equal.
    return "" if value is None else str(value)


def _compile_selector(obj: object, where: str) -> Selector:
    """A null selector is the empty selector (Go decodes null into the zero value)."""
    obj = _mapping(obj, where)
    labels = _mapping(obj.get("matchLabels"), f"{where}.matchLabels")
    match_labels = tuple(sorted((str(k), _label_value(v)) for k, v in labels.items()))
    expressions = []
    for i, raw in enumerate(_list(obj.get("matchExpressions"), f"{where}.matchExpressions")):
        expressions.append(_compile_expression(raw, f"{where}.matchExpressions[{i}]"))
    return Selector(match_labels, tuple(expressions))


def _compile_expression(raw: object, where: str) -> tuple[str, str, frozenset[str]]:
    raw = _mapping(raw, where)
    key, op = raw.get("key"), raw.get("operator")
    if not isinstance(key, str) or not key:
        raise _fail(where, "needs a key")
    if op not in _OPERATORS:
        raise _fail(where, f"operator must be one of {', '.join(_OPERATORS)}, not {op!r}")
    values = frozenset(_label_value(v) for v in _list(raw.get("values"), f"{where}.values"))
    if op in ("In", "NotIn") and not values:
        raise _fail(where, f"operator {op} needs at least one value")
    if op in ("Exists", "DoesNotExist") and values:
        raise _fail(where, f"operator {op} takes no values")
    return key, op, values


def _parse_ip(text: str) -> tuple[int, int]:
    """(version, integer) of an address; IPv4-mapped IPv6 counts as IPv4, as in Go's net.IP."""
    ip = ipaddress.ip_address(text)
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.version, int(ip)


def _network(text: object, where: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if not isinstance(text, str):
        raise _fail(where, "must be a CIDR string")
    try:
        # Host bits are tolerated, as the API server long did (ParseCIDRSloppy).
        net = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise _fail(where, f"{text!r} is not a CIDR") from None
    mapped = net.network_address.ipv4_mapped if net.version == 6 else None
    if mapped is not None and net.prefixlen >= 96:
        # Go's IPNet.Contains treats ::ffff:a.b.c.d/96+n as a.b.c.d/n; so do addresses (_parse_ip).
        net = ipaddress.ip_network(f"{mapped}/{net.prefixlen - 96}", strict=False)
    return net


def _compile_ip_block(obj: object, where: str) -> IPBlock:
    obj = _mapping(obj, where)
    net = _network(obj.get("cidr"), f"{where}.cidr")
    excepts = []
    for i, text in enumerate(_list(obj.get("except"), f"{where}.except")):
        ex = _network(text, f"{where}.except[{i}]")
        excepts.append((ex.version, int(ex.network_address), int(ex.broadcast_address)))
    return IPBlock(net.version, int(net.network_address), int(net.broadcast_address), tuple(excepts))


def _compile_peer(obj: object, where: str) -> Peer:
    # The peer's fields are pointers in Go: an explicit null is the same as absent.
    obj = {k: v for k, v in _mapping(obj, where).items() if v is not None}
    present = [k for k in ("podSelector", "namespaceSelector", "ipBlock") if k in obj]
    if not present:
        raise _fail(where, "a peer must set podSelector, namespaceSelector or ipBlock")
    if "ipBlock" in present:
        if len(present) > 1:
            raise _fail(where, "ipBlock cannot be combined with podSelector or namespaceSelector")
        return Peer(ip_block=_compile_ip_block(obj["ipBlock"], f"{where}.ipBlock"))
    pods = _compile_selector(obj["podSelector"], f"{where}.podSelector") if "podSelector" in obj else None
    namespaces = (
        _compile_selector(obj["namespaceSelector"], f"{where}.namespaceSelector") if "namespaceSelector" in obj else None
    )
    return Peer(pod_selector=pods, namespace_selector=namespaces)


def _compile_port(obj: object, where: str) -> PortSpec:
    obj = _mapping(obj, where)
    protocol = obj.get("protocol") or "TCP"
    if protocol not in PROTOCOLS:
        raise _fail(where, f"protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
    port = obj.get("port")
    end_port = obj.get("endPort")
    if isinstance(port, bool) or not (port is None or isinstance(port, (int, str))):
        raise _fail(where, f"port must be a number or a name, not {port!r}")
    if isinstance(port, int) and not 1 <= port <= 65535:
        raise _fail(where, f"port {port} is outside 1-65535")
    if isinstance(port, str) and not port:
        raise _fail(where, "port name is empty")
    # A string stays a name even if it looks like a number: IntOrString decodes
    # a JSON string as a string, and Kubernetes then treats it as a port name.
    if end_port is not None:
        if isinstance(end_port, bool) or not isinstance(end_port, int):
            raise _fail(where, "endPort must be a number")
        if not isinstance(port, int):
            raise _fail(where, "endPort needs a numeric port")
        if end_port < port:
            raise _fail(where, f"endPort {end_port} is below port {port}")
    return PortSpec(protocol, port, end_port)


def _compile_rule(obj: object, direction: str, number: int, counter: _RuleCounter, where: str) -> Rule:
    obj = _mapping(obj, where)  # a null rule decodes to the empty rule
    peer_key = "from" if direction == "ingress" else "to"
    raw_peers = _list(obj.get(peer_key), f"{where}.{peer_key}")
    raw_ports = _list(obj.get("ports"), f"{where}.ports")
    peers = tuple(_compile_peer(p, f"{where}.{peer_key}[{i}]") for i, p in enumerate(raw_peers)) or None
    ports = tuple(_compile_port(p, f"{where}.ports[{i}]") for i, p in enumerate(raw_ports)) or None
    return counter.add(direction, number, peers, ports)


def _policy_types(spec: dict, where: str) -> set[str]:
    types = _list(spec.get("policyTypes"), f"{where}: spec.policyTypes")
    for t in types:
        if t not in ("Ingress", "Egress"):
            raise _fail(where, f"spec.policyTypes: unknown type {t!r} (Ingress or Egress)")
    if types:
        return set(types)
    # API server defaulting: Ingress always, Egress only if there is an egress rule.
    return {"Ingress", "Egress"} if _list(spec.get("egress"), f"{where}: spec.egress") else {"Ingress"}


def _compile_policy(obj: dict, counter: _RuleCounter) -> Policy:
    meta = _mapping(obj.get("metadata"), "NetworkPolicy metadata")
    name = str(meta.get("name") or "<unnamed>")
    namespace = str(meta.get("namespace") or "default")
    where = f"NetworkPolicy {namespace}/{name}"
    spec = _mapping(obj.get("spec"), f"{where}: spec")
    types = _policy_types(spec, where)
    selector = _compile_selector(spec.get("podSelector"), f"{where}: spec.podSelector")
    directions = {}
    for direction, key in (("ingress", "Ingress"), ("egress", "Egress")):
        raw = _list(spec.get(direction), f"{where}: spec.{direction}")
        # Rules of a type the policy does not have are still validated, never used.
        target = counter if key in types else _RuleCounter()
        rules = tuple(
            _compile_rule(r, direction, i + 1, target, f"{where}: spec.{direction}[{i}]") for i, r in enumerate(raw)
        )
        directions[direction] = rules if key in types else None
    return Policy(namespace, name, selector, directions["ingress"], directions["egress"])


# --------------------------------------------------------------------------
# Endpoints as the evaluator sees them
# --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Facts:
    """What NetworkPolicy can observe about an endpoint."""

    name: str
    pod: bool
    namespace: str | None
    ns_labels: Mapping[str, str]
    labels: Mapping[str, str]
    ip: tuple[int, int] | None
    ports: tuple[ContainerPort, ...] | None  # None outside the cluster
    label_key: tuple[str, frozenset] = ("", frozenset())  # what selectors can see


# --------------------------------------------------------------------------
# The evaluator
# --------------------------------------------------------------------------


class K8sEvaluator:
    """Answers "does Kubernetes allow src -> dst on port/protocol?"."""

    def __init__(self, policies: list[dict], cluster: Cluster):
        counter = _RuleCounter()
        self.policies: list[Policy] = [_compile_policy(p, counter) for p in policies]
        self.rules: dict[str, list[Rule]] = counter.rules
        self.cluster = cluster
        self._facts_cache: dict[object, _Facts] = {}
        self._selecting_cache: dict[tuple, tuple[Policy, ...]] = {}
        self._named_ports = frozenset(
            spec.port
            for bucket in self.rules.values()
            for rule in bucket
            for spec in rule.ports or ()
            if isinstance(spec.port, str)
        )

    # ---- facts --------------------------------------------------------

    def _ns_labels(self, namespace: str) -> Mapping[str, str]:
        ns = self.cluster.namespaces.get(namespace)
        return ns.labels if ns is not None else {NAME_LABEL: namespace}

    def _facts(self, ep: Endpoint) -> _Facts:
        facts = self._facts_cache.get(ep)
        if facts is None:
            facts = self._make_facts(ep)
            self._facts_cache[ep] = facts
        return facts

    def _make_facts(self, ep: Endpoint) -> _Facts:
        ip = _parse_ip(ep.ip) if ep.ip else None
        if isinstance(ep, Pod):
            labels = dict(ep.labels)
            key = (ep.namespace, frozenset(labels.items()))
            return _Facts(ep.key, True, ep.namespace, self._ns_labels(ep.namespace), labels, ip, tuple(ep.ports), key)
        return _Facts(ep.key, False, None, {}, {}, ip, None)

    # ---- the direct (reference) path ------------------------------------

    def _selecting(self, facts: _Facts, direction: str) -> tuple[Policy, ...]:
        """Policies of this direction's type that select the pod."""
        if not facts.pod:
            return ()
        key = (facts.label_key, direction)
        found = self._selecting_cache.get(key)
        if found is None:
            found = tuple(
                p
                for p in self.policies
                if p.rules(direction) is not None and p.namespace == facts.namespace and p.selector.matches(facts.labels)
            )
            self._selecting_cache[key] = found
        return found

    @staticmethod
    def _peer_matches(peer: Peer, policy_ns: str, facts: _Facts) -> bool:
        if peer.ip_block is not None:
            return peer.ip_block.contains(facts.ip)
        if not facts.pod:
            return False
        if peer.namespace_selector is None:
            ns_ok = facts.namespace == policy_ns
        else:
            ns_ok = peer.namespace_selector.matches(facts.ns_labels)
        return ns_ok and (peer.pod_selector is None or peer.pod_selector.matches(facts.labels))

    def _rule_admits(self, rule: Rule, policy: Policy, peer: _Facts, dst: _Facts, port: int, protocol: str) -> bool:
        if rule.peers is not None and not any(self._peer_matches(p, policy.namespace, peer) for p in rule.peers):
            return False
        return rule.ports is None or any(s.matches(port, protocol, dst.ports) for s in rule.ports)

    def _side(self, direction: str, src: _Facts, dst: _Facts, port: int, protocol: str):
        """(isolating policies, admitting (policy, rule) or None) for one side."""
        own, peer = (dst, src) if direction == "ingress" else (src, dst)
        policies = self._selecting(own, direction)
        for policy in policies:
            for rule in policy.rules(direction) or ():
                if self._rule_admits(rule, policy, peer, dst, port, protocol):
                    return policies, (policy, rule)
        return policies, None

    def allowed(self, src: Endpoint, dst: Endpoint, port: int, protocol: str) -> bool:
        """Whether Kubernetes allows a connection from src to dst on port/protocol."""
        s, d = self._facts(src), self._facts(dst)
        for direction in ("egress", "ingress"):
            policies, admitted = self._side(direction, s, d, port, protocol)
            if policies and admitted is None:
                return False
        return True

    def why(self, src: Endpoint, dst: Endpoint, port: int, protocol: str) -> str:
        """A one-line explanation of :meth:`allowed`, naming policies and rules."""
        s, d = self._facts(src), self._facts(dst)
        verdicts, failures = [], []
        for direction, own, other, role in (("egress", s, d, "src"), ("ingress", d, s, "dst")):
            policies, admitted = self._side(direction, s, d, port, protocol)
            if not own.pod:
                verdicts.append(f"{direction} allowed: {role} is outside the cluster")
            elif not policies:
                verdicts.append(f"{direction} allowed: {role} not {direction}-isolated")
            elif admitted is not None:
                policy, rule = admitted
                verdicts.append(f"{direction} allowed by NetworkPolicy {policy.key} {direction} rule #{rule.number}")
            else:
                names = ", ".join(p.key for p in policies)
                failures.append(
                    f"{role} {own.name} is {direction}-isolated by {names} "
                    f"and no {direction} rule admits {other.name} on {port}/{protocol}"
                )
        if failures:
            return "denied: " + "; ".join(failures)
        return "; ".join(verdicts)

    # ---- the grid path ------------------------------------------------

    def matrix(
        self, sources: Sequence[Endpoint], destinations: Sequence[Endpoint], ports: Sequence[PortKey]
    ) -> "ReachMatrix":
        """Every answer of :meth:`allowed` for sources x destinations x ports.

        The result is a :class:`ReachMatrix`; ``m[(port, protocol)][i][j]``
        is ``allowed(sources[i], destinations[j], port, protocol)``.
        """
        return _GridBuilder(self, list(sources), list(destinations), [(int(p), str(q)) for p, q in ports]).build()


# --------------------------------------------------------------------------
# Grid evaluation
# --------------------------------------------------------------------------


class ReachMatrix:
    """Answers for sources x destinations x ports, stored by equivalence class.

    Endpoints that no policy can tell apart share a class; the answer table
    is kept per (source class, destination class).  Access:

    * ``m.allowed(i, j, port_key)`` -- one answer, by index.
    * ``m[port_key]`` -- a list with one row per source, each row a tuple of
      bools over destinations.  Rows of sources in the same class are the
      *same* tuple object (so a 10,000 x 10,000 grid stays small).
    * ``m.count_allowed(port_key)`` -- number of allowed pairs.
    * ``m.to_lists()`` -- ``{port_key: [[bool, ...], ...]}``, fully expanded.
    """

    def __init__(self, sources, destinations, ports, src_class, dst_class, tables):
        self.sources: list[Endpoint] = sources
        self.destinations: list[Endpoint] = destinations
        self.ports: list[PortKey] = ports
        self.src_class: list[int] = src_class  # source index -> source class
        self.dst_class: dict[PortKey, list[int]] = dst_class  # per port: destination index -> class
        self.tables: dict[PortKey, list[tuple[bool, ...]]] = tables  # per port: [src class][dst class]
        self._rows: dict[PortKey, list[tuple[bool, ...]]] = {}

    def allowed(self, i: int, j: int, port: PortKey) -> bool:
        return self.tables[port][self.src_class[i]][self.dst_class[port][j]]

    def __getitem__(self, port: PortKey) -> list[tuple[bool, ...]]:
        rows = self._rows.get(port)
        if rows is None:
            rows = self._expand(port)
            self._rows[port] = rows
        return rows

    def _expand(self, port: PortKey) -> list[tuple[bool, ...]]:
        columns = self.dst_class[port]
        pick = _picker(columns)
        by_class = [pick(row) for row in self.tables[port]]
        return [by_class[c] for c in self.src_class]

    def count_allowed(self, port: PortKey) -> int:
        dst_sizes: dict[int, int] = {}
        for c in self.dst_class[port]:
            dst_sizes[c] = dst_sizes.get(c, 0) + 1
        src_sizes: dict[int, int] = {}
        for c in self.src_class:
            src_sizes[c] = src_sizes.get(c, 0) + 1
        table = self.tables[port]
        return sum(
            n * sum(m for dc, m in dst_sizes.items() if table[sc][dc]) for sc, n in src_sizes.items()
        )

    def to_lists(self) -> dict[PortKey, list[list[bool]]]:
        return {port: [list(row) for row in self[port]] for port in self.ports}


def _picker(indices: list[int]):
    """A function mapping a class row to a per-endpoint tuple (C speed via itemgetter)."""
    if not indices:
        return lambda row: ()
    if len(indices) == 1:
        only = indices[0]
        return lambda row: (row[only],)
    return itemgetter(*indices)


@dataclass
class _Description:
    """An endpoint reduced to rule masks.  ``sel_*`` is None when the endpoint
    is not isolated in that direction, else the mask of rules that apply to it;
    ``peer_*`` is the mask of rules whose from/to lists match it."""

    sel_in: int | None
    sel_eg: int | None
    peer_in: int
    peer_eg: int
    port_sig: tuple | None


class _GridBuilder:
    """Builds a ReachMatrix with work proportional to distinct label sets,
    selectors and IP blocks, not to pods x pods x policies."""

    def __init__(self, ev: K8sEvaluator, sources, destinations, ports):
        self.ev = ev
        self.sources, self.destinations, self.ports = sources, destinations, ports
        self.rules = ev.rules
        self.facts: dict[int, _Facts] = {}  # id(endpoint) -> facts
        for ep in (*sources, *destinations):
            self.facts.setdefault(id(ep), ev._facts(ep))
        self._label_classes()

    # ---- label classes -----------------------------------------------

    def _label_classes(self) -> None:
        """Number the distinct (namespace, labels) pairs and index them by label."""
        self.class_of: dict[tuple, int] = {}
        self.class_labels: list[Mapping[str, str]] = []
        self.ns_classes: dict[str, set[int]] = {}
        self.by_label: dict[tuple[str, str], set[int]] = {}
        for f in self.facts.values():
            if not f.pod or f.label_key in self.class_of:
                continue
            c = len(self.class_labels)
            self.class_of[f.label_key] = c
            self.class_labels.append(f.labels)
            self.ns_classes.setdefault(f.namespace, set()).add(c)
            for kv in f.labels.items():
                self.by_label.setdefault(kv, set()).add(c)
        self.all_classes = set(range(len(self.class_labels)))
        self._selector_cache: dict[Selector, set[int]] = {}
        self._ns_cache: dict[Selector, set[int]] = {}

    def _pods_matching(self, selector: Selector) -> set[int]:
        """Label classes (any namespace) whose pod labels match the selector."""
        found = self._selector_cache.get(selector)
        if found is None:
            if selector.match_labels:
                sets = sorted((self.by_label.get(kv, set()) for kv in selector.match_labels), key=len)
                found = set(sets[0]).intersection(*sets[1:])
            else:
                found = set(self.all_classes)
            if selector.expressions:
                found = {c for c in found if all(_expression_holds(e, self.class_labels[c]) for e in selector.expressions)}
            self._selector_cache[selector] = found
        return found

    def _namespaces_matching(self, selector: Selector) -> set[int]:
        """Label classes living in namespaces whose labels match the selector."""
        found = self._ns_cache.get(selector)
        if found is None:
            found = set()
            for ns, classes in self.ns_classes.items():
                if selector.matches(self.ev._ns_labels(ns)):
                    found |= classes
            self._ns_cache[selector] = found
        return found

    def _peer_classes(self, peer: Peer, policy_ns: str) -> set[int]:
        if peer.namespace_selector is None:
            in_ns = self.ns_classes.get(policy_ns, set())
        else:
            in_ns = self._namespaces_matching(peer.namespace_selector)
        if peer.pod_selector is None:
            return in_ns
        return in_ns & self._pods_matching(peer.pod_selector)

    # ---- masks per label class and per IP ---------------------------------

    def _selection_masks(self, direction: str) -> dict[int, int]:
        """Label class -> mask of the rules of policies (of this type) selecting it."""
        masks: dict[int, int] = {}
        for policy in self.ev.policies:
            if policy.rules(direction) is None:
                continue
            mask = policy.mask(direction)
            for c in self.ns_classes.get(policy.namespace, set()) & self._pods_matching(policy.selector):
                masks[c] = masks.get(c, 0) | mask
        return masks

    def _peer_masks(self, direction: str):
        """(label class -> mask, ip -> mask, mask matching everyone) for the
        rules' from/to lists.  Rules sharing a peer are handled together."""
        by_peer: dict[tuple, int] = {}
        by_block: dict[IPBlock, int] = {}
        everyone = 0
        policy_of = self._policy_of_rule(direction)
        for rule in self.rules[direction]:
            if rule.peers is None:
                everyone |= rule.bit
                continue
            for peer in rule.peers:
                if peer.ip_block is not None:
                    by_block[peer.ip_block] = by_block.get(peer.ip_block, 0) | rule.bit
                else:
                    key = (peer, policy_of[rule.index] if peer.namespace_selector is None else None)
                    by_peer[key] = by_peer.get(key, 0) | rule.bit
        classes: dict[int, int] = {}
        for (peer, ns), mask in by_peer.items():
            for c in self._peer_classes(peer, ns):
                classes[c] = classes.get(c, 0) | mask
        return classes, self._ip_masks(by_block), everyone

    def _policy_of_rule(self, direction: str) -> dict[int, str]:
        return {rule.index: p.namespace for p in self.ev.policies for rule in p.rules(direction) or ()}

    def _ip_masks(self, by_block: dict[IPBlock, int]) -> dict[tuple[int, int], int]:
        """IP -> mask, found by range search over the sorted distinct IPs."""
        ips = sorted({f.ip for f in self.facts.values() if f.ip is not None})
        masks: dict[tuple[int, int], int] = {}
        for block, mask in by_block.items():
            lo = bisect.bisect_left(ips, (block.version, block.first))
            hi = bisect.bisect_right(ips, (block.version, block.last))
            for ip in ips[lo:hi]:
                if block.contains(ip):
                    masks[ip] = masks.get(ip, 0) | mask
        return masks

    # ---- descriptions ------------------------------------------------

    def _describe_all(self) -> dict[int, _Description]:
        sel_in, sel_eg = self._selection_masks("ingress"), self._selection_masks("egress")
        cls_in, ip_in, all_in = self._peer_masks("ingress")
        cls_eg, ip_eg, all_eg = self._peer_masks("egress")
        out = {}
        for key, f in self.facts.items():
            c = self.class_of.get(f.label_key) if f.pod else None
            out[key] = _Description(
                sel_in=sel_in.get(c) if c is not None else None,
                sel_eg=sel_eg.get(c) if c is not None else None,
                peer_in=cls_in.get(c, 0) | ip_in.get(f.ip, 0) | all_in,
                peer_eg=cls_eg.get(c, 0) | ip_eg.get(f.ip, 0) | all_eg,
                port_sig=self._port_sig(f),
            )
        return out

    def _port_sig(self, f: _Facts) -> tuple | None:
        """The container ports that named-port rules could look at."""
        if f.ports is None:
            return None
        return tuple(sorted((p.name, p.protocol, p.port) for p in f.ports if p.name in self.ev._named_ports))

    def _port_masks(self, direction: str, probe: PortKey, sigs: Iterable[tuple | None]) -> dict:
        """Port signature -> mask of rules whose ports admit the probe there."""
        port, protocol = probe
        out = {}
        for sig in set(sigs):
            dst_ports = None if sig is None else tuple(ContainerPort(n, q, name) for name, q, n in sig)
            mask = 0
            for rule in self.rules[direction]:
                if rule.ports is None or any(s.matches(port, protocol, dst_ports) for s in rule.ports):
                    mask |= rule.bit
            out[sig] = mask
        return out

    # ---- the grid ----------------------------------------------------

    def build(self) -> ReachMatrix:
        desc = self._describe_all()
        src_desc = [desc[id(ep)] for ep in self.sources]
        dst_desc = [desc[id(ep)] for ep in self.destinations]
        # A source is characterised by its egress selection and by which
        # ingress rules' from-lists it matches.
        src_keys: dict[tuple, int] = {}
        src_class = [src_keys.setdefault((d.sel_eg, d.peer_in), len(src_keys)) for d in src_desc]
        src_list = list(src_keys)
        sigs = [d.port_sig for d in dst_desc]
        tables, dst_class = {}, {}
        for probe in self.ports:
            ports_in = self._port_masks("ingress", probe, sigs)
            ports_eg = self._port_masks("egress", probe, sigs)
            dst_keys: dict[tuple, int] = {}
            classes = []
            for d in dst_desc:
                admitted_eg = d.peer_eg & ports_eg[d.port_sig]  # egress rules that would let traffic reach d
                admitting_in = None if d.sel_in is None else d.sel_in & ports_in[d.port_sig]
                classes.append(dst_keys.setdefault((admitted_eg, admitting_in), len(dst_keys)))
            dst_class[probe] = classes
            tables[probe] = _decide(src_list, list(dst_keys))
        return ReachMatrix(self.sources, self.destinations, self.ports, src_class, dst_class, tables)


def _decide(src_keys: list[tuple], dst_keys: list[tuple]) -> list[tuple[bool, ...]]:
    """The class table.  Egress and ingress are decided separately on their
    own (smaller) sets of distinct masks, then combined cell by cell."""
    eg_src = dict.fromkeys(a for a, _ in src_keys)
    in_src = dict.fromkeys(b for _, b in src_keys)
    eg_dst = list(dict.fromkeys(k for k, _ in dst_keys))
    in_dst = list(dict.fromkeys(m for _, m in dst_keys))
    eg_col = {k: i for i, k in enumerate(eg_dst)}
    in_col = {m: i for i, m in enumerate(in_dst)}
    # a: egress rules applying to the source (None: not isolated); k: egress rules reaching the destination.
    egress = {a: [a is None or (a & k) != 0 for k in eg_dst] for a in eg_src}
    # m: ingress rules of the destination admitting this port (None: not isolated); b: rules the source matches.
    ingress = {b: [m is None or (m & b) != 0 for m in in_dst] for b in in_src}
    eg_pick = _picker([eg_col[k] for k, _ in dst_keys])
    in_pick = _picker([in_col[m] for _, m in dst_keys])
    table = []
    for a, b in src_keys:
        table.append(tuple(e and i for e, i in zip(eg_pick(egress[a]), in_pick(ingress[b]))))
    return table
