"""`segc diff`: what a change to the policies opens and closes, by meaning.

Each side (a .seg program, NetworkPolicy YAML files or directories, or
either at a git revision, ``REV:path``) becomes a set of NetworkPolicy
objects (.seg programs are compiled first, so the diff is of what the
cluster will do). Both sides are evaluated by evaluator 2 on one cluster
and every (source, destination, port interval) whose answer differs is a
change:

* with ``--cluster``: that cluster's pods (plus one outside address per
  region the address blocks cut out), so each change is a concrete pod pair;
* without: a witness cluster built from the words of *both* sides
  (witness.py), so each change is a pair of representative endpoints,
  described by the labels that make them what they are.

Port numbers are cut into intervals at every bound any rule of either side
mentions (and every container port number), so one probe answers for a
whole interval and the result is exact per interval. Reformatting or
reordering a program changes no answer, so it shows as no change.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from dataclasses import dataclass, field

from . import ir, witness
from .cluster import Cluster, Pod
from .diagnostics import Diagnostic


class DiffInputError(Exception):
    """A side that cannot be read; the message says which and why."""


@dataclass
class Side:
    spec: str  # as the user wrote it
    policies: list[dict] = field(default_factory=list)
    program: ir.Program | None = None
    texts: dict[str, str] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    ok: bool = True

    def vocabulary(self) -> witness.Vocabulary:
        if self.program is not None:
            return witness.from_program(self.program, with_expects=False)
        return witness.from_policies(self.policies)


# ------------------------------------------------------------------ reading


def _git(args: list[str], cwd: str) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except OSError as e:
        raise DiffInputError(f"cannot run git: {e.strerror or e}") from None
    if done.returncode != 0:
        raise DiffInputError(done.stderr.decode("utf-8", "replace").strip() or f"git {' '.join(args)} failed")
    return done.stdout


def _is_revision_path(spec: str) -> bool:
    if os.path.exists(spec) or ":" not in spec or spec.startswith(":"):
        return False
    rev = spec.partition(":")[0]
    return "/" not in rev or not os.path.exists(rev)


def _revision_files(spec: str) -> tuple[str, str, dict[str, bytes]]:
    """(revision, path inside the repository, {repo path: bytes} of the tree at the revision)."""
    rev, _, path = spec.partition(":")
    root = _git(["rev-parse", "--show-toplevel"], os.getcwd()).decode().strip()
    if path.startswith(("./", "../")) or path in (".", ".."):
        path = os.path.relpath(os.path.abspath(path), root).replace(os.sep, "/")
    path = path.strip("/") if path not in ("", ".") else ""
    data = _git(["archive", "--format=tar", rev], root)
    files = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.endswith((".seg", ".yaml", ".yml", ".json")):
                files[member.name] = tar.extractfile(member).read()
    return rev, path, files


def read_side(spec: str) -> Side:
    """One side of a diff; raises DiffInputError for input that cannot be read."""
    from .compile import compile_paths
    from .k8s_eval import PolicyFileError, load_policies, policies_from_objects
    from .reach_inputs import YAML_SUFFIXES

    side = Side(spec)
    if _is_revision_path(spec):
        rev, path, files = _revision_files(spec)
        if path.endswith(".seg"):
            if path not in files:
                raise DiffInputError(f"{spec}: no such .seg file at {rev}")
            texts = {f"{rev}:{name}": data for name, data in files.items() if name.endswith(".seg")}
            return _from_seg(side, compile_paths([f"{rev}:{path}"], texts))
        prefix = path + "/" if path else ""
        names = [path] if path in files else sorted(n for n in files if n.startswith(prefix) and "/" not in n[len(prefix):] and n.endswith(YAML_SUFFIXES))
        if not names:
            raise DiffInputError(f"{spec}: no .seg file, YAML file or directory of YAML files at {rev}")
        import yaml

        for name in names:
            try:
                docs = list(yaml.load_all(files[name].decode("utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
                side.policies += policies_from_objects(docs)
            except (UnicodeDecodeError, yaml.YAMLError, PolicyFileError) as e:
                raise DiffInputError(f"{rev}:{name}: {e}") from None
        return side
    if spec.endswith(".seg"):
        return _from_seg(side, compile_paths([spec]))
    if os.path.isdir(spec):
        names = [os.path.join(spec, n) for n in sorted(os.listdir(spec)) if n.endswith(YAML_SUFFIXES)]
    elif spec.endswith(YAML_SUFFIXES):
        names = [spec]
    elif not os.path.exists(spec):
        raise DiffInputError(f"{spec}: no such file or directory (nor a git revision path REV:PATH)")
    else:
        raise DiffInputError(f"{spec}: expected a .seg file, a YAML file of NetworkPolicy objects, a directory of them, or REV:PATH")
    for name in names:
        try:
            side.policies += load_policies(name)
        except PolicyFileError as e:
            raise DiffInputError(str(e)) from None
    return side


def _from_seg(side: Side, result) -> Side:
    side.texts = result.texts
    side.diagnostics = result.diagnostics
    side.ok = result.ok
    side.program = result.program
    side.policies = result.policies or []
    return side


# ------------------------------------------------------------------ the diff


@dataclass(frozen=True)
class Change:
    """One (source, destination, port interval) whose answer differs."""

    kind: str  # "opened" | "closed"
    src: object
    dst: object
    ports: witness.PortInterval


@dataclass
class Cause:
    side: str  # "old" | "new"
    role: str  # "allows" | "isolates" | "denies" | "why"
    text: str
    span: ir.Span | None = None

    def to_dict(self) -> dict:
        d = {"side": self.side, "role": self.role, "text": self.text}
        if self.span is not None:
            d.update(file=self.span.file, line=self.span.line, column=self.span.column)
        return d


@dataclass
class Entry:
    """Changes of one kind between two endpoints, ports merged, with causes."""

    kind: str
    src: str
    dst: str
    ports: list[witness.PortInterval]
    causes: list[Cause]

    def ports_text(self) -> str:
        return ", ".join(_merge_text(self.ports))

    def to_dict(self) -> dict:
        return {"change": self.kind, "from": self.src, "to": self.dst, "ports": _merge_text(self.ports), "because": [c.to_dict() for c in self.causes]}


@dataclass
class Diff:
    old: Side
    new: Side
    cluster: Cluster
    witness: witness.Witness | None
    changes: list[Change]
    entries: list[Entry]

    @property
    def opened(self) -> list[Entry]:
        return [e for e in self.entries if e.kind == "opened"]

    @property
    def closed(self) -> list[Entry]:
        return [e for e in self.entries if e.kind == "closed"]


def diff_sides(old: Side, new: Side, cluster: Cluster | None = None) -> Diff:
    """Every change between two readable sides (both ``ok``)."""
    from .k8s_eval import K8sEvaluator

    vocab = old.vocabulary().update(new.vocabulary())
    wit, cluster, intervals = witness.probe_setting(vocab, cluster)
    endpoints = cluster.endpoints()
    probes = [iv.probe for iv in intervals]
    evaluators = K8sEvaluator(old.policies, cluster), K8sEvaluator(new.policies, cluster)
    # A verdict is egress(s) and ingress(d); egress depends only on the policies
    # of the source's namespace, ingress on those of the destination's. So only
    # connections from or to a namespace whose policies differ can change.
    changed = _changed_namespaces(old.policies, new.policies)
    touched = [ep for ep in endpoints if isinstance(ep, Pod) and ep.namespace in changed]
    rest = [ep for ep in endpoints if not (isinstance(ep, Pod) and ep.namespace in changed)]
    # On a witness, s -> s stands for two distinct pods of the same shape
    # (evaluators look only at labels and addresses); on a real cluster a pod
    # is not probed against itself.
    skip_self = wit is None
    changes: list[Change] = []
    if touched:
        for sources, destinations in ((endpoints, touched), (touched, rest)):
            if sources and destinations:
                _compare(evaluators, sources, destinations, intervals, probes, skip_self, changes)
    blocks = wit.blocks if wit else sorted({witness._network(i) for i in vocab.intervals}, key=lambda n: (n.version, int(n.network_address), n.prefixlen))

    def describe(ep) -> str:
        if wit is None:
            return ep.key if isinstance(ep, Pod) else witness.describe_endpoint(ep, cluster, blocks)
        return wit.describe(ep)

    entries = _entries(changes, describe, old, new, evaluators, cluster)
    return Diff(old, new, cluster, wit, changes, entries)


def _changed_namespaces(old: list[dict], new: list[dict]) -> set[str]:
    """Namespaces whose NetworkPolicy specs differ (names and annotations aside)."""
    import json

    def by_ns(policies):
        out: dict[str, list[str]] = {}
        for p in policies:
            ns = str((p.get("metadata") or {}).get("namespace") or "default")
            out.setdefault(ns, []).append(json.dumps(p.get("spec"), sort_keys=True, default=str))
        return {ns: sorted(specs) for ns, specs in out.items()}

    a, b = by_ns(old), by_ns(new)
    return {ns for ns in set(a) | set(b) if a.get(ns) != b.get(ns)}


def _compare(evaluators, sources, destinations, intervals, probes, skip_self, changes) -> None:
    m_old, m_new = (ev.matrix(sources, destinations, probes) for ev in evaluators)
    for iv in intervals:
        rows_old, rows_new = m_old[iv.probe], m_new[iv.probe]
        # Sources of one class share one row object: compare each pair of rows once.
        differing: dict[tuple[int, int], list[int]] = {}
        for i, s in enumerate(sources):
            a, b = rows_old[i], rows_new[i]
            key = (id(a), id(b))
            cols = differing.get(key)
            if cols is None:
                cols = differing[key] = [] if a == b else [j for j, (x, y) in enumerate(zip(a, b)) if x != y]
            for j in cols:
                d = destinations[j]
                if not (skip_self and s is d):
                    changes.append(Change("opened" if b[j] else "closed", s, d, iv))


def _entries(changes, describe, old, new, evaluators, cluster) -> list[Entry]:
    grouped: dict[tuple, list[Change]] = {}
    for c in changes:
        grouped.setdefault((c.kind, describe(c.src), describe(c.dst)), []).append(c)
    out = []
    for (kind, s, d), items in grouped.items():
        first = min(items, key=lambda c: (c.ports.protocol, c.ports.start))
        causes = _causes(first, old, new, evaluators, cluster, describe)
        out.append(Entry(kind, s, d, sorted({c.ports for c in items}, key=lambda p: (p.protocol, p.start)), causes))
    out.sort(key=lambda e: (e.kind != "opened", e.src, e.dst, [(p.protocol, p.start) for p in e.ports]))
    return out


def _merge_text(ports: list[witness.PortInterval]) -> list[str]:
    """Adjacent intervals of one protocol read as one range. A named port's
    interval inside a run is bridged (its number is in the range); at either
    end of a run it is listed by name."""
    runs: list[list[witness.PortInterval]] = []
    for p in sorted(ports, key=lambda p: (p.protocol, p.start)):
        last = runs[-1][-1] if runs else None
        if last and last.protocol == p.protocol and last.end + 1 == p.start:
            runs[-1].append(p)
        else:
            runs.append([p])
    out: list[str] = []
    for run in runs:
        head = []
        while run and run[0].name:
            head.append(run.pop(0))
        tail = []
        while run and run[-1].name:
            tail.insert(0, run.pop())
        out += [p.describe() for p in head]
        if run:
            out.append(witness.PortInterval(run[0].protocol, run[0].start, run[-1].end).describe())
        out += [p.describe() for p in tail]
    return out


# ------------------------------------------------------------------ causes


def _causes(change: Change, old: Side, new: Side, evaluators, cluster, describe) -> list[Cause]:
    """The statements behind a change: what allows it on the side that allows
    it, what isolates on the side that denies it."""
    out = []
    s, d, port, proto = change.src, change.dst, change.ports.start, change.ports.protocol
    allowing, denying = (new, old) if change.kind == "opened" else (old, new)
    for side, name, ev, role in ((allowing, _name(allowing, old), evaluators[allowing is new], "allows"), (denying, _name(denying, old), evaluators[denying is new], "isolates")):
        if side.program is None:
            out.append(Cause(name, "why", witness.rename_in(ev.why(s, d, port, proto), (s, d), describe)))
            continue
        from .seg_eval import SegEvaluator

        seg = SegEvaluator(side.program, cluster)
        if role == "isolates":
            # A deny that matches wins over every allow: it is the reason, and
            # the isolation behind it is beside the point.
            denying_stmts = _denying(seg, s, d, port, proto)
            if denying_stmts:
                role, spans = "denies", denying_stmts
            else:
                spans = _isolating(seg, s, d, port, proto)
        else:
            spans = _granting(seg, s, d, port, proto)
        for span, text in spans:
            out.append(Cause(name, role, _line(side, span) or text, span))
    return out


def _name(side: Side, old: Side) -> str:
    return "old" if side is old else "new"


def _granting(seg, s, d, port, proto):
    found = []
    for a in seg.program.allows:
        if not seg.port_covered(a.ports, port, proto, d):
            continue
        egress = isinstance(s, Pod) and seg.egress_isolated(s) and seg.selects(a.src, s) and seg.covers(a.dst, d)
        ingress = isinstance(d, Pod) and seg.ingress_isolated(d) and seg.selects(a.dst, d) and seg.covers(a.src, s)
        if egress or ingress:
            found.append((a.span, a.text or a.to_seg()))
    return sorted(set(found))


def _denying(seg, s, d, port, proto):
    """The deny statements that match the connection (docs/semantics.md, "Deny")."""
    found = []
    for x in seg.program.denies:
        if seg.covers(x.src, s) and seg.covers(x.dst, d) and seg.port_covered(x.ports, port, proto, d):
            found.append((x.span, x.text or x.to_seg()))
    return sorted(set(found))


def _isolating(seg, s, d, port, proto):
    found = []
    if isinstance(s, Pod) and not seg.egress_ok(s, d, port, proto):
        found += [(x.span, "deny-all") for x in seg.program.deny_alls if x.egress and x.namespace == s.namespace]
    if isinstance(d, Pod) and not seg.ingress_ok(s, d, port, proto):
        denies = [(x.span, "deny-all") for x in seg.program.deny_alls if x.ingress and x.namespace == d.namespace]
        if not denies and d.namespace in seg.program.managed:
            # Isolated because allows name it as their destination (and none covers s).
            denies = [(a.span, a.text or a.to_seg()) for a in seg.program.allows if seg.selects(a.dst, d)][:3]
        found += denies
    return sorted(set(found))


def _line(side: Side, span: ir.Span) -> str:
    text = side.texts.get(span.file)
    if text is None or span.line < 1:
        return ""
    lines = text.split("\n")
    if span.line > len(lines):
        return ""
    return lines[span.line - 1].split("#")[0].strip()


# ------------------------------------------------------------------ rendering


def _where(diff: Diff) -> str:
    c = diff.cluster
    if diff.witness is None:
        return f"the given cluster, {_n(len(c.pods), 'pod')}"
    return f"a witness cluster of {_n(len(c.namespaces), 'namespace')}, {_n(len(c.pods), 'pod')}, {_n(len(c.externals), 'outside address', 'outside addresses')}"


def _n(count: int, one: str, many: str = "") -> str:
    return f"{count} {one if count == 1 else many or one + 's'}"


_TEXT_ROLES = {
    "allows": "allows it",
    "isolates": "isolates; nothing allows it",
    "denies": "denies it, whatever else is allowed",
}


def render_text(diff: Diff) -> str:
    head = f"segc diff {diff.old.spec} {diff.new.spec}"
    if not diff.entries:
        return f"{head}: no change in what is allowed (on {_where(diff)})\n"
    out = [f"{head}: {len(diff.opened)} opened, {len(diff.closed)} closed (on {_where(diff)})", ""]
    for e in diff.entries:
        out.append(f"{e.kind}  {e.src} -> {e.dst}  on {e.ports_text()}")
        for c in e.causes:
            if c.span is not None:
                out.append(f"    {c.side}: {c.span}: {c.text}  ({_TEXT_ROLES[c.role]})")
            else:
                out.append(f"    {c.side}: {c.text}")
    return "\n".join(out) + "\n"


# The picture in a PR comment stays readable up to this many changed paths.
PICTURE_LIMIT = 40


def render_md(diff: Diff) -> str:
    if not diff.entries:
        return f"### segc diff: no change in what is allowed\n\nChecked on {_where(diff)}.\n"
    out = [f"### segc diff: {len(diff.opened)} opened, {len(diff.closed)} closed", "", f"Checked on {_where(diff)}.", ""]
    if len(diff.entries) <= PICTURE_LIMIT:
        out += ["```mermaid", picture(diff).rstrip("\n"), "```", ""]
    out += ["| Change | From | To | Ports | Because |", "|---|---|---|---|---|"]
    for e in diff.entries:
        because = "<br>".join(_md_cause(c) for c in e.causes)
        out.append(f"| **{e.kind}** | `{_md(e.src)}` | `{_md(e.dst)}` | {_md(e.ports_text())} | {because} |")
    return "\n".join(out) + "\n"


def picture(diff: Diff) -> str:
    """What changed as Mermaid text (see ``picture_graph``)."""
    from .graph import to_mermaid

    return to_mermaid(picture_graph(diff))


def picture_graph(diff: Diff):
    """What changed as a graph: one node per endpoint of a change (in its
    namespace's box when it names one namespace), one edge per change, opened
    paths green, closed paths red, each labelled with its ports."""
    from .graph import Edge, Graph, Node

    g = Graph()
    ids: dict[str, str] = {}

    def node(text: str) -> str:
        if text not in ids:
            ns, sep, rest = text.partition("/")
            group = ns if sep and ns.replace("-", "").isalnum() else None
            if group is not None:
                g.groups.setdefault(group, f"namespace {group}")
            ids[text] = f"n{len(ids)}"
            g.nodes.append(Node((text,), rest if group else text, group, "workload" if group else "pods", id=ids[text]))
        return ids[text]

    for e in diff.entries:
        g.edges.append(Edge(node(e.src), node(e.dst), tuple(_merge_text(e.ports)), e.kind))
    return g


def _md_cause(c: Cause) -> str:
    if c.span is None:
        return f"{c.side}: {_md(c.text)}"
    role = {"allows": "allows it", "isolates": "isolates", "denies": "denies it, whatever is allowed"}[c.role]
    return f"{c.side} `{c.span}` {role}: `{_md(c.text)}`"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_json(diff: Diff) -> dict:
    return {
        "old": diff.old.spec,
        "new": diff.new.spec,
        "cluster": "witness" if diff.witness is not None else "given",
        "opened": [e.to_dict() for e in diff.opened],
        "closed": [e.to_dict() for e in diff.closed],
    }
