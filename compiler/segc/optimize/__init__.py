"""The optimizer: passes over the policy-level IR, listed and run in one place.

Every pass is a pure function ``run(PolicySet) -> (PolicySet, times_fired)``
that keeps the meaning (tests/test_optimize.py checks each one with the
Kubernetes evaluator on random clusters). The pipeline repeats until nothing
fires, so optimizing optimized output changes nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from .. import ir
from ..backend.policy import EGRESS, INGRESS, PolicySet, Rule
from .each import port_key
from . import coalesce_ports, drop_duplicates, drop_subsumed, group_by_workload, merge_blocks, merge_peers, merge_ports

# Order matters: grouping first puts every rule of a workload side by side;
# duplicates go before merging so merges see distinct rules; ports merge
# before peers (same peers, then same ports); subsumption and coalescing
# clean up what the merges produced.
PASSES = (
    ("group-by-workload", group_by_workload.run),
    ("drop-duplicates", drop_duplicates.run),
    ("merge-ports", merge_ports.run),
    ("merge-peers", merge_peers.run),
    ("drop-subsumed", drop_subsumed.run),
    ("coalesce-ports", coalesce_ports.run),
    ("merge-blocks", merge_blocks.run),
)

from ..backend.plan import ENDPORT_SINCE
MAX_ROUNDS = 8


@dataclass
class Stats:
    """What `segc build --stats` reports; filled in by compile_paths and optimize."""

    fired: Counter = field(default_factory=Counter)
    rounds: int = 0
    statements: int = 0
    naive: PolicySet = ()
    optimized: PolicySet = ()
    before_denies: PolicySet | None = None  # naive policies before deny elimination (segc.backend.deny)
    deny_cost: object = None


def _canonical_rule_key(r: Rule):
    """Peers' sort keys, then ports (as their fields: the same order as ``ir.Port``'s)."""
    key = r.__dict__.get("_sort_key")  # cached on the (frozen) rule
    if key is None:
        ports = (0,) if r.ports is None else (1, tuple([port_key(p) for p in r.ports]))
        key = r.__dict__["_sort_key"] = (tuple([ir.peer_sort_key(p) for p in r.peers]), ports)
    return key


@lru_cache(maxsize=1 << 14)
def _selector_key(sel: ir.Selector):
    """The order of ``ir.Selector`` (a dataclass with order=True), as plain tuples."""
    return tuple([(q.key, q.op, q.values) for q in sel.requirements])


def _canonical_rule(r: Rule) -> Rule:
    peers = r.peers
    if len(peers) > 1:
        keys = [ir.peer_sort_key(p) for p in peers]
        # Strictly increasing keys: sorted and without duplicates (equal keys mean equal peers).
        if not all(a < b for a, b in zip(keys, keys[1:])):
            return Rule(tuple(sorted(set(peers), key=ir.peer_sort_key)), r.ports, r.sources)
    return r


def _canonical_rules(rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
    new = [_canonical_rule(r) for r in rules]
    if len(new) > 1:
        new.sort(key=_canonical_rule_key)
    if all(a is b for a, b in zip(new, rules)):
        return rules
    return tuple(new)


def _policy_key(p):
    return (
        p.namespace,
        _selector_key(p.pods),
        sorted(p.isolates),
        [_canonical_rule_key(r) for r in p.ingress],
        [_canonical_rule_key(r) for r in p.egress],
    )


def canonical(policies: PolicySet) -> PolicySet:
    """Sorted rules, sorted peers, sorted policies: order never shows in output."""
    out = []
    for p in policies:
        ingress, egress = _canonical_rules(p.ingress), _canonical_rules(p.egress)
        if ingress is not p.ingress or egress is not p.egress:
            p = p.replace_rules(INGRESS, ingress).replace_rules(EGRESS, egress)
        out.append(p)
    out.sort(key=_policy_key)
    return tuple(out)


def optimize(policies: PolicySet, k8s_version: tuple[int, int] = (1, 30), stats: Stats | None = None) -> PolicySet:
    stats = stats if stats is not None else Stats()
    passes = [(n, f) for n, f in PASSES if n != "coalesce-ports" or k8s_version >= ENDPORT_SINCE]
    current = canonical(policies)
    for _ in range(MAX_ROUNDS):
        stats.rounds += 1
        changed = False
        for name, run in passes:
            current, fired = run(current)
            if fired:
                stats.fired[name] += fired
                changed = True
        current = canonical(current)
        if not changed:
            break
    return current
