"""`segc graph`: Mermaid, DOT and SVG on every example; the edges mean what the policies allow.

* Mermaid is rendered by the real Mermaid (``@mermaid-js/mermaid-cli`` from
  npm, driving the system Chromium; puppeteer downloads no browser). It is
  installed into ``build/mermaid-cli`` on first use; the test is skipped only
  when ``npm`` is absent.
* DOT is drawn by Graphviz's ``dot`` (the SVG format); the SVG's nodes,
  edges and namespace boxes are counted against the graph.
* Properties: every rule of a random program is an edge of the symbolic
  graph, with its ports; on a random cluster, an edge A -> B carries port P
  iff evaluator 2 allows P from every pod of A to every pod of B.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner
from hypothesis import given, settings

from example_names import NAMES
import strategies as gen
from segc.cli import cli
from segc.cluster import load_cluster
from segc.compile import compile_paths
from segc.explain import compile_policies, port_text
from segc.graph import ANY, MARKER, change_graph, peer_node, selector_node, cluster_graph, probe_ports, symbolic_graph, to_dot, to_mermaid
from segc.k8s_eval import K8sEvaluator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A third of the profile's examples (ci: 100, deep: 3,333): each example compiles
# a program and evaluates it on a cluster, and the suite shares 2 cores.
LIGHT = settings(max_examples=max(30, settings().max_examples // 3))
EXAMPLES = [os.path.join(ROOT, "examples", n, "") for n in NAMES]
REACH = os.path.join(ROOT, "tests", "data", "reach")
MERMAID_CLI = os.path.join(ROOT, "build", "mermaid-cli")
MERMAID_CLI_VERSION = "11.17.0"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SVG = "{http://www.w3.org/2000/svg}"


def run(*args, input=None):
    r = CliRunner().invoke(cli, list(args), input=input)
    return r.exit_code, r.output


def seg_files(example):
    return sorted(glob.glob(os.path.join(example, "*.seg")))


def example_graph(example):
    result = compile_paths(seg_files(example))
    assert result.ok
    return symbolic_graph(result.policies)


needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed (.ci/run installs the Debian package graphviz)")


# ------------------------------------------------------------------ formats


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: os.path.basename(os.path.dirname(p)))
def test_every_example_draws(example, fmt):
    code, out = run("graph", "--format", fmt, *seg_files(example))
    assert code == 0, out
    g = example_graph(example)
    assert g.nodes and g.edges
    for n in g.nodes:
        assert re.search(rf"\b{n.id}\b", out)
    arrow = "-->" if fmt == "mermaid" else "->"
    assert out.count(f" {arrow}") == len(g.edges)
    # The same bytes from the expected manifests (one code path for .seg and YAML).
    code, again = run("graph", "--format", fmt, os.path.join(example, "expected"))
    assert code == 0 and again == out


@needs_dot
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: os.path.basename(os.path.dirname(p)))
def test_every_example_draws_as_svg(example):
    code, out = run("graph", "--format", "svg", *seg_files(example))
    assert code == 0, out
    g = example_graph(example)
    root = ET.fromstring(out.encode())
    groups = root.iter(f"{SVG}g")
    classes = [el.get("class") for el in groups]
    assert classes.count("node") == len(g.nodes)
    assert classes.count("edge") == len(g.edges)
    assert classes.count("cluster") == len(g.groups)
    titles = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    for n in g.nodes:
        assert n.label in titles


@needs_dot
def test_svg_of_a_cluster_graph():
    code, out = run("graph", "--format", "svg", "--cluster", os.path.join(REACH, "cluster.yaml"), os.path.join(REACH, "app.seg"))
    assert code == 0, out
    ET.fromstring(out.encode())


def _mermaid_cli() -> str:
    """mmdc from build/mermaid-cli, installed with npm on first use."""
    exe = os.path.join(MERMAID_CLI, "node_modules", ".bin", "mmdc")
    if os.path.exists(exe):
        return exe
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: Mermaid output could not be checked with the real Mermaid renderer")
    os.makedirs(MERMAID_CLI, exist_ok=True)
    env = dict(os.environ, PUPPETEER_SKIP_DOWNLOAD="1", PUPPETEER_SKIP_CHROMIUM_DOWNLOAD="1")
    p = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--prefix", MERMAID_CLI, f"@mermaid-js/mermaid-cli@{MERMAID_CLI_VERSION}"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert p.returncode == 0 and os.path.exists(exe), p.stdout + p.stderr
    return exe


def _diff_picture():
    from segc.diff import diff_sides, picture_graph, read_side

    old = read_side(os.path.join(ROOT, "examples", "three-tier", "three-tier.seg"))
    new = read_side(os.path.join(ROOT, "examples", "batch-jobs", "batch-jobs.seg"))
    g = picture_graph(diff_sides(old, new))
    assert {e.change for e in g.edges} == {"opened", "closed"}
    return g


def test_mermaid_renders_with_the_real_mermaid(tmp_path):
    """Every example (and a cluster graph) through Mermaid itself, in one browser run."""
    assert CHROMIUM, "chromium is not installed (.ci/run installs the Debian package chromium)"
    mmdc = _mermaid_cli()
    graphs = [example_graph(e) for e in EXAMPLES]
    result = compile_paths([os.path.join(REACH, "app.seg")])
    graphs.append(cluster_graph(result.policies, load_cluster(os.path.join(REACH, "cluster.yaml"))))
    # Hand-written YAML (an `any` node, matchExpressions) and awkward names: IPv6, dots, `notin`, quotes-free.
    from segc.k8s_eval import load_policies

    graphs.append(symbolic_graph(load_policies(os.path.join(ROOT, "tests", "data", "explain", "handwritten.yaml"))))
    odd = compile_paths(["odd.seg"], {"odd.seg": (
        "namespace a\ndeny-all\nallow {tier notin (web, edge), app.kubernetes.io/name} -> fd00::/8 except fd00::/16:http\n"
        "allow {env=prod}/* -> *:8000-8100,53/udp\n"
    )})
    assert odd.ok, odd.diagnostics
    graphs.append(symbolic_graph(odd.policies))
    graphs.append(change_graph(compile_paths(seg_files(EXAMPLES[0])).policies, odd.policies))  # with linkStyle
    graphs.append(_diff_picture())  # the picture `segc diff --format md` embeds
    md = "".join(f"```mermaid\n{to_mermaid(g)}```\n\n" for g in graphs)
    (tmp_path / "in.md").write_text(md)
    (tmp_path / "pptr.json").write_text(json.dumps({"executablePath": CHROMIUM, "args": ["--no-sandbox", "--disable-gpu"]}))
    p = subprocess.run(
        [mmdc, "-p", str(tmp_path / "pptr.json"), "-i", str(tmp_path / "in.md"), "-o", str(tmp_path / "out.md")],
        capture_output=True, text=True, timeout=300,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    for i, g in enumerate(graphs, 1):
        svg = (tmp_path / f"out-{i}.svg").read_text()
        for n in g.nodes:
            assert f"flowchart-{n.id}-" in svg, (i, n)
        for e in g.edges:
            assert f"L_{e.src}_{e.dst}_" in svg, (i, e)
        for gi in range(len(g.groups)):
            assert f'id="my-svg-g{gi}"' in svg


# ------------------------------------------------------------------ content


def test_isolated_unreachable_workloads_are_marked():
    g = example_graph(os.path.join(ROOT, "examples", "team-database", ""))
    by_label = {n.label: n for n in g.nodes if n.group == "ns:data"}
    assert by_label["pg-backup"].marks == ("no ingress",)
    assert by_label["postgres"].marks == ()
    mermaid = to_mermaid(g)
    assert "⊘ no ingress" in mermaid
    closed = re.search(r"class (\S+) closed", mermaid).group(1).split(",")
    assert by_label["pg-backup"].id in closed and by_label["postgres"].id not in closed


def test_namespaces_and_blocks():
    g = example_graph(os.path.join(ROOT, "examples", "team-database", ""))
    assert g.groups == {"ns:data": "namespace data", "ns:kube-system": "namespace kube-system", "nsl:team=orders": "namespaces labelled team=orders"}
    blocks = [n for n in g.nodes if n.kind == "block"]
    assert [n.label for n in blocks] == ["198.51.100.20/32"] and blocks[0].group is None
    edges = {(g.node(e.src).label, g.node(e.dst).label): e.ports for e in g.edges}
    assert edges[("orders-api", "postgres")] == ("TCP 5432",)
    assert edges[("pg-backup", "198.51.100.20/32")] == ("TCP 443",)
    assert edges[("* (all pods)", "k8s-app=kube-dns")] == ("TCP 53", "UDP 53")


def test_any_peer_is_its_own_node():
    code, out = run("graph", os.path.join(ROOT, "tests", "data", "explain", "handwritten.yaml"))
    assert code == 0
    assert '(("any (every pod and address)"))' in out
    assert 'any IPv4 address except 10.0.0.0/8, 169.254.169.254/32' in out


def test_large_namespaces_collapse_with_a_count():
    apps = [f"svc{i:02d}" for i in range(20)]
    text = "namespace big\ndeny-all\n" + "".join(f"allow {a} -> svc00:80\n" for a in apps[1:]) + "allow svc01 -> other/db:5432\n"
    code, out = run("graph", "--collapse", "10", "-", input=text)
    assert code == 0, out
    # 20 apps and `*` (the deny-all) become one node; the 19 arrows into svc00 one loop.
    assert '[["21 workloads<br/>collapsed"]]' in out
    assert out.count("-->") == 2 and '-->|"TCP 80"|' in out and '-->|"TCP 5432"|' in out
    code, full = run("graph", "--collapse", "0", "-", input=text)
    assert "workloads" not in full and full.count("-->") == 20


def test_output_file_is_never_a_users_file(tmp_path):
    seg = os.path.join(ROOT, "examples", "three-tier", "three-tier.seg")
    mine = tmp_path / "notes.mmd"
    mine.write_text("my notes\n")
    code, out = run("graph", seg, "-o", str(mine))
    assert code == 1 and "was not written by segc" in out
    assert mine.read_text() == "my notes\n"
    ours = tmp_path / "g.mmd"
    assert run("graph", seg, "-o", str(ours))[0] == 0
    first = ours.read_text()
    assert first.startswith(f"%% {MARKER}\n")
    assert run("graph", seg, "-o", str(ours))[0] == 0 and ours.read_text() == first


def test_errors_exit_1():
    code, out = run("graph", "-", input="namespace a\nallow x -> y:0\n")
    assert code == 1 and "SEG030" in out and "Traceback" not in out


# ------------------------------------------------------------------ properties


def _compiled(text):
    result = compile_paths(["prog.seg"], {"prog.seg": text})
    return result.policies if result.ok else None


@LIGHT
@given(gen.program(), gen.cluster())
def test_symbolic_and_cluster_edges_mean_the_policies(text, cluster):
    dicts = _compiled(text)
    if not dicts:
        return
    every_rule_is_an_edge_with_its_ports(dicts)
    cluster_edges_are_what_kubernetes_allows(dicts, cluster)


def every_rule_is_an_edge_with_its_ports(dicts):
    g = symbolic_graph(dicts, collapse=0)
    ids = {n.key: n.id for n in g.nodes}
    edges = {(e.src, e.dst): set(e.ports) for e in g.edges}
    expected: dict = {}
    for p in compile_policies(dicts):
        me = selector_node(f"ns:{p.namespace}", p.selector, "workload").key
        for direction in ("ingress", "egress"):
            for rule in p.rules(direction) or ():
                ports = {"any port"} if rule.ports is None else {port_text(s) for s in rule.ports}
                for peer in [ANY] if rule.peers is None else [peer_node(x, p.namespace) for x in rule.peers]:
                    pair = (ids[peer.key], ids[me]) if direction == "ingress" else (ids[me], ids[peer.key])
                    expected.setdefault(pair, set()).update(ports)
    assert edges == expected
    for n in g.nodes:
        assert n.id in to_mermaid(g) and n.id in to_dot(g)


def cluster_edges_are_what_kubernetes_allows(dicts, cluster):
    g = cluster_graph(dicts, cluster, collapse=0)
    ev = K8sEvaluator(dicts, cluster)
    ports = probe_ports(cluster, ev.policies)
    pods = {p.key: p for p in cluster.pods}
    members = {n.id: [pods[k] for k in n.members] for n in g.nodes if n.kind == "workload"}
    assert sorted(k for n in g.nodes for k in n.members) == sorted(pods)  # every pod drawn once
    edges = {(e.src, e.dst): set(e.ports) for e in g.edges}
    for a, pods_a in members.items():
        for b, pods_b in members.items():
            drawn = edges.get((a, b), set())
            for port, proto in ports:
                answers = {ev.allowed(x, y, port, proto) for x in pods_a for y in pods_b}
                if f"{proto} {port}" in drawn:
                    assert answers == {True}, (a, b, port, proto)
                elif (a, b) in edges:
                    assert answers == {False}, (a, b, port, proto)
                else:  # no edge: denied, or a pair no policy governs (not drawn)
                    for x in pods_a:
                        for y in pods_b:
                            governed = bool(ev._selecting(ev._facts(x), "egress") or ev._selecting(ev._facts(y), "ingress"))
                            assert not (governed and ev.allowed(x, y, port, proto)), (a, b, port, proto)


@LIGHT
@given(gen.program(), gen.program())
def test_change_graph_shows_exactly_the_opened_and_closed_ports(old_text, new_text):
    old, new = _compiled(old_text), _compiled(new_text)
    if old is None or new is None:
        return
    assert change_graph(new, new).edges == []

    def edges(g):
        return {(g.node(e.src).key, g.node(e.dst).key): set(e.ports) for e in g.edges}

    before, after = edges(symbolic_graph(old, collapse=0)), edges(symbolic_graph(new, collapse=0))
    g = change_graph(old, new, collapse=0)
    got = {(g.node(e.src).key, g.node(e.dst).key, e.change): set(e.ports) for e in g.edges}
    want = {}
    for pair in set(before) | set(after):
        b, a = before.get(pair, set()), after.get(pair, set())
        if a - b:
            want[(*pair, "opened")] = a - b
        if b - a:
            want[(*pair, "closed")] = b - a
    assert got == want
    text = to_mermaid(g)
    assert text.count("linkStyle") == len(g.edges)
