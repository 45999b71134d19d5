"""Who may talk to whom, as a picture: Mermaid, Graphviz DOT, SVG.

Two ways to build the graph, both from NetworkPolicy objects (a .seg program
is compiled first, so both kinds of input share this code):

* :func:`symbolic_graph` -- no cluster. Nodes are the selectors the policies
  use: one per (namespace, podSelector) that a policy protects, one per peer
  of a rule (pods by labels, in a namespace or in namespaces by labels), one
  per address block, and ``any`` for a rule without peers. One edge per
  (source, destination), labelled with the ports the rules admit: an ingress
  rule draws peer -> protected pods, an egress rule protected pods -> peer.
  For segc's own output both halves of an ``allow`` draw the same edge.
* :func:`cluster_graph` -- a cluster. Nodes are real workloads (pods grouped by
  namespace and labels, hash labels such as ``pod-template-hash`` ignored) and
  one node per address block in the policies; edges are what evaluator 2
  allows between them, on the cluster's container ports and the rules' ports.

Workloads that are isolated with no rule letting anything in (or out) are
marked: ``no ingress`` / ``no egress`` in the label and a dashed red border.
Namespaces with more than ``collapse`` workload nodes become one node with a
count.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
from dataclasses import dataclass, field

from .cluster import Cluster, External, Pod
from .explain import app_name, block_text, compile_policies, explain_workload, namespace_scope, port_sort_key, port_text, selector_text
from .k8s_eval import K8sEvaluator, Peer, Policy

DEFAULT_COLLAPSE = 15

# Labels controllers add per revision; pods differing only in them are one workload.
HASH_LABELS = ("pod-template-hash", "controller-revision-hash", "statefulset.kubernetes.io/pod-name", "pod-template-generation")


class GraphError(Exception):
    """The graph cannot be drawn (e.g. Graphviz is missing); the message says why."""


@dataclass
class Node:
    key: tuple
    label: str
    group: str | None  # a group key, or None for nodes outside every namespace box
    kind: str = "workload"  # workload | pods | block | any | collapsed
    detail: str = ""  # a second line (labels)
    marks: tuple[str, ...] = ()  # "no ingress", "no egress"
    id: str = ""
    members: tuple[str, ...] = ()  # with a cluster: the pods (NAMESPACE/NAME) drawn as this node


@dataclass
class Edge:
    src: str  # node ids
    dst: str
    ports: tuple[str, ...]
    change: str = ""  # change graphs only: "opened" or "closed"


@dataclass
class Graph:
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    groups: dict[str, str] = field(default_factory=dict)  # group key -> box title

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)


# --------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------


class _Builder:
    def __init__(self) -> None:
        self.nodes: dict[tuple, Node] = {}
        self.edges: dict[tuple, set[str]] = {}  # (src key, dst key[, change]) -> ports
        self.groups: dict[str, str] = {}

    def add(self, node: Node) -> tuple:
        old = self.nodes.get(node.key)
        if old is None:
            self.nodes[node.key] = node
        elif node.kind == "workload":  # a protected workload wins over a peer with the same selector
            node.marks = tuple(sorted(set(old.marks) | set(node.marks)))
            self.nodes[node.key] = node
        if node.group is not None:
            self.groups.setdefault(node.group, _group_title(node.group))
        return node.key

    def connect(self, src: tuple, dst: tuple, ports) -> None:
        self.edges.setdefault((src, dst), set()).update(ports)

    def finish(self, collapse: int) -> Graph:
        nodes, edges = dict(self.nodes), dict(self.edges)
        nodes, edges = _collapse(nodes, edges, collapse)
        order = sorted(nodes.values(), key=lambda n: (n.group is None, n.group or "", n.kind != "workload", n.label, n.detail, repr(n.key)))
        for i, n in enumerate(order):
            n.id = f"n{i}"
        by_key = {n.key: n for n in order}
        out_edges = [
            Edge(by_key[k[0]].id, by_key[k[1]].id, tuple(sorted(ports, key=_port_phrase_key)), *k[2:])
            for k, ports in edges.items()
        ]
        out_edges.sort(key=lambda e: (int(e.src[1:]), int(e.dst[1:]), e.change))
        groups = {g: t for g, t in sorted(self.groups.items()) if any(n.group == g for n in order)}
        return Graph(order, out_edges, groups)


def _port_phrase_key(text: str):
    nums = re.findall(r"\d+", text)
    return (text.split(" ")[0], int(nums[0]) if nums else -1, text)


def _group_title(group: str) -> str:
    kind, _, name = group.partition(":")
    if kind == "ns":
        return f"namespace {name}"
    if kind == "all":
        return "every namespace"
    return f"namespaces labelled {name}"


def _ns_group(peer_ns_selector, policy_ns: str) -> str:
    kind, text = namespace_scope(peer_ns_selector, policy_ns)
    return {"named": "ns:", "every": "all:", "labelled": "nsl:"}[kind] + text


def selector_node(group: str, sel, kind: str) -> Node:
    text = selector_text(sel) if sel is not None else ""
    name = app_name(sel) if sel is not None else None
    if name is not None:
        label, detail = name, text
    elif not text:
        label, detail = "* (all pods)", ""
    else:
        label, detail = text, ""
    return Node(("pods", group, text), label, group, kind, detail)


def peer_node(peer: Peer, policy_ns: str) -> Node:
    if peer.ip_block is not None:
        text = block_text(peer.ip_block)
        return Node(("block", text), text.replace("addresses in ", ""), None, "block")
    return selector_node(_ns_group(peer.namespace_selector, policy_ns), peer.pod_selector, "pods")


ANY = Node(("any",), "any (every pod and address)", None, "any")


def _rule_ports(rule) -> tuple[str, ...]:
    if rule.ports is None:
        return ("any port",)
    return tuple(port_text(p) for p in sorted(rule.ports, key=port_sort_key))


def symbolic_graph(policy_dicts: list[dict], collapse: int = DEFAULT_COLLAPSE) -> Graph:
    """The graph of the selectors in the policies (no cluster needed)."""
    return _symbolic(policy_dicts).finish(collapse)


def change_graph(old_dicts: list[dict], new_dicts: list[dict], collapse: int = DEFAULT_COLLAPSE) -> Graph:
    """The edges of the symbolic graph that changed: ports a rule now admits
    (``opened``) or no longer admits (``closed``), per (source, destination).

    A picture for review (e.g. in a `segc diff --format md` comment), drawn
    from the rules' text-level ports: "any port" replacing "TCP 80" shows as
    both. The exact semantic change is `segc diff`'s business. Only nodes
    touching a changed edge are drawn.
    """
    old, new = _symbolic(old_dicts), _symbolic(new_dicts)
    b = _Builder()
    changed: dict[tuple, set[str]] = {}
    for key in sorted(set(old.edges) | set(new.edges), key=repr):
        before, after = old.edges.get(key, set()), new.edges.get(key, set())
        for change, ports in (("opened", after - before), ("closed", before - after)):
            if ports:
                changed[(*key, change)] = ports
    touched = sorted({k for key in changed for k in key[:2]}, key=repr)
    for key in touched:
        n = new.nodes.get(key) or old.nodes[key]
        b.add(Node(n.key, n.label, n.group, n.kind, n.detail))  # no marks: the picture is about edges
    b.edges = changed
    return b.finish(collapse)


def _symbolic(policy_dicts: list[dict]) -> _Builder:
    policies = compile_policies(policy_dicts)
    b = _Builder()
    for p in policies:
        node = selector_node(f"ns:{p.namespace}", p.selector, "workload")
        w = explain_workload(policies, p.namespace, p.selector)
        marks = []
        for direction in ("ingress", "egress"):
            d = w.directions[direction]
            if d.isolated and not d.admissions:
                marks.append(f"no {direction}")
        node.marks = tuple(marks)
        b.add(node)
    for p in policies:
        me = ("pods", f"ns:{p.namespace}", selector_text(p.selector))
        for direction in ("ingress", "egress"):
            for rule in p.rules(direction) or ():
                peers = [ANY] if rule.peers is None else [peer_node(peer, p.namespace) for peer in rule.peers]
                for peer in peers:
                    other = b.add(Node(peer.key, peer.label, peer.group, peer.kind, peer.detail))
                    src, dst = (other, me) if direction == "ingress" else (me, other)
                    b.connect(src, dst, _rule_ports(rule))
    return b


# --------------------------------------------------------------------------
# With a cluster
# --------------------------------------------------------------------------


def workload_of(pod: Pod, ignored: frozenset[str] = frozenset(HASH_LABELS)) -> tuple[str, tuple]:
    """(namespace, labels without revision hashes): pods of one owner share it."""
    labels = tuple(sorted((k, v) for k, v in pod.labels.items() if k not in ignored))
    return pod.namespace, labels


def _selector_keys(policies: list[Policy]) -> set[str]:
    """Every label key a selector of the policies looks at."""
    keys: set[str] = set()

    def add(sel) -> None:
        if sel is not None:
            keys.update(k for k, _ in sel.match_labels)
            keys.update(k for k, _, _ in sel.expressions)

    for p in policies:
        add(p.selector)
        for direction in ("ingress", "egress"):
            for rule in p.rules(direction) or ():
                for peer in rule.peers or ():
                    add(peer.pod_selector)
    return keys


def workload_name(pods: list[Pod], labels: tuple) -> str:
    d = dict(labels)
    for key in ("app", "app.kubernetes.io/name", "k8s-app", "name"):
        if key in d:
            return d[key]
    if len(pods) == 1:
        return pods[0].name
    # Common prefix of the pod names, up to a dash (deployment-abc12 -> deployment).
    prefix = pods[0].name
    for p in pods[1:]:
        while not p.name.startswith(prefix):
            prefix = prefix[:-1]
    return prefix.rstrip("-") or pods[0].name


def representative_ip(peer: Peer) -> str | None:
    b = peer.ip_block
    size = b.last - b.first + 1
    for candidate in (b.first + 1 if size > 2 else b.first, b.first, b.last - 1, b.last):
        if b.first <= candidate <= b.last and b.contains((b.version, candidate)):
            return str(ipaddress.ip_address(candidate) if b.version == 4 else ipaddress.IPv6Address(candidate))
    for v, a, z in b.excepts:  # the first address after an except range
        c = z + 1
        if b.contains((b.version, c)):
            return str(ipaddress.ip_address(c) if b.version == 4 else ipaddress.IPv6Address(c))
    return None


def probe_ports(cluster: Cluster, policies: list[Policy]) -> list[tuple[int, str]]:
    """Container ports of the cluster and numeric ports of the rules (a range by its ends)."""
    found = {(cp.port, cp.protocol) for pod in cluster.pods for cp in pod.ports}
    for p in policies:
        for direction in ("ingress", "egress"):
            for rule in p.rules(direction) or ():
                for spec in rule.ports or ():
                    if isinstance(spec.port, int):
                        found.add((spec.port, spec.protocol))
                        if spec.end_port:
                            found.add((spec.end_port, spec.protocol))
    return sorted(found) or [(80, "TCP")]


def cluster_graph(policy_dicts: list[dict], cluster: Cluster, collapse: int = DEFAULT_COLLAPSE) -> Graph:
    """The graph of real workloads: what evaluator 2 allows between them."""
    ev = K8sEvaluator(policy_dicts, cluster)
    # Hash labels are ignored only when no selector looks at them, so that
    # pods of one node are never told apart by a policy.
    ignored = frozenset(HASH_LABELS) - _selector_keys(ev.policies)
    all_blocks = [peer.ip_block for p in ev.policies for d in ("ingress", "egress") for r in p.rules(d) or () for peer in r.peers or () if peer.ip_block is not None]
    groups: dict[tuple, list[Pod]] = {}
    for pod in cluster.pods:
        # Container ports (named ports) and address-block membership also
        # tell pods apart; they are part of the key but not of the label.
        ip = ev._facts(pod).ip
        extra = (tuple(sorted((c.port, c.protocol, c.name or "") for c in pod.ports)), tuple(b.contains(ip) for b in all_blocks))
        groups.setdefault((*workload_of(pod, ignored), extra), []).append(pod)
    b = _Builder()
    endpoints, keys = [], []
    for (ns, labels, extra), pods in sorted(groups.items()):
        name = workload_name(pods, labels)
        label = name if len(pods) == 1 else f"{name} ×{len(pods)}"
        node = Node(("wl", ns, labels, extra), label, f"ns:{ns}", "workload", ", ".join(f"{k}={v}" for k, v in labels))
        node.members = tuple(p.key for p in pods)
        endpoints.append(pods[0])
        keys.append(b.add(node))
    blocks = {}
    for p in ev.policies:
        for direction in ("ingress", "egress"):
            for rule in p.rules(direction) or ():
                for peer in rule.peers or ():
                    if peer.ip_block is not None:
                        ip = representative_ip(peer)
                        if ip is not None:
                            blocks.setdefault(block_text(peer.ip_block), ip)
    for text, ip in sorted(blocks.items()):
        endpoints.append(External(ip))
        keys.append(b.add(Node(("block", text), text.replace("addresses in ", ""), None, "block", f"e.g. {ip}")))
    ports = probe_ports(cluster, ev.policies)
    m = ev.matrix(endpoints, endpoints, ports)
    isolated_in = [isinstance(e, Pod) and bool(ev._selecting(ev._facts(e), "ingress")) for e in endpoints]
    isolated_eg = [isinstance(e, Pod) and bool(ev._selecting(ev._facts(e), "egress")) for e in endpoints]
    reached = [False] * len(endpoints)
    reaches = [False] * len(endpoints)
    for i in range(len(endpoints)):
        for j in range(len(endpoints)):
            if not (isolated_eg[i] or isolated_in[j]):
                continue  # nothing governs this pair: not drawn (see docs/graph.md)
            if not isinstance(endpoints[i], Pod) and not isinstance(endpoints[j], Pod):
                continue
            allowed = [f"{proto} {port}" for port, proto in ports if m.allowed(i, j, (port, proto))]
            if allowed:
                b.connect(keys[i], keys[j], allowed)
                reached[j] = reaches[i] = True
    for i, key in enumerate(keys):
        node = b.nodes[key]
        marks = []
        if isolated_in[i] and not reached[i]:
            marks.append("no ingress")
        if isolated_eg[i] and not reaches[i]:
            marks.append("no egress")
        node.marks = tuple(marks)
    return b.finish(collapse)


# --------------------------------------------------------------------------
# Collapsing large namespaces
# --------------------------------------------------------------------------


def _collapse(nodes: dict[tuple, Node], edges: dict, limit: int):
    if limit <= 0:
        return nodes, edges
    counts: dict[str, int] = {}
    for n in nodes.values():
        if n.group is not None:
            counts[n.group] = counts.get(n.group, 0) + 1
    big = {g for g, c in counts.items() if c > limit}
    if not big:
        return nodes, edges
    mapping = {}
    out: dict[tuple, Node] = {}
    for key, n in nodes.items():
        if n.group in big:
            ckey = ("collapsed", n.group)
            mapping[key] = ckey
            out.setdefault(ckey, Node(ckey, f"{counts[n.group]} workloads", n.group, "collapsed", "collapsed"))
        else:
            mapping[key] = key
            out[key] = n
    new_edges: dict = {}
    for (s, d, *change), ports in edges.items():
        new_edges.setdefault((mapping[s], mapping[d], *change), set()).update(ports)
    return out, new_edges


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------


def _node_lines(n: Node) -> list[str]:
    lines = [n.label]
    if n.detail and n.detail != n.label:
        lines.append(n.detail)
    if n.marks:
        lines.append("⊘ " + ", ".join(n.marks))
    return lines


def _mermaid_text(text: str) -> str:
    out = text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    return out.replace("|", "#124;")


_CHANGE_COLORS = {"opened": "#1a7f37", "closed": "#cf222e"}

_MERMAID_SHAPES = {"workload": ('["', '"]'), "pods": ('["', '"]'), "collapsed": ('[["', '"]]'), "block": ('[/"', '"/]'), "any": ('(("', '"))')}


MARKER = "generated by segc graph"


def _boxes(g: Graph):
    """Each namespace box: its number, title and nodes, in drawing order."""
    for gi, (group, title) in enumerate(g.groups.items()):
        yield gi, title, [n for n in g.nodes if n.group == group]


def to_mermaid(g: Graph) -> str:
    out = [f"%% {MARKER}", "flowchart LR"]

    def node_line(n: Node, indent: str) -> str:
        a, z = _MERMAID_SHAPES[n.kind]
        return indent + n.id + a + "<br/>".join(_mermaid_text(x) for x in _node_lines(n)) + z

    for gi, title, members in _boxes(g):
        out.append(f'  subgraph g{gi}["{_mermaid_text(title)}"]')
        out += [node_line(n, "    ") for n in members]
        out.append("  end")
    out += [node_line(n, "  ") for n in g.nodes if n.group is None]
    styles = []
    for i, e in enumerate(g.edges):
        sign = {"opened": "+ ", "closed": "− "}.get(e.change, "")
        out.append(f'  {e.src} -->|"{_mermaid_text(sign + ", ".join(e.ports))}"| {e.dst}')
        if e.change:
            styles.append(f"  linkStyle {i} stroke:{_CHANGE_COLORS[e.change]},stroke-width:2px")
    out += styles
    out.append("  classDef closed fill:#fdecea,stroke:#c0392b,stroke-width:2px,stroke-dasharray:5 3")
    out.append("  classDef peer fill:#f4f6f8,stroke:#7f8c8d")
    out.append("  classDef addr fill:#fff8e1,stroke:#b7950b")
    closed = [n.id for n in g.nodes if n.marks]
    peers = [n.id for n in g.nodes if n.kind == "pods" and not n.marks]
    addrs = [n.id for n in g.nodes if n.kind in ("block", "any")]
    for cls, ids in (("closed", closed), ("peer", peers), ("addr", addrs)):
        if ids:
            out.append(f"  class {','.join(ids)} {cls}")
    return "\n".join(out) + "\n"


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_DOT_SHAPES = {"workload": "box", "pods": "box", "collapsed": "box3d", "block": "parallelogram", "any": "ellipse"}


def to_dot(g: Graph) -> str:
    out = [
        f"// {MARKER}",
        "digraph segc {",
        "  rankdir=LR;",
        "  newrank=true;  // avoids 'trouble in init_rank' with many namespace boxes",
        '  graph [fontname="Helvetica", fontsize=11];',
        '  node [fontname="Helvetica", fontsize=10, shape=box, style="rounded,filled", fillcolor="#eaf2fb", color="#2e6da4"];',
        '  edge [fontname="Helvetica", fontsize=9, color="#555555"];',
    ]

    def node_line(n: Node, indent: str) -> str:
        attrs = [f"label={_dot_text(chr(10).join(_node_lines(n)))}", f"shape={_DOT_SHAPES[n.kind]}"]
        if n.marks:
            attrs.append('style="rounded,filled,dashed", fillcolor="#fdecea", color="#c0392b", penwidth=2')
        elif n.kind == "pods":
            attrs.append('fillcolor="#f4f6f8", color="#7f8c8d"')
        elif n.kind in ("block", "any"):
            attrs.append('style="filled", fillcolor="#fff8e1", color="#b7950b"')
        return f"{indent}{n.id} [{', '.join(attrs)}];"

    for gi, title, members in _boxes(g):
        out.append(f"  subgraph cluster_{gi} {{")
        out.append(f'    label={_dot_text(title)}; style="rounded"; color="#999999";')
        out += [node_line(n, "    ") for n in members]
        out.append("  }")
    out += [node_line(n, "  ") for n in g.nodes if n.group is None]
    for e in g.edges:
        if e.change:
            sign = "+ " if e.change == "opened" else "− "
            color = _CHANGE_COLORS[e.change]
            out.append(f'  {e.src} -> {e.dst} [label={_dot_text(sign + ", ".join(e.ports))}, color="{color}", fontcolor="{color}", penwidth=2];')
        else:
            out.append(f"  {e.src} -> {e.dst} [label={_dot_text(', '.join(e.ports))}];")
    out.append("}")
    return "\n".join(out) + "\n"


def to_svg(g: Graph, dot_binary: str | None = None) -> str:
    """SVG drawn by Graphviz ``dot -Tsvg`` (raises GraphError if it is missing or fails)."""
    exe = dot_binary or shutil.which("dot")
    if exe is None:
        raise GraphError("Graphviz `dot` was not found on PATH; install Graphviz (Debian: apt-get install graphviz) or use --format mermaid|dot")
    dot = to_dot(g).encode()
    # Straight edges as a second try: Graphviz's spline router can fail on big graphs.
    for extra in ([], ["-Gsplines=line"]):
        try:
            proc = subprocess.run([exe, "-Tsvg", *extra], input=dot, capture_output=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise GraphError(f"running Graphviz failed: {e}") from None
        if proc.returncode == 0:
            break
    else:
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        raise GraphError("Graphviz failed: " + "; ".join(lines[-3:]))
    svg = proc.stdout.decode()
    end = svg.find("?>")
    at = end + 2 if svg.startswith("<?xml") and end >= 0 else 0
    return svg[:at] + f"\n<!-- {MARKER} -->" + svg[at:]
