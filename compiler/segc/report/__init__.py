"""`segc report`: one self-contained HTML page (no network: inline CSS, JS, SVG).

The page holds

* the graph (:mod:`segc.graph`, inline SVG drawn by Graphviz; without
  Graphviz the Mermaid source, which the page cannot draw without a CDN);
* the reachability matrix over equivalence classes of endpoints
  (:func:`segc.reach.classes`), one table per probed port, every cell's
  explanation (evaluator 2's ``why``) precomputed into the page;
* the plain-English explanation per workload (:mod:`segc.explain`);
* findings: diagnostics with their source lines (:func:`collect_findings`,
  the one place that gathers them; other checks pass ``list[Diagnostic]``).

Without ``--cluster`` the matrix runs on a *witness cluster* built from the
policies' own selectors (:func:`witness_cluster`).
"""

from __future__ import annotations

import html
import ipaddress
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Iterable

from ..cluster import NAME_LABEL, Cluster, ContainerPort, Namespace, Pod
from ..diagnostics import Diagnostic
from ..explain import explain_policies, selector_text
from ..graph import (
    DEFAULT_COLLAPSE,
    GraphError,
    representative_ip,
    cluster_graph,
    probe_ports,
    workload_name,
    workload_of,
    symbolic_graph,
    to_mermaid,
    to_svg,
)
from ..k8s_eval import K8sEvaluator, Selector
from ..reach import classes

GENERATOR = "segc report"
MAX_WHY_CELLS = 250_000  # classes x classes x ports beyond which explanations are left out


# --------------------------------------------------------------------------
# Findings
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    severity: str
    code: str
    file: str
    line: int
    column: int
    message: str
    notes: tuple[str, ...]
    source: str  # the source line, "" when unknown

    def to_dict(self) -> dict:
        return {
            "severity": self.severity,
            "code": self.code,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "notes": list(self.notes),
            "source": self.source,
        }


def collect_findings(result, extra: Iterable[Diagnostic] = ()) -> list[Finding]:
    """Every diagnostic of the compile ``result`` (may be None) and ``extra``
    (e.g. lint diagnostics), sorted and de-duplicated, each with its source line."""
    diags = set(extra)
    texts: dict[str, str] = {}
    if result is not None:
        diags |= set(result.diagnostics)
        texts = result.texts or {}
    out = []
    for d in sorted(diags):
        source = ""
        text = texts.get(d.span.file)
        if text is not None and d.span.line >= 1:
            lines = text.split("\n")
            if d.span.line <= len(lines):
                source = lines[d.span.line - 1].rstrip("\r")
        out.append(Finding(d.severity, d.code, d.span.file, d.span.line, d.span.column, d.message, tuple(d.notes), source))
    return out


# --------------------------------------------------------------------------
# The witness cluster: one pod per selector in the policies
# --------------------------------------------------------------------------


def _satisfying_labels(sel: Selector | None) -> dict[str, str] | None:
    """Labels matching ``sel`` (None when this simple choice does not match)."""
    labels: dict[str, str] = {}
    if sel is None:
        return labels
    labels.update(dict(sel.match_labels))
    for key, op, values in sel.expressions:
        if op == "In" and key not in labels:
            labels[key] = sorted(values)[0]
        elif op == "Exists" and key not in labels:
            labels[key] = "x"
    return labels if sel.matches(labels) else None


def _dns_name(text: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return name[:50] or "pods"


def witness_cluster(policy_dicts: list[dict]) -> Cluster:
    """A small cluster with one pod for each selector the policies use.

    * each policy's podSelector: a pod in the policy's namespace with labels
      that match it;
    * each peer: a pod with matching labels, in the namespace it names, or in
      a namespace ``witness-...`` whose labels match its namespaceSelector;
    * every pod carries every named port of the rules (numbered from 20000).

    Selectors no simple label choice satisfies get no pod. Pods have no IP:
    address blocks appear as separate addresses (one per block).
    """
    ev = K8sEvaluator(policy_dicts, Cluster())
    named = sorted(
        {(s.port, s.protocol) for p in ev.policies for d in ("ingress", "egress") for r in p.rules(d) or () for s in r.ports or () if isinstance(s.port, str)}
    )
    ports = tuple(ContainerPort(20000 + i, proto, name) for i, (name, proto) in enumerate(named))
    cluster = Cluster()
    pods: dict[tuple[str, tuple], str] = {}

    def add_pod(ns: str, labels: dict[str, str], hint: str) -> None:
        key = (ns, tuple(sorted(labels.items())))
        if key in pods:
            return
        cluster.namespace(ns)
        base = _dns_name(hint)
        name, n = base, 2
        while any(p.namespace == ns and p.name == name for p in cluster.pods):
            name, n = f"{base}-{n}", n + 1
        pods[key] = name
        cluster.pods.append(Pod(ns, name, labels, None, ports))

    def add_namespace(sel: Selector) -> str | None:
        labels = _satisfying_labels(sel)
        if labels is None:
            return None
        name = labels.pop(NAME_LABEL, None) or "witness-" + _dns_name(selector_text(sel) or "any")
        ns = cluster.namespaces.get(name)
        if ns is None:
            ns = cluster.namespaces[name] = Namespace(name, labels)
        return name if sel.matches(ns.labels) else None

    for p in ev.policies:
        labels = _satisfying_labels(p.selector)
        if labels is not None:
            add_pod(p.namespace, labels, selector_text(p.selector) or "any-pod")
    for p in ev.policies:
        for d in ("ingress", "egress"):
            for r in p.rules(d) or ():
                for peer in r.peers or ():
                    if peer.ip_block is not None:
                        continue
                    labels = _satisfying_labels(peer.pod_selector)
                    if labels is None:
                        continue
                    ns = p.namespace if peer.namespace_selector is None else add_namespace(peer.namespace_selector)
                    if ns is not None:
                        add_pod(ns, labels, selector_text(peer.pod_selector) if peer.pod_selector else "any-pod")
    blocks = set()
    for p in ev.policies:
        for d in ("ingress", "egress"):
            for r in p.rules(d) or ():
                for peer in r.peers or ():
                    if peer.ip_block is not None:
                        ip = representative_ip(peer)
                        if ip is not None:
                            blocks.add(ipaddress.ip_address(ip))
    for ip in sorted(blocks, key=lambda a: (a.version, int(a))):
        cluster.add_external(str(ip))
    cluster.pods.sort(key=lambda p: (p.namespace, p.name))
    return cluster


# --------------------------------------------------------------------------
# The matrix
# --------------------------------------------------------------------------


def _block_networks(ev: K8sEvaluator):
    nets = []
    for p in ev.policies:
        for d in ("ingress", "egress"):
            for r in p.rules(d) or ():
                for peer in r.peers or ():
                    b = peer.ip_block
                    if b is None:
                        continue
                    for version, first, last in ((b.version, b.first, b.last), *b.excepts):
                        size = last - first + 1
                        bits = (32 if version == 4 else 128) - (size.bit_length() - 1)
                        addr = ipaddress.ip_address(first) if version == 4 else ipaddress.IPv6Address(first)
                        nets.append(ipaddress.ip_network(f"{addr}/{bits}"))
    return nets


def matrix_data(policy_dicts: list[dict], cluster: Cluster) -> dict:
    """Classes, ports, answers and explanations, as the page's JSON."""
    ev = K8sEvaluator(policy_dicts, cluster)
    endpoints = cluster.endpoints()
    reps, of = classes(endpoints, cluster, _block_networks(ev))
    members: list[list[str]] = [[] for _ in reps]
    for ep, c in zip(endpoints, of):
        members[c].append(ep.key)
    ports = probe_ports(cluster, ev.policies)
    m = ev.matrix(reps, reps, ports)
    with_why = len(reps) ** 2 * len(ports) <= MAX_WHY_CELLS
    whys: dict[str, int] = {}
    allow, why_index = [], []
    for port in ports:
        rows, why_rows = [], []
        port_text = f"{port[0]}/{port[1]}"
        for i, src in enumerate(reps):
            rows.append("".join("1" if m.allowed(i, j, port) else "0" for j in range(len(reps))))
            if with_why:
                why_rows.append([whys.setdefault(_why_template(ev.why(src, dst, *port), src.key, dst.key, port_text), len(whys)) for dst in reps])
        allow.append(rows)
        why_index.append(why_rows)
    pods_by_key = {p.key: p for p in cluster.pods}
    nodes, seen = [], {}
    for c, rep in enumerate(reps):
        ns = rep.namespace if isinstance(rep, Pod) else ""
        if isinstance(rep, Pod):
            pods = [pods_by_key[k] for k in members[c]]
            name = f"{ns}/{workload_name(pods, workload_of(rep)[1])}"
        else:
            name = rep.key
        if len(members[c]) > 1:
            name += f" ×{len(members[c])}"
        seen[name] = seen.get(name, 0) + 1
        label = name if seen[name] == 1 else f"{name} #{seen[name]}"
        nodes.append({"label": label, "ns": ns, "members": members[c]})
    return {
        "classes": nodes,
        "ports": [f"{p}/{q}" for p, q in ports],
        "allow": allow,  # [port][source class] = "0110...", one character per destination class
        "why": why_index if with_why else None,  # [port][source class][destination class] -> index into whys
        "whys": list(whys),  # explanations, with SRC/DST/PORT placeholders (see _why_template)
        "endpoints": len(endpoints),
    }


# Placeholders for the names in an explanation, so that the explanations of
# many cells share one string; the page puts the names back (exactly: the
# placeholders cannot occur in names).
SRC, DST, PORT = "\u0001S", "\u0001D", "\u0001P"


def _why_template(text: str, src: str, dst: str, port: str) -> str:
    return text.replace(src, SRC).replace(dst, DST).replace(port, PORT)


def why_text(template: str, src: str, dst: str, port: str) -> str:
    """The explanation back from its template (what the page's script does)."""
    return template.replace(SRC, src).replace(DST, dst).replace(PORT, port)


# --------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _explanations_html(policy_dicts: list[dict]) -> str:
    out = []
    for w in explain_policies(policy_dicts):
        out.append(f'<section class="workload" data-ns="{_esc(w.namespace)}"><h3>{_esc(w.title)}</h3><ul>')
        for s in w.sentences():
            out.append(f"<li>{_esc(s)}</li>")
        for note in w.notes:
            out.append(f"<li>{_esc(note)}</li>")
        out.append("</ul></section>")
    return "\n".join(out) or "<p>No NetworkPolicy: every pod accepts and opens every connection.</p>"


def _findings_html(findings: list[Finding]) -> str:
    if not findings:
        return '<p class="none">No findings.</p>'
    rows = []
    for f in findings:
        notes = "".join(f"<div class=\"note\">note: {_esc(n)}</div>" for n in f.notes)
        src = f'<pre class="src">{_esc(f.source)}\n{" " * max(f.column - 1, 0)}^</pre>' if f.source else ""
        rows.append(
            f'<tr class="{_esc(f.severity)}"><td>{_esc(f.severity)}</td><td><code>{_esc(f.code)}</code></td>'
            f"<td><code>{_esc(f.file)}:{f.line}:{f.column}</code></td><td>{_esc(f.message)}{src}{notes}</td></tr>"
        )
    return '<table class="findings"><thead><tr><th>severity</th><th>code</th><th>where</th><th>finding</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>"


def _json_for_script(data) -> str:
    text = json.dumps(data, separators=(",", ":"), sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _svg_inline(svg: str) -> str:
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


def build_report(
    policy_dicts: list[dict],
    result=None,
    cluster: Cluster | None = None,
    findings: list[Finding] | None = None,
    title: str = "segc report",
    collapse: int = DEFAULT_COLLAPSE,
    use_graphviz: bool = True,
) -> str:
    """The HTML page, as a string (deterministic for the same inputs)."""
    if findings is None:
        findings = collect_findings(result)
    witness = cluster is None
    matrix_cluster = witness_cluster(policy_dicts) if witness else cluster
    g = symbolic_graph(policy_dicts, collapse) if witness else cluster_graph(policy_dicts, cluster, collapse)
    graph_html = None
    if use_graphviz:
        try:
            graph_html = '<div class="svg">' + _svg_inline(to_svg(g)) + "</div>"
        except GraphError:
            graph_html = None
    if graph_html is None:
        graph_html = (
            '<p class="hint">Graphviz was not available to draw the graph; its Mermaid source follows '
            "(paste it into a Markdown file on GitHub or GitLab to see it).</p>"
            f'<pre class="mermaid-src">{_esc(to_mermaid(g))}</pre>'
        )
    data = matrix_data(policy_dicts, matrix_cluster)
    data["witness"] = witness
    template = resources.files(__package__).joinpath("template.html").read_text(encoding="utf-8")
    errors = sum(f.severity == "error" for f in findings)
    warnings = sum(f.severity == "warning" for f in findings)
    summary = (
        f"{len(policy_dicts)} NetworkPolicies · {data['endpoints']} endpoints in {len(data['classes'])} classes · "
        f"{len(data['ports'])} ports · {errors} errors, {warnings} warnings"
    )
    cluster_note = (
        "on a witness cluster: one pod per selector of the policies (no --cluster was given)"
        if witness
        else "on the given cluster"
    )
    parts = {
        "TITLE": _esc(title),
        "GENERATOR": GENERATOR,
        "SUMMARY": _esc(summary),
        "CLUSTER_NOTE": _esc(cluster_note),
        "GRAPH": graph_html,
        "EXPLAIN": _explanations_html(policy_dicts),
        "FINDINGS": _findings_html(findings),
        "DATA": _json_for_script(data),
    }
    return re.sub(r"\{\{([A-Z_]+)\}\}", lambda mo: parts[mo.group(1)], template)


def is_report(path: str) -> bool:
    """Whether ``path`` holds a page segc wrote (so it may be overwritten)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = fh.read(2000)
    except OSError:
        return False
    return f'<meta name="generator" content="{GENERATOR}">' in head
