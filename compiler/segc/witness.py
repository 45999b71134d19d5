"""Witness clusters: a small cluster state built from the words of the policies.

`segc test` (without ``--cluster``) and the symbolic `segc diff` need a
cluster to evaluate on. A witness cluster holds, for the selectors, names
and address blocks of one or more sides (programs or NetworkPolicy sets),
representative namespaces, pods and outside addresses (a program's words
are those of its allows, its denies and its expectations). docs/testing.md
("The witness cluster") states the construction; this module follows it:

* **Namespaces**: every namespace named anywhere (managed namespaces,
  ``NS/...`` parts, policy namespaces, ``kubernetes.io/metadata.name``
  values), with no labels but their name label; for each namespace label
  expression, a fresh namespace ``witness-N`` whose labels satisfy it (or,
  when the expression names namespaces, those named namespaces get the
  labels); for each namespace label key and value mentioned, a fresh
  namespace carrying just that label; and ``witness-other``, labelled with
  nothing.
* **Pods**, in every witness namespace, one per distinct label set among: a
  pod satisfying each pod label expression whose namespace part can choose
  that namespace; a pod satisfying each pair of them at once (when the
  pair is satisfiable and there are at most ``PAIR_LIMIT`` expressions);
  one pod per label key and value mentioned (``env=dev`` for ``env!=dev``);
  and one pod with no labels. Every witness pod carries every named port
  the policies mention, each with its own synthetic number, and has no IP
  address (so address blocks never cover witness pods).
* **Outside addresses**: the first address of every region of the address
  space that the blocks and their ``except`` blocks cut out (one address
  per distinct membership), plus one IPv4 address outside every block when
  there is one.
* **Ports**: the port numbers are cut into intervals at every range bound
  and every named-port number, per protocol; one probe per interval
  answers for the whole interval (no rule can tell its ports apart).

Every witness is a real cluster state, so whatever a witness shows is true
of some cluster. The converse is the limit: a behaviour that needs a pod
matching three or more of the expressions at once, or a namespace with a
combination of labels no single expression asks for, is not examined.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from itertools import combinations

from . import ir
from .cluster import NAME_LABEL, Cluster, ContainerPort, External, Namespace, Pod

PAIR_LIMIT = 24
PROTOCOLS = ("TCP", "UDP", "SCTP")
MAX_PORT = 65535

# A requirement in a neutral form both sides map to: (key, op, values).
Req = tuple[str, str, tuple[str, ...]]
Reqs = tuple[Req, ...]


@dataclass(frozen=True)
class NsScope:
    """Which namespaces a pod part applies in: one by name, all, or by labels."""

    kind: str  # "name" | "all" | "labels"
    name: str = ""
    reqs: Reqs = ()

    def chooses(self, ns: Namespace) -> bool:
        if self.kind == "name":
            return ns.name == self.name
        if self.kind == "all":
            return True
        return _matches(self.reqs, ns.labels)


@dataclass
class Vocabulary:
    """The words of one or more sides that a witness must exercise."""

    namespaces: set[str] = field(default_factory=set)
    ns_exprs: set[Reqs] = field(default_factory=set)
    pod_exprs: set[tuple[NsScope, Reqs]] = field(default_factory=set)
    intervals: set[tuple[int, int, int]] = field(default_factory=set)  # (ip version, first, last)
    port_ranges: set[tuple[str, int, int]] = field(default_factory=set)  # (protocol, start, end)
    named_ports: set[tuple[str, str]] = field(default_factory=set)  # (name, protocol)

    def update(self, other: "Vocabulary") -> "Vocabulary":
        for name in ("namespaces", "ns_exprs", "pod_exprs", "intervals", "port_ranges", "named_ports"):
            getattr(self, name).update(getattr(other, name))
        return self


# ------------------------------------------------------------ vocabularies


def _ir_reqs(sel: ir.Selector) -> Reqs:
    return tuple((r.key, r.op, tuple(r.values)) for r in sel.requirements)


def _ir_scope(ns: ir.NsSelector) -> NsScope:
    if isinstance(ns, ir.NsNamed):
        return NsScope("name", ns.name)
    if isinstance(ns, ir.NsAll):
        return NsScope("all")
    return NsScope("labels", reqs=_ir_reqs(ns.selector))


def _add_network(v: Vocabulary, net) -> None:
    v.intervals.add((net.version, int(net.network_address), int(net.broadcast_address)))


def _add_ir_peer(v: Vocabulary, peer: ir.Peer) -> None:
    if isinstance(peer, ir.BlockPeer):
        for net in (peer.net, *peer.excepts):
            _add_network(v, net)
        return
    scope = _ir_scope(peer.ns)
    v.pod_exprs.add((scope, _ir_reqs(peer.pods)))
    if scope.kind == "name":
        v.namespaces.add(scope.name)
    elif scope.kind == "labels":
        v.ns_exprs.add(scope.reqs)


def _add_ir_ports(v: Vocabulary, ports: ir.Ports) -> None:
    for p in ports or ():
        if p.name:
            v.named_ports.add((p.name, p.protocol))
        else:
            v.port_ranges.add((p.protocol, p.start, p.end))


def from_program(program: ir.Program, with_expects: bool = True) -> Vocabulary:
    v = Vocabulary()
    v.namespaces |= set(program.managed)
    v.namespaces |= {d.namespace for d in program.deny_alls}
    for d in program.deny_alls:
        v.pod_exprs.add((NsScope("name", d.namespace), ()))
    # Denies cut shapes out of what allows grant: their selectors, blocks and
    # ports need pods, addresses and port intervals on both sides of the cut.
    items = list(program.allows) + list(program.denies) + (list(program.expects) if with_expects else [])
    for a in items:
        _add_ir_peer(v, a.src)
        _add_ir_peer(v, a.dst)
        _add_ir_ports(v, a.ports)
    return v


def _k8s_reqs(sel) -> Reqs:
    reqs = [(k, "In", (val,)) for k, val in sel.match_labels]
    reqs += [(k, op, tuple(sorted(vals))) for k, op, vals in sel.expressions]
    return tuple(sorted(reqs))


def from_policies(policies: list[dict]) -> Vocabulary:
    """The words of NetworkPolicy objects (already validated)."""
    from .k8s_eval import K8sEvaluator

    v = Vocabulary()
    for pol in K8sEvaluator(policies, Cluster()).policies:
        v.namespaces.add(pol.namespace)
        v.pod_exprs.add((NsScope("name", pol.namespace), _k8s_reqs(pol.selector)))
        for rule in (*(pol.ingress or ()), *(pol.egress or ())):
            for peer in rule.peers or ():
                if peer.ip_block is not None:
                    b = peer.ip_block
                    v.intervals.add((b.version, b.first, b.last))
                    v.intervals.update(peer.ip_block.excepts)
                    continue
                if peer.namespace_selector is None:
                    scope = NsScope("name", pol.namespace)
                else:
                    reqs = _k8s_reqs(peer.namespace_selector)
                    scope = NsScope("labels", reqs=reqs) if reqs else NsScope("all")
                    if reqs:
                        v.ns_exprs.add(reqs)
                pods = _k8s_reqs(peer.pod_selector) if peer.pod_selector is not None else ()
                v.pod_exprs.add((scope, pods))
            for spec in rule.ports or ():
                if isinstance(spec.port, str):
                    v.named_ports.add((spec.port, spec.protocol))
                elif spec.port is not None:
                    v.port_ranges.add((spec.protocol, spec.port, spec.end_port or spec.port))
    for reqs in v.ns_exprs:
        for key, op, values in reqs:
            if key == NAME_LABEL and op == "In":
                v.namespaces.update(values)
    return v


# ------------------------------------------------------------ label algebra


def _matches(reqs: Reqs, labels) -> bool:
    for key, op, values in reqs:
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _values_of(reqs: Reqs) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, _op, values in reqs:
        seen = out.setdefault(key, [])
        seen.extend(v for v in values if v not in seen)
    return out


def satisfy(reqs: Reqs) -> dict[str, str] | None:
    """The smallest label set meeting every requirement, or None when none can.

    Per key: absent if allowed, else the first value any In lists, else the
    first value mentioned that meets every requirement, else a fresh one.
    """
    labels: dict[str, str] = {}
    for key, candidates in sorted(_values_of(reqs).items()):
        mine = tuple(r for r in reqs if r[0] == key)
        ins = [v for r in mine if r[1] == "In" for v in r[2]]
        options: list[str | None] = [None, *ins, *candidates, _fresh(candidates)]
        for value in options:
            trial = {} if value is None else {key: value}
            if _matches(mine, trial):
                if value is not None:
                    labels[key] = value
                break
        else:
            return None
    return labels


def _fresh(taken: list[str]) -> str:
    i = 0
    while f"other{i or ''}" in taken:
        i += 1
    return f"other{i or ''}"


# ------------------------------------------------------------ the witness


@dataclass(frozen=True)
class PortInterval:
    protocol: str
    start: int
    end: int
    name: str = ""  # a named port whose synthetic number this interval is

    @property
    def probe(self) -> tuple[int, str]:
        return self.start, self.protocol

    def describe(self) -> str:
        if self.name:
            return f"{self.protocol} port named {self.name}"
        if self.start == self.end:
            return f"{self.protocol} {self.start}"
        if self.start == 1 and self.end == MAX_PORT:
            return f"{self.protocol} every port"
        return f"{self.protocol} {self.start}-{self.end}"


@dataclass
class Witness:
    cluster: Cluster
    ports: list[PortInterval]
    blocks: list  # ipaddress networks, for describing outside addresses
    made_up: frozenset[str] = frozenset()  # namespaces invented for label expressions

    def describe(self, ep) -> str:
        return describe_endpoint(ep, self.cluster, self.blocks, self.made_up)


def _synthetic_numbers(v: Vocabulary) -> dict[tuple[str, str], int]:
    """A number per named port, outside every numeric range and unused by any other."""
    taken = {(p, n) for p, a, b in v.port_ranges for n in (a, b, b + 1)}
    out: dict[tuple[str, str], int] = {}
    candidate = MAX_PORT - 1
    for name, proto in sorted(v.named_ports):
        while candidate > 1 and (
            any(p == proto and a <= candidate <= b for p, a, b in v.port_ranges)
            or (proto, candidate) in taken
            or (proto, candidate + 1) in taken
            or candidate in out.values()
        ):
            candidate -= 1
        out[(name, proto)] = candidate
        candidate -= 2
    return out


def port_intervals(ranges, points: dict[tuple[str, int], str] | None = None) -> list[PortInterval]:
    """Cut 1-65535 per protocol at every range bound and around every point."""
    points = points or {}
    out = []
    for proto in PROTOCOLS:
        cuts = {1, MAX_PORT + 1}
        for p, a, b in ranges:
            if p == proto:
                cuts |= {a, b + 1}
        for p, n in points:
            if p == proto:
                cuts |= {n, n + 1}
        bounds = sorted(cuts)
        for a, b in zip(bounds, bounds[1:]):
            name = points.get((proto, a), "") if b == a + 1 else ""
            out.append(PortInterval(proto, a, b - 1, name))
    return out


def external_addresses(intervals: set[tuple[int, int, int]]) -> list[str]:
    """One address per distinct membership in the blocks (first address of each region)."""
    out = []
    for version in sorted({i[0] for i in intervals} | {4}):
        top = (1 << (32 if version == 4 else 128)) - 1
        mine = [(a, b) for ver, a, b in intervals if ver == version]
        starts = sorted({0, *(a for a, _ in mine), *(b + 1 for _, b in mine if b < top)})
        seen = set()
        for s in starts:
            signature = tuple(a <= s <= b for a, b in mine)
            if signature in seen:
                continue
            seen.add(signature)
            if s == 0 and tuple(a <= 1 <= b for a, b in mine) == signature:
                s = 1  # `0.0.0.0` reads like "no address"; 0.0.0.1 is in the same region
            out.append(str(ipaddress.ip_address(s) if version == 4 else ipaddress.IPv6Address(s)))
    return out


def _ns_name(i: int, taken: set[str]) -> str:
    while f"witness-{i}" in taken:
        i += 1
    return f"witness-{i}"


def build(v: Vocabulary, pair_limit: int = PAIR_LIMIT) -> Witness:
    cluster = Cluster()
    extra: dict[str, dict[str, str]] = {n: {} for n in v.namespaces}
    label_sets: list[dict[str, str]] = []
    for reqs in sorted(v.ns_exprs):
        labels = satisfy(tuple(r for r in reqs if r[0] != NAME_LABEL))
        if labels is None:
            continue
        names = [r[2] for r in reqs if r[0] == NAME_LABEL and r[1] == "In"]
        if names:
            for n in set(names[0]).intersection(*map(set, names[1:])):
                if n in extra and all(extra[n].get(k, val) == val for k, val in labels.items()):
                    extra[n].update(labels)
            continue
        label_sets.append(labels)
    for key, values in sorted(_values_of(tuple(r for reqs in v.ns_exprs for r in reqs if r[0] != NAME_LABEL)).items()):
        for value in values:
            label_sets.append({key: value})
    for name in sorted(extra):
        cluster.namespaces[name] = Namespace(name, extra[name])
    taken = set(extra)
    seen_sets: list[dict[str, str]] = []
    i = 1
    for labels in [*label_sets, {}]:
        if labels in seen_sets:
            continue
        seen_sets.append(labels)
        name = _ns_name(i, taken) if labels else "witness-other" if "witness-other" not in taken else _ns_name(i, taken)
        taken.add(name)
        cluster.namespaces[name] = Namespace(name, labels)
        i += 1
    numbers = _synthetic_numbers(v)
    ports = tuple(ContainerPort(n, proto, name) for (name, proto), n in sorted(numbers.items()))
    for ns in cluster.namespaces.values():
        exprs = sorted({reqs for scope, reqs in v.pod_exprs if scope.chooses(ns)})
        shapes: list[dict[str, str]] = []
        for reqs in exprs:
            shapes.append(satisfy(reqs))
        if len(exprs) <= pair_limit:
            for a, b in combinations(exprs, 2):
                shapes.append(satisfy(tuple(sorted(set(a) | set(b)))))
        for key, values in sorted(_values_of(tuple(r for reqs in exprs for r in reqs)).items()):
            shapes += [{key: value} for value in values]
        shapes.append({})
        unique: list[dict[str, str]] = []
        for s in shapes:
            if s is not None and s not in unique:
                unique.append(s)
        for n, labels in enumerate(unique):
            cluster.pods.append(Pod(ns.name, f"pod-{n}", labels, None, ports))
    for ip in external_addresses(v.intervals):
        cluster.externals.append(External(ip))
    blocks = sorted({_network(i) for i in v.intervals}, key=lambda n: (n.version, int(n.network_address), n.prefixlen))
    named = {(proto, n): name for (name, proto), n in numbers.items()}
    return Witness(cluster, port_intervals(v.port_ranges, named), blocks, frozenset(cluster.namespaces) - set(extra))


def _network(interval: tuple[int, int, int]):
    version, first, last = interval
    cls = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
    nets = list(ipaddress.summarize_address_range(cls(first), cls(last)))
    return nets[0] if len(nets) == 1 else ipaddress.ip_network(f"{cls(first)}/{cls(first).max_prefixlen}")


def describe_endpoint(ep, cluster: Cluster, blocks, made_up=frozenset()) -> str:
    """A witness endpoint in .seg words: `ns/{labels}`, `{ns labels}/{labels}`
    for a made-up namespace, or `ADDRESS (in BLOCK)`."""
    if isinstance(ep, Pod):
        labels = ", ".join(f"{k}={_q(v)}" for k, v in sorted(ep.labels.items()))
        pods = "{" + labels + "}" if labels else "{no labels}"
        if len(ep.labels) == 1 and "app" in ep.labels and ep.labels["app"]:
            pods = ep.labels["app"]
        return f"{describe_namespace(cluster, ep.namespace, made_up)}/{pods}"
    ip = ipaddress.ip_address(ep.ip)
    inside = [b for b in blocks if b.version == ip.version and ip in b]
    if not inside:
        return f"{ep.ip} (outside every block)"
    best = max(inside, key=lambda b: b.prefixlen)
    return f"{ep.ip} (in {best})"


def describe_namespace(cluster: Cluster, name: str, made_up=frozenset()) -> str:
    """A named namespace by name; a made-up one (``witness-N``) by its labels."""
    labels = {k: v for k, v in cluster.namespace(name).labels.items() if k != NAME_LABEL}
    if name not in made_up:
        return name
    if not labels:
        return "{other namespace}"
    return "{" + ", ".join(f"{k}={_q(v)}" for k, v in sorted(labels.items())) + "}"


def _q(v: str) -> str:
    return v if v else '""'


def rename_in(text: str, endpoints, describe) -> str:
    """Replace witness pod keys (`ns/pod-3`) in an explanation by their descriptions."""
    import re

    for ep in endpoints:
        if isinstance(ep, Pod):
            text = re.sub(re.escape(ep.key) + r"(?![\w-])", lambda _m, d=describe(ep): d, text)
    return text


def probe_setting(vocab: "Vocabulary", cluster=None):
    """Where and on which ports to probe: ``(witness, cluster, port intervals)``.

    Without a cluster, the witness built from ``vocab`` (its cluster and port
    intervals). With one, ``witness`` is None, the intervals cut at the
    vocabulary's ports and the cluster's container ports, and the cluster gains
    one outside address per region the vocabulary's address blocks cut out
    (it is changed in place)."""
    from .cluster import External

    if cluster is None:
        wit = build(vocab)
        return wit, wit.cluster, wit.ports
    points = {(cp.protocol, cp.port): "" for pod in cluster.pods for cp in pod.ports}
    intervals = port_intervals(vocab.port_ranges, points)
    known = {e.ip for e in cluster.externals}
    for ip in external_addresses(vocab.intervals):
        if ip not in known:
            cluster.externals.append(External(ip))
    return None, cluster, intervals
