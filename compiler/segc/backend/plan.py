"""Program to policy plan: which pods get which rules, in which namespace.

This is where the meaning of docs/semantics.md becomes native NetworkPolicy
structure, and where "sound or refuse" is decided:

* ``deny-all`` becomes one namespace-wide policy per managed namespace;
* an ``allow`` whose destination selects pods in a managed namespace gives
  those pods an ingress rule (which also isolates them, as the meaning says);
* an ``allow`` whose source selects pods in an egress-isolated namespace gives
  them an egress rule (egress rules are never written for other sources: that
  would isolate them);
* whatever NetworkPolicy cannot say exactly is refused with a diagnostic.

The result is naive: one ``Policy`` per statement and namespace. The
optimizer (``segc.optimize``) makes it small; ``render`` names and prints it.
"""

from __future__ import annotations

from enum import Enum

from .. import ir
from ..cluster import NAME_LABEL
from ..diagnostics import Collector
from .policy import EGRESS, INGRESS, Policy, PolicySet, Rule

ENDPORT_SINCE = (1, 25)  # endPort is GA (and on by default everywhere) from 1.25
MAX_EXPANDED_PORTS = 256


class Match(Enum):
    YES = "yes"
    NO = "no"
    MAYBE = "maybe"


def ns_match(ns: ir.NsSelector, name: str) -> Match:
    """Does ``ns`` select namespace ``name``, knowing only its name label?"""
    if isinstance(ns, ir.NsNamed):
        return Match.YES if ns.name == name else Match.NO
    if isinstance(ns, ir.NsAll):
        return Match.YES
    known = {NAME_LABEL: name}
    result = Match.YES
    for req in ns.selector.requirements:
        if req.key == NAME_LABEL:
            if not req.matches(known):
                return Match.NO
        else:
            result = Match.MAYBE
    return result


def _same(path: str) -> str:
    return path


def _ports_may_overlap(a: ir.Ports, b: ir.Ports) -> bool:
    if a is None or b is None:
        return True
    for p in a:
        for q in b:
            if p.protocol != q.protocol:
                continue
            if p.name or q.name or not (p.end < q.start or q.end < p.start):
                return True
    return False


def _selectors_may_overlap(a: ir.Selector, b: ir.Selector) -> bool:
    """False only when no label set can match both (a cheap, sound test)."""
    for r in a.requirements:
        for s in b.requirements:
            if r.key != s.key:
                continue
            if r.op == ir.IN and s.op == ir.IN and not set(r.values) & set(s.values):
                return False
            if {r.op, s.op} == {ir.IN, ir.DOES_NOT_EXIST} or {r.op, s.op} == {ir.EXISTS, ir.DOES_NOT_EXIST}:
                return False
            if r.op == ir.IN and s.op == ir.NOT_IN and set(r.values) <= set(s.values):
                return False
            if s.op == ir.IN and r.op == ir.NOT_IN and set(s.values) <= set(r.values):
                return False
    return True


class Planner:
    def __init__(self, program: ir.Program, diags: Collector, source_name=_same, k8s_version=(1, 30)):
        self.program = program
        self.k8s_version = k8s_version
        self.source_name = source_name
        self.diags = diags
        self.managed = sorted(program.managed)
        self.egress_isolated = sorted({d.namespace for d in program.deny_alls if d.egress})
        self._managed_set = frozenset(self.managed)
        self._egress_set = frozenset(self.egress_isolated)
        self.policies: list[Policy] = []
        self._from_blocks = [b for b in program.allows if isinstance(b.src, ir.BlockPeer) and isinstance(b.dst, ir.PodPeer)]
        self._unmasked_cache: dict[int, str | None] = {}

    def run(self) -> PolicySet:
        for d in self.program.deny_alls:
            dirs = frozenset(x for x, on in ((INGRESS, d.ingress), (EGRESS, d.egress)) if on)
            text = "deny-all" + ("" if d.ingress and d.egress else " ingress" if d.ingress else " egress") + f" in {d.namespace}"
            self.policies.append(Policy(d.namespace, ir.Selector(), dirs, sources=frozenset([self._pointer(d, text)]), from_deny=True))
        for a in self.program.allows:
            self._allow(a)
        return tuple(self.policies)

    def _add(self, ns: str, pods: ir.Selector, direction: str, peer: ir.Peer, ports: ir.Ports, pointer: str) -> None:
        rule = (Rule((peer,), ports, frozenset([pointer])),)
        if direction == INGRESS:
            self.policies.append(Policy(ns, pods, frozenset([INGRESS]), ingress=rule))
        else:
            self.policies.append(Policy(ns, pods, frozenset([EGRESS]), egress=rule))

    def _allow(self, a: ir.Allow) -> None:
        if a.ports is not None and self.k8s_version < ENDPORT_SINCE and any(p.end > p.start for p in a.ports):
            a = self._without_ranges(a)
            if a is None:
                return
        ok = self._ingress(a)
        ok = self._egress(a) and ok
        if ok and not self._had_effect(a):
            self._no_effect(a)

    def _candidates(self, ns: ir.NsSelector, names: list[str], name_set: frozenset) -> list[str]:
        """The namespaces of ``names`` that ``ns`` may choose (a named one directly)."""
        if isinstance(ns, ir.NsNamed):
            return [ns.name] if ns.name in name_set else []
        return names

    def _had_effect(self, a: ir.Allow) -> bool:
        return self._ingress_targets(a) or self._egress_targets(a)

    def _ingress_targets(self, a: ir.Allow) -> list[str]:
        if not isinstance(a.dst, ir.PodPeer):
            return []
        return [m for m in self._candidates(a.dst.ns, self.managed, self._managed_set) if ns_match(a.dst.ns, m) is not Match.NO]

    def _egress_targets(self, a: ir.Allow) -> list[str]:
        if not isinstance(a.src, ir.PodPeer):
            return []
        return [m for m in self._candidates(a.src.ns, self.egress_isolated, self._egress_set) if ns_match(a.src.ns, m) is not Match.NO]

    # -------------------------------------------------------------- ingress
    def _ingress(self, a: ir.Allow) -> bool:
        if not isinstance(a.dst, ir.PodPeer):
            return True
        pointer = self._pointer(a, a.text or a.to_seg())
        for m in self._candidates(a.dst.ns, self.managed, self._managed_set):
            match = ns_match(a.dst.ns, m)
            if match is Match.NO:
                continue
            if match is Match.MAYBE:
                self.diags.error(
                    a.span,
                    "SEG060",
                    f"cannot compile exactly: the destination selects namespaces by label, and segc cannot know whether the managed namespace {m!r} carries {a.dst.ns.selector.to_seg()}",
                    f"a NetworkPolicy in {m!r} would isolate those pods whatever the namespace's labels are, so the output would deny traffic the program allows",
                    "name the namespaces instead (e.g. `data/postgres`), or exclude the managed ones with `kubernetes.io/metadata.name notin (...)` in the selector",
                )
                return False
            self._add(m, a.dst.pods, INGRESS, a.src, a.ports, pointer)
        return True

    # --------------------------------------------------------------- egress
    def _egress(self, a: ir.Allow) -> bool:
        if not isinstance(a.src, ir.PodPeer):
            return True
        pointer = self._pointer(a, a.text or a.to_seg())
        for m in self._candidates(a.src.ns, self.egress_isolated, self._egress_set):
            match = ns_match(a.src.ns, m)
            if match is Match.NO:
                continue
            if match is Match.MAYBE:
                if id(a) not in self._unmasked_cache:
                    self._unmasked_cache[id(a)] = self._unmasked(a)
                reason = self._unmasked_cache[id(a)]
                if reason:
                    self.diags.error(
                        a.span,
                        "SEG061",
                        f"cannot compile exactly: the source selects namespaces by label, and segc cannot know whether the egress-isolated namespace {m!r} carries {a.src.ns.selector.to_seg()}",
                        "an egress rule must live in the source's namespace and applies there whatever that namespace's labels are; " + reason,
                        f"name the source namespaces instead (e.g. `{m}/...`), or exclude {m!r} with `kubernetes.io/metadata.name notin ({m})` in the selector",
                    )
                    return False
            self._add(m, a.src.pods, EGRESS, a.dst, a.ports, pointer)
        return True

    def _unmasked(self, a: ir.Allow) -> str | None:
        """Why an egress rule written for a namespace that may not match would widen.

        It is exact when the destination's own ingress rules re-check the source
        by labels: the destination must be pods in managed namespaces (so this
        allow isolates them), and no allow from an address block may reach them
        on these ports (an address block can cover the pod's IP).
        """
        dst = a.dst
        if not isinstance(dst, ir.PodPeer):
            return "the destination is an address block, so nothing checks the source's namespace labels on the other end"
        if not isinstance(dst.ns, ir.NsNamed) or dst.ns.name not in self.program.managed:
            return "the destination may be pods in a namespace this program does not manage, so nothing checks the source's namespace labels on the other end"
        for b in self._from_blocks:
            if ns_match(b.dst.ns, dst.ns.name) is Match.NO:
                continue
            if _selectors_may_overlap(b.dst.pods, dst.pods) and _ports_may_overlap(b.ports, a.ports):
                return f"`{b.text or b.to_seg()}` ({b.span}) admits the destination from an address block, which may hold the source's pod IPs"
        return None

    def _without_ranges(self, a: ir.Allow) -> ir.Allow | None:
        """Before Kubernetes 1.25 there is no endPort: list each port of a small range."""
        count = sum(p.end - p.start + 1 for p in a.ports if not p.name)
        if count > MAX_EXPANDED_PORTS:
            v = ".".join(map(str, self.k8s_version))
            self.diags.error(
                a.span,
                "SEG070",
                f"cannot compile for Kubernetes {v}: port ranges need endPort (Kubernetes 1.25), and listing the {count} ports one by one is more than {MAX_EXPANDED_PORTS}",
                "target a newer version with --k8s-version, or narrow the range",
            )
            return None
        ports = []
        for p in a.ports:
            if p.name or p.start == p.end:
                ports.append(p)
            else:
                ports += [ir.Port(p.protocol, n, n) for n in range(p.start, p.end + 1)]
        return ir.Allow(a.src, a.dst, tuple(sorted(set(ports))), a.text, a.span)

    def _pointer(self, st: ir.Allow | ir.DenyAll, text: str) -> str:
        # File and statement text, no line number: inserting a line above a
        # statement must not change the output of the policies it feeds.
        return f"{self.source_name(st.span.file)}: {text}"

    def _no_effect(self, a: ir.Allow) -> None:
        if isinstance(a.src, ir.PodPeer):
            why = "its destination isolates no pod of a namespace this program manages, and its source is not egress-isolated"
            fix = "add `deny-all egress in NS` for the source's namespace, or remove the statement"
        else:
            why = "an address block as source grants nothing by itself, and the destination isolates no pod of a managed namespace"
            fix = "name a destination in a namespace this program manages"
        self.diags.warning(a.span, "SEG100", f"this statement has no effect: {why}", fix)


def plan(program: ir.Program, diags: Collector, source_name=_same, k8s_version=(1, 30)) -> PolicySet:
    """``source_name`` maps a diagnostic file name to the name written in annotations."""
    return Planner(program, diags, source_name, k8s_version).run()
