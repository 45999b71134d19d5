"""Intent tests: `expect SRC -> DST[:PORTS] allowed|denied`, checked against
the compiled manifests.

An expectation is checked through evaluator 2 (Kubernetes semantics) on the
NetworkPolicy objects `segc build` writes, so it tests what the cluster will
do, not what segc believes. The cluster is the one given (``--cluster``) or
a witness cluster built from the program's own words (see witness.py and
docs/testing.md).

Meaning: ``allowed`` holds when every connection from a pod or address the
source covers to one the destination covers, on every port listed (every
port when none is), is allowed; ``denied`` when every such connection is
denied. On a real cluster a pod is not probed against itself; on a witness
cluster a pod probed against itself stands for two pods of that shape. An address block in an
expectation stands for addresses outside the cluster inside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import ir, witness
from .cluster import Cluster, Pod
from .diagnostics import Collector, Diagnostic
from .seg_eval import ns_selects

MAX_EXAMPLES = 3


@dataclass(frozen=True)
class Probe:
    src: object
    dst: object
    port: int
    protocol: str
    ports: str  # what the probe stands for, in words


@dataclass
class Outcome:
    expect: ir.Expect
    probes: int = 0
    wrong: list[Probe] = field(default_factory=list)  # the first few counterexamples
    wrong_count: int = 0

    @property
    def passed(self) -> bool:
        return self.probes > 0 and self.wrong_count == 0


@dataclass
class Run:
    outcomes: list[Outcome]
    cluster: Cluster
    evaluator: object
    witness: witness.Witness | None

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.passed]

    def describe(self, ep) -> str:
        if self.witness is None:
            return ep.key
        return self.witness.describe(ep)


def _covered(peer: ir.Peer, cluster: Cluster) -> list:
    if isinstance(peer, ir.BlockPeer):
        import ipaddress

        return [e for e in cluster.externals if peer.contains(ipaddress.ip_address(e.ip))]
    return [p for p in cluster.pods if ns_selects(peer.ns, cluster.namespace(p.namespace)) and peer.pods.matches(p.labels)]


def _probes(e: ir.Expect, intervals: list[witness.PortInterval]):
    """(the port intervals to probe, the named ports to resolve per destination pod)."""
    numeric: list[witness.PortInterval] = []
    named: list[ir.Port] = []
    if e.ports is None:
        numeric = list(intervals)
    else:
        for p in e.ports:
            if p.name:
                named.append(p)
            else:
                numeric += [iv for iv in intervals if iv.protocol == p.protocol and p.start <= iv.start and iv.end <= p.end]
    return numeric, named


def check(program: ir.Program, policies: list[dict], cluster: Cluster | None = None) -> Run:
    """Check every expectation of ``program`` against ``policies`` (its compiled output)."""
    from .k8s_eval import K8sEvaluator

    vocab = witness.from_program(program)
    wit, cluster, intervals = witness.probe_setting(vocab, cluster)
    evaluator = K8sEvaluator(policies, cluster)
    skip_self = wit is None
    outcomes = []
    for e in sorted(program.expects, key=lambda x: x.span):
        outcome = Outcome(e)
        outcomes.append(outcome)
        srcs, dsts = _covered(e.src, cluster), _covered(e.dst, cluster)
        numeric, named = _probes(e, intervals)
        if numeric and srcs and dsts:
            m = evaluator.matrix(srcs, dsts, [iv.probe for iv in numeric])
            for iv in numeric:
                rows = m[iv.probe]
                for i, s in enumerate(srcs):
                    row = rows[i]
                    for j, d in enumerate(dsts):
                        if skip_self and s is d:
                            continue
                        outcome.probes += 1
                        if row[j] != e.allowed:
                            _wrong(outcome, Probe(s, d, iv.start, iv.protocol, iv.describe()))
        for p in named:
            for s in srcs:
                for d in dsts:
                    number = d.named_port(p.name, p.protocol) if isinstance(d, Pod) else None
                    if (skip_self and s is d) or number is None:
                        continue
                    outcome.probes += 1
                    if evaluator.allowed(s, d, number, p.protocol) != e.allowed:
                        _wrong(outcome, Probe(s, d, number, p.protocol, f"{p.protocol} {number} ({p.name})"))
    return Run(outcomes, cluster, evaluator, wit)


def _wrong(outcome: Outcome, probe: Probe) -> None:
    outcome.wrong_count += 1
    if len(outcome.wrong) < MAX_EXAMPLES:
        outcome.wrong.append(probe)


def diagnostics(run: Run, why: bool = False, on_cluster: bool = False) -> list[Diagnostic]:
    """One error per failed expectation (SEG090 wrong verdict, SEG091 nothing to check)."""
    diags = Collector()
    for o in run.failed:
        e = o.expect
        if o.probes == 0:
            where = "on this cluster" if on_cluster else "on the witness cluster"
            diags.error(
                e.span,
                "SEG091",
                f"this expectation checks nothing {where}: no connection from its source to its destination on its ports",
                *_nothing_notes(e, run.cluster),
            )
            continue
        want, got = ("allowed", "denied") if e.allowed else ("denied", "allowed")
        notes = []
        for p in o.wrong:
            notes.append(f"{got}: {run.describe(p.src)} -> {run.describe(p.dst)} on {p.ports}")
            if why:
                why_text = run.evaluator.why(p.src, p.dst, p.port, p.protocol)
                if run.witness is not None:
                    why_text = witness.rename_in(why_text, (p.src, p.dst), run.describe)
                notes.append("why: " + why_text)
        if o.wrong_count > len(o.wrong):
            notes.append(f"... and {o.wrong_count - len(o.wrong)} more of {o.probes} connections checked")
        diags.error(e.span, "SEG090", f"expected {want}, but {o.wrong_count} of {o.probes} connections are {got} by the compiled policies", *notes)
    return diags.items


def _nothing_notes(e: ir.Expect, cluster: Cluster) -> tuple[str, ...]:
    notes = []
    for role, peer in (("source", e.src), ("destination", e.dst)):
        if not _covered(peer, cluster):
            what = "address" if isinstance(peer, ir.BlockPeer) else "pod"
            notes.append(f"the {role} {peer.to_seg()} covers no {what}")
    if not notes:
        notes.append("the destination has no container port with the named port(s)")
    return tuple(notes)


# ------------------------------------------------------------------ netassert


def netassert_tests(run: Run, program: ir.Program) -> tuple[list[dict], list[Diagnostic]]:
    """Expectations as netassert v2 test cases (a list of mappings).

    Each case names a source pod and a destination pod or host, one port and
    TCP or UDP; ``exitCode: 0`` expects the connection to succeed, ``1`` to
    fail. Sources and destinations are the concrete pods of ``--cluster``
    (``kind: pod``); on a witness cluster only ``NS/NAME`` endpoints can be
    named, as the Deployment called NAME (the usual convention for
    ``app=NAME``). What cannot be expressed is reported (SEG150), not dropped
    silently.
    """
    diags = Collector()
    tests: list[dict] = []
    names: set[str] = set()
    for e in sorted(program.expects, key=lambda x: x.span):
        skipped = _unexportable(e)
        if skipped:
            diags.warning(e.span, "SEG150", f"not exported to netassert: {skipped}")
            continue
        pairs = _export_pairs(e, run)
        if pairs is None:
            diags.warning(e.span, "SEG150", "not exported to netassert: without --cluster only endpoints written as a name (app=NAME) in one namespace can be named as a Deployment", "give --cluster to export concrete pods")
            continue
        for src, dst in pairs:
            for port, proto in _export_ports(e, dst):
                to = f"{dst[0]}-{dst[1]}" if dst[0] else dst[1]
                base = f"{src[0]}-{src[1]}-to-{to}-{proto.lower()}-{port}".replace("/", "-").replace(".", "-").replace(":", "-")
                name = base
                n = 2
                while name in names:
                    name, n = f"{base}-{n}", n + 1
                names.add(name)
                test = {
                    "name": name,
                    "type": "k8s",
                    "protocol": proto.lower(),
                    "targetPort": port,
                    "timeoutSeconds": 15,
                    "attempts": 3,
                    "exitCode": 0 if e.allowed else 1,
                    "src": {"k8sResource": {"kind": src[2], "name": src[1], "namespace": src[0]}},
                }
                if dst[2] == "host":
                    test["dst"] = {"host": {"name": dst[1]}}
                else:
                    test["dst"] = {"k8sResource": {"kind": dst[2], "name": dst[1], "namespace": dst[0]}}
                tests.append(test)
    return tests, diags.items


def _unexportable(e: ir.Expect) -> str:
    if isinstance(e.src, ir.BlockPeer):
        return "netassert v2 runs tests from pods only; the source is an address block"
    if e.ports is None:
        return "netassert v2 tests one port at a time; write the ports to test"
    if any(p.protocol == ir.SCTP for p in e.ports):
        return "netassert v2 tests TCP and UDP only"
    if isinstance(e.dst, ir.BlockPeer) and any(p.protocol == ir.UDP for p in e.ports):
        return "netassert v2 tests UDP only towards pods, not hosts"
    if any(p.name for p in e.ports):
        return "netassert v2 needs port numbers; this expectation names a port"
    return ""


def _single_app(peer: ir.Peer) -> tuple[str, str] | None:
    if not isinstance(peer, ir.PodPeer) or not isinstance(peer.ns, ir.NsNamed):
        return None
    r = peer.pods.requirements
    if len(r) == 1 and r[0].key == "app" and r[0].op == ir.IN and len(r[0].values) == 1:
        return peer.ns.name, r[0].values[0]
    return None


def _host(peer: ir.BlockPeer) -> str:
    import ipaddress

    for ip in (peer.net.network_address + (1 if peer.net.num_addresses > 2 else 0), peer.net.network_address):
        if peer.contains(ipaddress.ip_address(ip)):
            return str(ip)
    for sub in peer.net.subnets(new_prefix=min(peer.net.max_prefixlen, peer.net.prefixlen + 8)):
        if peer.contains(sub.network_address):
            return str(sub.network_address)
    return str(peer.net.network_address)


def _export_end(peer: ir.Peer, run: Run):
    """The workloads standing for one end of an expectation: the cluster's
    pods, or on the witness the one app it names (None when it names none)."""
    if run.witness is None:
        return [(p.namespace, p.name, "pod") for p in _covered(peer, run.cluster)]
    one = _single_app(peer)
    return None if one is None else [(one[0], one[1], "deployment")]


def _export_pairs(e: ir.Expect, run: Run):
    dst_list = [(None, _host(e.dst), "host")] if isinstance(e.dst, ir.BlockPeer) else _export_end(e.dst, run)
    src_list = _export_end(e.src, run)
    if dst_list is None or src_list is None:
        return None
    return [(s, d) for s in src_list for d in dst_list if s != d]


def _export_ports(e: ir.Expect, dst) -> list[tuple[int, str]]:
    out = []
    for p in e.ports or ():
        if p.end - p.start < 4:
            out += [(n, p.protocol) for n in range(p.start, p.end + 1)]
        else:
            out += [(p.start, p.protocol), (p.end, p.protocol)]  # the two ends of a range
    return out


# ------------------------------------------------------------ test files


def _test_only(f: ir.SourceFile) -> bool:
    kinds = {type(st) for st in f.statements}
    return ir.ExpectStmt in kinds and not kinds & {ir.AllowStmt, ir.DenyAllStmt, ir.GroupStmt}


def _without_annotations(policies: list[dict]) -> list[dict]:
    out = []
    for p in policies:
        meta = {k: v for k, v in p.get("metadata", {}).items() if k != "annotations"}
        out.append({**p, "metadata": meta})
    return out


def test_file_problems(paths: list[str], texts: dict | None, policies: list[dict]) -> list[Diagnostic]:
    """SEG092: a file of expectations must not change the program it tests.

    A `namespace` line makes the program manage that namespace, so in a file
    that holds only expectations (and imports) it can change the compiled
    policies (an `allow dns` would isolate kube-dns once kube-system is
    managed). The program without the expectation files is compiled too; if
    its policies differ, the lines responsible are errors.
    """
    from .compile import compile_paths
    from .loader import load

    sources = load(paths, Collector(), texts)
    tests = [f for f in sources.files if not f.stdlib and _test_only(f)]
    others = [f.path for f in sources.files if not f.stdlib and not _test_only(f)]
    if not tests or not others:
        return []
    under_test = compile_paths(others, texts)
    if not under_test.ok or _without_annotations(under_test.policies) == _without_annotations(policies):
        return []
    diags = Collector()
    managed = under_test.program.managed
    for f in tests:
        for st in f.statements:
            if isinstance(st, ir.NamespaceStmt) and st.name not in managed:
                diags.error(
                    st.span,
                    "SEG092",
                    f"this line makes the program manage namespace {st.name}, which changes the policies under test",
                    f"qualify the names of the expectations instead (`expect {st.name}/NAME -> ...`) and drop this line",
                )
    return diags.items
