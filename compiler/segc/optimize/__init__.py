"""The optimizer: passes over the policy-level IR, listed and run in one place.

Every pass is a pure function ``run(PolicySet) -> (PolicySet, times_fired)``
that keeps the meaning (tests/test_optimize.py checks each one with the
Kubernetes evaluator on random clusters). The pipeline repeats until nothing
fires, so optimizing optimized output changes nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .. import ir
from ..backend.policy import EGRESS, INGRESS, PolicySet, Rule
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
    return (tuple(ir.peer_sort_key(p) for p in r.peers), (0,) if r.ports is None else (1, r.ports))


def canonical(policies: PolicySet) -> PolicySet:
    """Sorted rules, sorted peers, sorted policies: order never shows in output."""
    out = []
    for p in policies:
        for d in (INGRESS, EGRESS):
            rules = [Rule(tuple(sorted(set(r.peers), key=ir.peer_sort_key)), r.ports, r.sources) for r in p.rules(d)]
            p = p.replace_rules(d, sorted(rules, key=_canonical_rule_key))
        out.append(p)
    return tuple(sorted(out, key=lambda p: (p.namespace, p.pods, sorted(p.isolates), [_canonical_rule_key(r) for r in p.ingress], [_canonical_rule_key(r) for r in p.egress])))


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
