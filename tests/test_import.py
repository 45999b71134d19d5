"""`segc import`: the imported program means exactly what the YAML meant.

Evaluator 2 (k8s_eval) reads the NetworkPolicy objects; evaluator 1 (seg_eval)
reads the program `segc import` wrote (parsed and resolved again from its
text). They must agree on every probe of every cluster tried:

* random NetworkPolicy sets (a strategy written here: hand-written-looking
  policies, plus `segc build` output of random programs, both mixed and
  mutated), on random clusters; refusals must carry an import code, and a
  reasonable fraction must be accepted (checked, so the test is not vacuous);
* the conformance corpus (tests/conformance/), on the case's own cluster and
  on random clusters drawn from the policies' own vocabulary;
* every example's expected output, which must import (round trip);
* open egress with address holes, which imports as `deny` statements.
"""

from __future__ import annotations

import copy
import ipaddress
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, note, settings
from hypothesis import event as _event
from hypothesis.errors import InvalidArgument
from hypothesis import strategies as st

from segc.cli import cli
from segc.cluster import Cluster, ContainerPort, External, Namespace, Pod
from segc.compile import compile_paths
from segc.diagnostics import Collector
from segc.importer import SourceObject, import_objects, import_paths
from segc.ir import Span
from segc.k8s_eval import K8sEvaluator
from segc.output import stream
from segc.seg_eval import SegEvaluator
from strategies import APPS, NAMESPACES, NS_LABELS, POD_LABELS, PROBE_PORTS, cluster, program
from test_conformance import build_cluster

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CONFORMANCE = sorted((Path(__file__).resolve().parent / "conformance").glob("*.yaml"))
EXAMPLE_DIRS = sorted(p / "expected" for p in EXAMPLES.iterdir() if (p / "expected").is_dir())
REASONS = {f"SEG17{i}" for i in range(1, 8)}  # a stated reason; SEG170 (bad input) and SEG179 (internal) are not


# ------------------------------------------------------------------ helpers


def event(text: str) -> None:
    """Hypothesis statistics, when inside a hypothesis test."""
    try:
        _event(text)
    except InvalidArgument:
        pass


def objects_of(policies: list[dict]) -> list[SourceObject]:
    return [SourceObject(Span("input.yaml", i + 1, 1), copy.deepcopy(p)) for i, p in enumerate(policies)]


def imported(policies: list[dict]):
    return import_objects(objects_of(policies), Collector())


def reread(text: str):
    """The imported program as any user would get it: from its text."""
    result = compile_paths(["imported.seg"], {"imported.seg": text})
    errors = [f"{d.span}: {d.message} [{d.code}]" for d in result.diagnostics if d.severity == "error"]
    assert not errors, "the imported program does not build:\n" + "\n".join(errors) + "\n" + text
    return result.program


def disagreements(policies: list[dict], text: str, c: Cluster, probes) -> list[str]:
    seg = SegEvaluator(reread(text), c)
    k8s = K8sEvaluator(policies, c)
    out = []
    for src in c.endpoints():
        for dst in c.endpoints():
            for port, proto in probes:
                want = k8s.allowed(src, dst, port, proto)
                if seg.allowed(src, dst, port, proto) != want:
                    out.append(
                        f"{src.key} -> {dst.key} {port}/{proto}: YAML says {want}\n"
                        f"{k8s.why(src, dst, port, proto)}\n{seg.why(src, dst, port, proto)}"
                    )
    return out


def check_import(policies: list[dict], c: Cluster, probes=PROBE_PORTS) -> bool:
    """Accepted: means the same as the YAML on ``c``. Refused: for a stated reason."""
    result = imported(policies)
    if not result.ok:
        codes = {d.code for d in result.diagnostics if d.severity == "error"}
        assert codes and codes <= REASONS, [f"{d.code}: {d.message}" for d in result.diagnostics]
        for code in sorted(codes):
            event(f"refused {code}")
        return False
    event("accepted")
    wrong = disagreements(policies, result.text, c, probes)
    assert not wrong, "the imported program means something else:\n" + result.text + "\n" + "\n".join(wrong[:5])
    return True


# ------------------------------------------------------- random policy sets

BLOCKS = ["10.0.0.0/8", "10.0.0.0/24", "192.0.2.0/24", "0.0.0.0/0", "203.0.113.10/32", "fd00::/8"]
EXCEPTS = {"10.0.0.0/8": ["10.0.1.0/24"], "10.0.0.0/24": ["10.0.0.128/25"], "0.0.0.0/0": ["10.0.0.0/8", "192.168.0.0/16"]}
PORT_SPECS = [
    {"port": 80},
    {"protocol": "TCP", "port": 443},
    {"protocol": "UDP", "port": 53},
    {"protocol": "TCP", "port": 53},
    {"port": 8000, "endPort": 8100},
    {"port": "http"},
    {"protocol": "TCP", "port": "metrics"},
    {"protocol": "UDP", "port": "dns"},
    {"protocol": "SCTP", "port": 80},
    {"protocol": "UDP"},
]


@st.composite
def k8s_selector(draw, vocab, allow_empty=True):
    keys = draw(st.lists(st.sampled_from(sorted(vocab)), unique=True, max_size=2, min_size=0 if allow_empty else 1))
    sel: dict = {}
    for k in keys:
        form = draw(st.sampled_from(["label", "label", "In", "NotIn", "Exists", "DoesNotExist"]))
        if form == "label":
            sel.setdefault("matchLabels", {})[k] = draw(st.sampled_from(vocab[k]))
        else:
            e = {"key": k, "operator": form}
            if form in ("In", "NotIn"):
                e["values"] = draw(st.lists(st.sampled_from(vocab[k]), unique=True, min_size=1, max_size=2))
            sel.setdefault("matchExpressions", []).append(e)
    return sel


@st.composite
def k8s_peer(draw):
    kind = draw(st.sampled_from(["pods", "pods", "ns-pods", "ns-name", "ns-all", "ns-labels", "block"]))
    if kind == "pods":
        return {"podSelector": draw(k8s_selector(POD_LABELS))}
    if kind == "block":
        cidr = draw(st.sampled_from(BLOCKS))
        block = {"cidr": cidr}
        if cidr in EXCEPTS and draw(st.booleans()):
            block["except"] = EXCEPTS[cidr]
        return {"ipBlock": block}
    if kind == "ns-name":
        ns = {"matchLabels": {"kubernetes.io/metadata.name": draw(st.sampled_from(NAMESPACES))}}
    elif kind == "ns-all":
        ns = {}
    else:
        ns = draw(k8s_selector(NS_LABELS, allow_empty=False))
    peer = {"namespaceSelector": ns}
    if kind != "ns-labels" or draw(st.booleans()):
        peer["podSelector"] = draw(k8s_selector(POD_LABELS))
    return peer


@st.composite
def k8s_rule(draw, key):
    rule = {}
    if draw(st.integers(0, 5)):  # mostly explicit peers; sometimes "everyone"
        rule[key] = draw(st.lists(k8s_peer(), min_size=1, max_size=2))
    if draw(st.booleans()):
        rule["ports"] = [dict(p) for p in draw(st.lists(st.sampled_from(PORT_SPECS), min_size=1, max_size=2, unique_by=repr))]
    return rule


@st.composite
def k8s_policy(draw, n):
    ns = draw(st.sampled_from(NAMESPACES[:4]))
    whole = draw(st.booleans())
    pods = {} if whole else draw(st.one_of(st.builds(lambda a: {"matchLabels": {"app": a}}, st.sampled_from(APPS)), k8s_selector(POD_LABELS)))
    spec: dict = {"podSelector": pods}
    types = draw(st.sampled_from([["Ingress"], ["Egress"], ["Ingress", "Egress"], None]))
    if types is not None:
        spec["policyTypes"] = types
    if types is None or "Ingress" in types:
        spec["ingress"] = draw(st.lists(k8s_rule("from"), max_size=2))
    if types is None or "Egress" in types:
        rules = draw(st.lists(k8s_rule("to"), max_size=2))
        if rules or types is not None:
            spec["egress"] = rules
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": f"p{n}", "namespace": ns}, "spec": spec}


@st.composite
def compiled_policies(draw):
    """`segc build` output of a random program (what teams migrating back, or
    round-tripping, would import); programs the compiler refuses are skipped."""
    result = compile_paths(["prog.seg"], {"prog.seg": draw(program(max_statements=6))})
    if not result.ok:
        return []
    return list(yaml.load_all(stream(result.policies), Loader=yaml.CSafeLoader))


@st.composite
def policy_set(draw):
    """Random NetworkPolicy sets: compiled output, hand-written policies, or both
    (a compiled base with a few hand-written additions)."""
    kind = draw(st.sampled_from(["compiled", "compiled", "written", "mixed"]))
    out = draw(compiled_policies()) if kind != "written" else []
    if kind != "compiled":
        out += [draw(k8s_policy(i)) for i in range(draw(st.integers(1 if kind == "written" else 0, 3)))]
    return out


def test_random_policy_sets_import_faithfully_and_enough_are_accepted():
    outcomes: list[bool] = []

    @settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None, database=None, derandomize=True)
    @given(policy_set(), cluster())
    def run(policies, c):
        note(yaml.safe_dump_all(policies))
        if policies:
            outcomes.append(check_import(policies, c))

    run()
    accepted = sum(outcomes)
    # Not vacuous: a good part of the sets gets through (the figure is in the report).
    assert outcomes and accepted / len(outcomes) >= 0.4, f"only {accepted} of {len(outcomes)} policy sets were accepted"


@given(st.lists(k8s_policy(0), min_size=1, max_size=3), cluster())
def test_hand_written_policies_import_faithfully_or_are_refused_for_a_reason(policies, c):
    for i, p in enumerate(policies):
        p["metadata"]["name"] = f"p{i}"
    note(yaml.safe_dump_all(policies))
    check_import(policies, c)


# ---------------------------------------------------------- corpus, examples


def _vocabulary(policies: list[dict]):
    """Namespaces, labels, port names and addresses the policies mention."""
    namespaces, ns_labels, pod_labels, port_names, ips = set(), {}, {}, set(), set()

    def selector(sel, into):
        for k, v in ((sel or {}).get("matchLabels") or {}).items():
            into.setdefault(k, set()).add(str(v))
        for e in (sel or {}).get("matchExpressions") or []:
            into.setdefault(e["key"], set()).update(map(str, e.get("values") or ["x"]))

    for p in policies:
        namespaces.add(p["metadata"].get("namespace") or "default")
        spec = p.get("spec") or {}
        selector(spec.get("podSelector"), pod_labels)
        for key, peers in (("ingress", "from"), ("egress", "to")):
            for rule in spec.get(key) or []:
                for peer in (rule or {}).get(peers) or []:
                    selector(peer.get("podSelector"), pod_labels)
                    selector(peer.get("namespaceSelector"), ns_labels)
                    if peer.get("ipBlock"):
                        for cidr in [peer["ipBlock"]["cidr"], *(peer["ipBlock"].get("except") or [])]:
                            net = ipaddress.ip_network(cidr, strict=False)
                            ips.update({str(net.network_address), str(net[-1]), str(net[min(5, net.num_addresses - 1)])})
                for port in (rule or {}).get("ports") or []:
                    if isinstance(port.get("port"), str):
                        port_names.add((port["port"], port.get("protocol") or "TCP"))
    namespaces |= set(ns_labels.pop("kubernetes.io/metadata.name", set()))
    namespaces |= {"other"}
    return sorted(namespaces), {k: sorted(v) for k, v in ns_labels.items()}, {k: sorted(v) for k, v in pod_labels.items()}, sorted(port_names), sorted(ips)


@st.composite
def cluster_for(draw, policies: list[dict]):
    namespaces, ns_labels, pod_labels, port_names, ips = _vocabulary(policies)

    def labels(vocab):
        keys = draw(st.lists(st.sampled_from(sorted(vocab)), unique=True)) if vocab else []
        return {k: draw(st.sampled_from(vocab[k])) for k in keys}

    c = Cluster()
    numbers = [80, 443, 5432, 8080, 9090]
    for ns in namespaces:
        c.namespaces[ns] = Namespace(ns, labels(ns_labels))
        for i in range(draw(st.integers(0, 3))):
            names = draw(st.lists(st.sampled_from(port_names), unique=True, max_size=2)) if port_names else []
            ports = tuple(ContainerPort(draw(st.sampled_from(numbers)), proto, name) for name, proto in names)
            ip = draw(st.sampled_from(ips + [None, f"10.99.0.{len(c.pods) + 1}"]))
            c.pods.append(Pod(ns, f"p{i}", labels(pod_labels), ip, ports))
    for ip in draw(st.lists(st.sampled_from(ips or ["198.51.100.1"]), unique=True, max_size=3)):
        c.externals.append(External(ip))
    return c


def _probes(policies: list[dict]) -> list[tuple[int, str]]:
    found = set(PROBE_PORTS)
    for p in policies:
        for key in ("ingress", "egress"):
            for rule in (p.get("spec") or {}).get(key) or []:
                for port in (rule or {}).get("ports") or []:
                    if isinstance(port.get("port"), int):
                        for n in {port["port"], port.get("endPort") or port["port"]}:
                            found.add((n, port.get("protocol") or "TCP"))
    return sorted(found)


def _conformance_policies(path: Path) -> list[dict]:
    return copy.deepcopy(yaml.safe_load(path.read_text(encoding="utf-8")).get("policies") or [])


@pytest.mark.parametrize("path", [p for p in CONFORMANCE if _conformance_policies(p)], ids=lambda p: p.stem)
def test_conformance_policies_import_faithfully(path):
    """Every case with policies (one case checks the empty set: nothing to import)."""
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    policies = _conformance_policies(path)
    probes = _probes(policies) + [(80, "TCP"), (81, "TCP"), (80, "UDP"), (81, "UDP")]
    if not check_import(policies, build_cluster(case), sorted(set(probes))):
        return

    @settings(max_examples=15, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(cluster_for(policies))
    def on_random_clusters(c):
        check_import(policies, c, sorted(set(probes)))

    on_random_clusters()


def test_a_fair_share_of_the_conformance_corpus_imports():
    accepted = [p.stem for p in CONFORMANCE if _conformance_policies(p) and imported(_conformance_policies(p)).ok]
    total = sum(1 for p in CONFORMANCE if _conformance_policies(p))
    assert len(accepted) >= total // 3, f"only {len(accepted)} of {total} cases import: {accepted}"


def _example_policies(folder: Path) -> list[dict]:
    docs = []
    for f in sorted(folder.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(f.read_text(encoding="utf-8")) if d and d.get("kind") == "NetworkPolicy"]
    return docs


@pytest.mark.parametrize("folder", EXAMPLE_DIRS, ids=lambda p: p.parent.name)
def test_example_output_round_trips(folder):
    result = import_paths([str(folder)])
    assert result.ok, [f"{d.span}: {d.message}" for d in result.diagnostics]
    policies = _example_policies(folder)
    probes = _probes(policies)

    @settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(cluster_for(policies))
    def on_random_clusters(c):
        wrong = disagreements(policies, result.text, c, probes)
        assert not wrong, result.text + "\n" + "\n".join(wrong[:5])

    on_random_clusters()
    # About as short as the example's own program (its files, without imports and comments).
    statements = [
        line
        for seg in folder.parent.rglob("*.seg")
        for line in seg.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "import "))
    ]
    written = [line for line in result.text.splitlines() if line.strip()]
    assert len(written) <= len(statements) + 4, result.text


# ------------------------------------------------------------ refusals, CLI


def _policy(ns, pods, **spec):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "p", "namespace": ns}, "spec": {"podSelector": pods, **spec}}


APP = {"matchLabels": {"app": "api"}}


@pytest.mark.parametrize(
    "policies, code",
    [
        ([_policy("a", APP, policyTypes=["Egress"], egress=[{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}])], "SEG171"),
        ([_policy("a", APP, policyTypes=["Ingress"])], "SEG172"),
        (
            [
                _policy("a", {}, policyTypes=["Egress"]),
                _policy("b", APP, ingress=[{"from": [{"namespaceSelector": {}}]}]),
            ],
            "SEG173",
        ),
        (
            [
                _policy("a", {}, policyTypes=["Egress"], egress=[{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "b"}}}]}]),
                _policy("b", APP, ingress=[{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]),
            ],
            "SEG174",
        ),
        ([_policy("a", {"matchLabels": {"app": "bad value"}}, policyTypes=["Ingress"], ingress=[{}])], "SEG175"),
        ([_policy("a", APP, policyTypes=["Sideways"])], "SEG170"),
        ([_policy("a", APP, ingress=[{"ports": [{"port": "8080"}]}])], "SEG176"),
        ([_policy("a", APP, ingress=[{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["0.0.0.0/0"]}}]}])], "SEG175"),
    ],
)
def test_refusals_name_the_object_and_the_reason(policies, code):
    result = imported(policies)
    assert not result.ok
    errors = [d for d in result.diagnostics if d.severity == "error"]
    assert code in {d.code for d in errors}, [f"{d.code}: {d.message}" for d in errors]
    for d in errors:
        assert d.span.file == "input.yaml" and d.span.line >= 1
        assert "NetworkPolicy" in d.message or d.code == "SEG170"


def test_cli_import_writes_stdout_and_refuses_with_file_and_line(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump_all([_policy("a", {}, policyTypes=["Ingress"]), _policy("a", APP, ingress=[{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}], "ports": [{"port": 8080}]}])]))
    runner = CliRunner()
    out = runner.invoke(cli, ["import", str(good)])
    assert out.exit_code == 0, out.output
    assert out.stdout == "namespace a\ndeny-all ingress\nallow web -> api:8080\n"
    target = tmp_path / "app.seg"
    assert runner.invoke(cli, ["import", str(tmp_path), "-o", str(target)]).exit_code == 0
    assert target.read_text() == out.stdout
    again = runner.invoke(cli, ["import", str(good), "-o", str(target)])
    assert again.exit_code == 1 and "never overwrites" in again.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("# a comment\n---\n" + yaml.safe_dump(_policy("b", APP, policyTypes=["Egress"], egress=[{}])))
    refused = runner.invoke(cli, ["import", str(bad)])
    assert refused.exit_code == 1
    assert f"{bad}:3:1: error: NetworkPolicy b/p:" in refused.stderr and "[SEG171]" in refused.stderr
    assert refused.stdout == ""
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: [\n")
    assert runner.invoke(cli, ["import", str(broken)]).exit_code == 1


def test_import_is_deterministic_and_independent_of_object_order():
    folder = EXAMPLES / "split-files" / "expected"
    policies = _example_policies(folder)
    a = imported(policies)
    b = imported(list(reversed(policies)))
    assert a.ok and a.text == b.text


def test_the_example_in_docs_import_md_is_what_segc_prints():
    import re

    doc = (ROOT / "docs" / "import.md").read_text(encoding="utf-8")
    yaml_text = re.search(r"```yaml\n(.*?)```", doc, re.S).group(1)
    seg_text = re.search(r"```seg\n(.*?)```", doc, re.S).group(1)
    out = CliRunner().invoke(cli, ["import", "-"], input=yaml_text)
    assert out.exit_code == 0, out.output
    assert out.stdout == seg_text
    policies = [d for d in yaml.safe_load_all(yaml_text) if d]

    @settings(max_examples=25, deadline=None, database=None)
    @given(cluster_for(policies))
    def same_meaning(c):
        assert not disagreements(policies, seg_text, c, _probes(policies))

    same_meaning()


LABEL_VALUE = st.from_regex(r"\A([A-Za-z0-9]([-A-Za-z0-9_.]{0,10}[A-Za-z0-9])?)?\Z")
LABEL_KEY = st.from_regex(r"\A([a-z0-9]([-a-z0-9]{0,6}[a-z0-9])?(\.[a-z]{2,4})?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,8}[A-Za-z0-9])?\Z")


@settings(max_examples=60, deadline=None)
@given(LABEL_VALUE, LABEL_KEY, LABEL_VALUE, st.sampled_from(["In", "NotIn"]))
def test_any_valid_label_imports_and_renders(app, key, value, op):
    """Whatever labels Kubernetes accepts, the rendered program parses back to
    the same program (a bare name like `1.0` or `in` must not change meaning)."""
    peer = {"podSelector": {"matchLabels": {key: value}}, "namespaceSelector": {"matchExpressions": [{"key": key, "operator": op, "values": [value]}]}}
    policies = [_policy("a", {"matchLabels": {"app": app}}, ingress=[{"from": [peer, {"podSelector": {"matchLabels": {"app": value}}}]}])]
    result = imported(policies)
    assert result.ok, [f"{d.code}: {d.message} {d.notes}" for d in result.diagnostics]
    assert reread(result.text) is not None


# ------------------------------------------------ open egress with holes: deny

EVERY_POD = {"namespaceSelector": {}, "podSelector": {}}
METADATA = "169.254.169.254/32"


def _open_egress(ns="ci", v4_except=(METADATA,), v6=True, ports=None, pods=EVERY_POD):
    rule = {"to": [pods, {"ipBlock": {"cidr": "0.0.0.0/0", "except": list(v4_except)}}] + ([{"ipBlock": {"cidr": "::/0"}}] if v6 else [])}
    if not v4_except:
        del rule["to"][1]["ipBlock"]["except"]
    if ports is not None:
        rule["ports"] = ports
    return _policy(ns, {}, policyTypes=["Egress"], egress=[rule])


@pytest.mark.parametrize(
    "policies, holes",
    [
        ([_open_egress()], ["169.254.169.254/32"]),
        ([_open_egress(v4_except=(METADATA, "10.0.0.0/8"))], ["10.0.0.0/8", "169.254.169.254/32"]),
        ([_open_egress(v6=False)], ["169.254.169.254/32", "::/0"]),
        ([_open_egress(v4_except=())], []),
        # Another rule reaching outside the holes changes nothing.
        ([_open_egress(), _policy("ci", APP, policyTypes=["Egress"], egress=[{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": 80}]}])], ["169.254.169.254/32"]),
        # A second namespace-wide rule filling part of a hole on every port makes it smaller.
        (
            [_open_egress(v4_except=("10.0.0.0/8",)), _policy("ci", {}, policyTypes=["Egress"], egress=[{"to": [{"ipBlock": {"cidr": "10.0.0.0/9"}}]}])],
            ["10.128.0.0/9"],
        ),
    ],
)
def test_open_egress_with_holes_imports_as_deny(policies, holes):
    result = imported(policies)
    assert result.ok, [f"{d.code}: {d.message}" for d in result.diagnostics]
    assert "deny-all egress" not in result.text and "deny-all\n" not in result.text, result.text
    assert [line for line in result.text.splitlines() if line.startswith("deny ")] == [f"deny * -> {h}" for h in holes], result.text
    assert {str(d.dst.net) for d in result.program.denies} == set(holes)

    @settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(cluster_for(policies))
    def on_random_clusters(c):
        wrong = disagreements(policies, result.text, c, _probes(policies) + [(81, "UDP")])
        assert not wrong, result.text + "\n" + "\n".join(wrong[:5])

    on_random_clusters()


@pytest.mark.parametrize(
    "policies",
    [
        # The hole is open on one port: no deny on every port says that.
        [_open_egress(), _policy("ci", APP, policyTypes=["Egress"], egress=[{"to": [{"ipBlock": {"cidr": METADATA}}], "ports": [{"port": 80}]}])],
        # Every address but the hole, on some ports only.
        [_open_egress(ports=[{"port": 443}])],
        # Pods of some namespaces only.
        [
            _open_egress(pods={"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "web"}}}),
            _policy("web", APP, ingress=[{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]),
        ],
    ],
    ids=["hole-open-on-a-port", "some-ports", "some-namespaces"],
)
def test_open_egress_near_misses_are_still_refused(policies):
    result = imported(policies)
    assert not result.ok and not any(line.startswith("deny ") for line in (result.text or "").splitlines())
    codes = {d.code for d in result.diagnostics if d.severity == "error"}
    assert codes == {"SEG174"}, [f"{d.code}: {d.message}" for d in result.diagnostics]


@st.composite
def open_egress_sets(draw):
    """A namespace with open egress but for random holes, beside random policies."""
    ns = draw(st.sampled_from(NAMESPACES[:4]))
    holes = draw(st.lists(st.sampled_from([METADATA, "10.0.0.0/8", "10.0.1.0/24", "192.0.2.0/24"]), unique=True, max_size=2))
    out = [_open_egress(ns, v4_except=holes, v6=draw(st.booleans()))]
    out[0]["metadata"]["name"] = "open"
    if draw(st.booleans()):  # a rule of the same namespace towards addresses, maybe in a hole
        pods = draw(st.sampled_from([{}, APP]))
        rule = {"to": [{"ipBlock": {"cidr": draw(st.sampled_from(BLOCKS[:4] + [METADATA]))}}]}
        if draw(st.booleans()):
            rule["ports"] = [dict(draw(st.sampled_from(PORT_SPECS[:5])))]
        out.append(_policy(ns, pods, policyTypes=["Egress"], egress=[rule]))
        out[-1]["metadata"]["name"] = "to-block"
    out += [draw(k8s_policy(i)) for i in range(draw(st.integers(0, 2)))]
    return out


def test_open_egress_sets_import_faithfully():
    outcomes: list[bool] = []

    @settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow], deadline=None, database=None, derandomize=True)
    @given(st.data())
    def run(data):
        policies = data.draw(open_egress_sets())
        note(yaml.safe_dump_all(policies))
        c = data.draw(cluster_for(policies))
        outcomes.append(check_import(policies, c, _probes(policies)))

    run()
    assert sum(outcomes) >= len(outcomes) // 4, f"only {sum(outcomes)} of {len(outcomes)} accepted"


def test_the_deny_example_in_docs_import_md_is_what_segc_prints():
    doc = (ROOT / "docs" / "import.md").read_text(encoding="utf-8")
    section = doc[doc.index("## Open egress with holes") :]
    block = section.split("```seg\n", 1)[1].split("```", 1)[0]
    assert import_paths([str(EXAMPLES / "metadata-endpoint" / "expected")]).text == block
