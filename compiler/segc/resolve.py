"""Syntax IR to a resolved ``Program``: names become selectors in namespaces.

Rules (docs/language.md, "Names"):

* a bare name is a ``group``/``service`` when one is declared (user files win
  over the standard library), otherwise the pods labelled ``app=NAME`` in the
  current namespace;
* a group keeps the namespace that was current where it was defined; a group
  defined before any ``namespace`` statement (every stdlib group) takes the
  namespace of the place that uses it;
* in ``NS/NAME`` the name is always the label ``app=NAME``;
* the current namespace starts unset in every file.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from . import ir
from .diagnostics import Collector
from .ir import Span


@dataclass(frozen=True)
class _Group:
    stmt: ir.GroupStmt
    namespace: str | None  # the namespace current where it was defined
    stdlib: bool


class _Unresolved(Exception):
    pass


class Resolver:
    def __init__(self, files: list[ir.SourceFile], diags: Collector):
        self.files = files
        self.diags = diags
        self.groups: dict[str, _Group] = {}
        self.cyclic: set[str] = set()  # groups whose cycle is already reported
        # Equal peers share one object: later stages compare and hash them
        # millions of times, and identity makes that cheap.
        self._peers: dict[ir.Peer, ir.Peer] = {}
        self._close: dict[str, list[str]] = {}

    def _intern(self, peer: ir.Peer) -> ir.Peer:
        return self._peers.setdefault(peer, peer)

    # ---------------------------------------------------------------- groups
    def collect_groups(self) -> None:
        for f in self.files:
            current = None
            for st in f.statements:
                if isinstance(st, ir.NamespaceStmt):
                    current = st.name
                elif isinstance(st, ir.GroupStmt):
                    self._declare(st, current, f.stdlib)

    def _declare(self, st: ir.GroupStmt, ns: str | None, stdlib: bool) -> None:
        old = self.groups.get(st.name)
        if old is not None and old.stdlib == stdlib:
            self.diags.error(st.span, "SEG040", f"group {st.name!r} is already defined", f"first defined at {old.stmt.span}")
            return
        if old is not None and not old.stdlib:
            return  # a user group shadows the stdlib whatever the load order
        self.groups[st.name] = _Group(st, ns, stdlib)

    # ------------------------------------------------------------- endpoints
    def endpoint(self, ep: ir.SyntaxEndpoint, ns: str | None, span: Span, chain=()) -> tuple[ir.Peer, ir.Ports]:
        """A peer and the ports its group carries (None when it carries none)."""
        if isinstance(ep, ir.Block):
            return ir.BlockPeer(ep.net, ep.excepts), None
        if isinstance(ep, ir.NameRef):
            group = self.groups.get(ep.name)
            if group is not None:
                return self._expand(group, ns, ep, chain)
            self._near_miss(ep)
            return ir.PodPeer(ir.NsNamed(self._current(ns, ep.span)), ir.Selector.app(ep.name)), None
        if isinstance(ep, ir.AllPods):
            return ir.PodPeer(ir.NsNamed(self._current(ns, ep.span)), ir.Selector()), None
        if isinstance(ep, ir.LabelPods):
            return ir.PodPeer(ir.NsNamed(self._current(ns, ep.span)), ep.selector), None
        assert isinstance(ep, ir.Qualified)
        if isinstance(ep.ns, ir.NsByName):
            nsel: ir.NsSelector = ir.NsNamed(ep.ns.name)
        elif isinstance(ep.ns, ir.NsAny):
            nsel = ir.NsAll()
        else:
            nsel = ir.NsLabels(ep.ns.selector)
        pods = ep.pods
        if isinstance(pods, ir.NameRef):
            sel = ir.Selector.app(pods.name)
        elif isinstance(pods, ir.AllPods):
            sel = ir.Selector()
        else:
            sel = pods.selector
        return ir.PodPeer(nsel, sel), None

    def _expand(self, group: _Group, ns: str | None, ref: ir.NameRef, chain) -> tuple[ir.Peer, ir.Ports]:
        name = group.stmt.name
        if name in chain:
            if name not in self.cyclic:
                self.cyclic.add(name)
                cycle = " -> ".join((*chain[chain.index(name):], name))
                self.diags.error(group.stmt.span, "SEG043", f"group {name!r} is defined in terms of itself: {cycle}")
            raise _Unresolved
        target = group.stmt.target
        peer, inner_ports = self.endpoint(target.endpoint, group.namespace or ns, ref.span, (*chain, name))
        return peer, target.ports if target.ports is not None else inner_ports

    def _near_miss(self, ref: ir.NameRef) -> None:
        try:
            close = self._close[ref.name]
        except KeyError:  # the groups are all declared by now: one look-up per name
            close = self._close[ref.name] = difflib.get_close_matches(ref.name, list(self.groups), n=1, cutoff=0.8)
        if close:
            self.diags.warning(
                ref.span,
                "SEG044",
                f"{ref.name!r} is not a group; it means the pods labelled app={ref.name}",
                f"did you mean the group {close[0]!r}?",
            )

    def _current(self, ns: str | None, span: Span) -> str:
        if ns is None:
            self.diags.error(
                span,
                "SEG041",
                "no current namespace for this name",
                "write `namespace NAME` earlier in this file, or qualify it as NAMESPACE/NAME",
            )
            raise _Unresolved
        return ns

    # ----------------------------------------------------------- statements
    def program(self) -> ir.Program:
        self.collect_groups()
        managed: set[str] = set()
        deny_alls: list[ir.DenyAll] = []
        allows: list[ir.Allow] = []
        expects: list[ir.Expect] = []
        denies: list[ir.Deny] = []
        for f in self.files:
            current: str | None = None
            for st in f.statements:
                try:
                    if isinstance(st, ir.NamespaceStmt):
                        current = st.name
                        managed.add(st.name)
                    elif isinstance(st, ir.DenyAllStmt):
                        ns = st.namespace or self._current(current, st.span)
                        managed.add(ns)
                        deny_alls.append(ir.DenyAll(ns, st.ingress, st.egress, st.span))
                    elif isinstance(st, ir.AllowStmt):
                        allows.append(self._allow(st, current))
                    elif isinstance(st, ir.ExpectStmt):
                        a = self._allow(st, current)  # the same endpoint rules as `allow`
                        expects.append(ir.Expect(a.src, a.dst, a.ports, st.allowed, st.text, st.span))
                    elif isinstance(st, ir.DenyStmt):
                        a = self._allow(st, current)
                        denies.append(ir.Deny(a.src, a.dst, a.ports, a.text, a.span))
                    elif isinstance(st, ir.GroupStmt) and not f.stdlib:
                        # Resolve once at the definition to report problems there.
                        self.endpoint(st.target.endpoint, current or _PLACEHOLDER_NS, st.span, (st.name,))
                except _Unresolved:
                    continue
        return ir.Program(frozenset(managed), tuple(deny_alls), tuple(allows), denies=tuple(denies), expects=tuple(expects))

    def _allow(self, st: ir.AllowStmt | ir.DenyStmt | ir.ExpectStmt, current: str | None) -> ir.Allow:
        if st.src is None:
            src: ir.Peer = ir.PodPeer(ir.NsNamed(self._current(current, st.span)), ir.Selector())
        else:
            src, _ = self.endpoint(st.src, current, st.span)
        dst, group_ports = self.endpoint(st.dst.endpoint, current, st.span)
        ports = st.dst.ports if st.dst.ports is not None else group_ports
        return ir.Allow(self._intern(src), self._intern(dst), ports, st.text, st.span)


# A group defined before any `namespace` is checked as if used in some namespace.
_PLACEHOLDER_NS = "default"


def resolve(files: list[ir.SourceFile], diags: Collector) -> ir.Program:
    return Resolver(files, diags).program()
