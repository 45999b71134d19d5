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
from operator import eq, is_not, lt

from .. import ir
from ..backend.policy import Policy, PolicySet, Rule
from .each import port_key
from . import coalesce_ports, drop_duplicates, drop_subsumed, group_by_workload, merge_blocks, merge_peers, merge_ports

# Order matters: grouping first puts every rule of a workload side by side;
# duplicates go before merging so merges see distinct rules; ports merge
# before peers (same peers, then same ports); subsumption and coalescing
# clean up what the merges produced. Every pass after group-by-workload
# rewrites each policy on its own, one result per policy in the same place
# (``each.each_rule_list``): ``optimize`` relies on it.
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


@lru_cache(maxsize=1 << 14)
def _selector_key(sel: ir.Selector):
    """The order of ``ir.Selector`` (a dataclass with order=True), as plain tuples."""
    return tuple([(q.key, q.op, q.values) for q in sel.requirements])


class _SortedIsolates(dict):
    """frozenset -> its sorted list; at most four entries (subsets of {Ingress, Egress})."""

    def __missing__(self, isolates: frozenset) -> list[str]:
        out = self[isolates] = sorted(isolates)
        return out


_sorted_isolates = _SortedIsolates()


def _sort_keys():
    """``(rule_key, member_key, policy_key)`` for one sort of one policy set.

    A rule's key is its peers' sort keys, then its ports (as their fields: the
    same order as ``ir.Port``'s). A policy's key is its namespace, pods,
    isolation and rules' keys; ``member_key`` is that without namespace and
    pods, for policies known to share them. Keys of rules, and of the peer
    and port-list objects that recur in many rules, are remembered by ``id``
    for this sort only; ``keep`` holds every object remembered, so no id is
    reused meanwhile.
    """
    rule_keys: dict[int, tuple] = {}
    peer_keys: dict[int, tuple] = {}
    port_keys: dict[int, tuple] = {}
    keep: list = []
    peer_sort_key = ir.peer_sort_key

    def rule_key(r: Rule):
        key = rule_keys.get(id(r))
        if key is not None:
            return key
        keep.append(r)  # and with it, its peers and ports
        peers = []
        for p in r.peers:
            k = peer_keys.get(id(p))
            if k is None:
                k = peer_keys[id(p)] = peer_sort_key(p)
            peers.append(k)
        ports = r.ports
        if ports is None:
            pk = (0,)
        else:
            pk = port_keys.get(id(ports))
            if pk is None:
                pk = port_keys[id(ports)] = (1, tuple([port_key(q) for q in ports]))
        key = rule_keys[id(r)] = (tuple(peers), pk)
        return key

    def member_key(p: Policy):
        return (_sorted_isolates[p.isolates], list(map(rule_key, p.ingress)), list(map(rule_key, p.egress)))

    def policy_key(p: Policy):
        return (p.namespace, _selector_key(p.pods), *member_key(p))

    return rule_key, member_key, policy_key


def _canonical_rule(r: Rule, rule_key) -> Rule:
    peers = r.peers
    if len(peers) > 1:
        keys = rule_key(r)[0]  # the peers' sort keys, in the rule's order
        # Strictly increasing keys: sorted and without duplicates (equal keys mean equal peers).
        if not all(map(lt, keys, keys[1:])):
            return Rule(tuple(sorted(set(peers), key=ir.peer_sort_key)), r.ports, r.sources)
    return r


def _canonical_rules(rules: tuple[Rule, ...], rule_key) -> tuple[Rule, ...]:
    if len(rules) < 2:
        if not rules or len(rules[0].peers) < 2:
            return rules  # no order to fix (the common case of a naive policy)
    new = [_canonical_rule(r, rule_key) for r in rules]
    if len(new) > 1:
        new.sort(key=rule_key)
    if not any(map(is_not, new, rules)):
        return rules
    return tuple(new)


def _with_canonical_rules(p: Policy, rule_key) -> Policy:
    ingress, egress = _canonical_rules(p.ingress, rule_key), _canonical_rules(p.egress, rule_key)
    if ingress is p.ingress and egress is p.egress:
        return p
    return Policy(p.namespace, p.pods, p.isolates, ingress, egress, p.sources, p.from_deny)


def canonical(policies: PolicySet) -> PolicySet:
    """Sorted rules, sorted peers, sorted policies: order never shows in output."""
    rule_key, _, policy_key = _sort_keys()
    out = [_with_canonical_rules(p, rule_key) for p in policies]
    # The namespace and pods come first in policy_key; where no two policies
    # share them (as after group-by-workload) they decide the order alone.
    keys = [(p.namespace, _selector_key(p.pods)) for p in out]
    order = sorted(range(len(out)), key=keys.__getitem__)
    if any(map(eq, [keys[i] for i in order[:-1]], [keys[i] for i in order[1:]])):
        out.sort(key=policy_key)  # stable: the same order as sorting by policy_key alone
        return tuple(out)
    return tuple([out[i] for i in order])


def _canonical_within_workloads(policies: PolicySet) -> PolicySet:
    """``canonical`` where group-by-workload can see it.

    Rules and peers are sorted as ``canonical`` sorts them, and the policies
    of one (namespace, pods) stand in ``canonical``'s order, which is the
    order group-by-workload joins their rules in. The groups themselves are
    left in the order they come: nothing reads that order before the sort at
    the end of the round (group-by-workload runs first; every later pass
    rewrites each policy on its own).
    """
    rule_key, member_key, _ = _sort_keys()
    groups: dict[tuple, list[Policy]] = {}
    for p in policies:
        p = _with_canonical_rules(p, rule_key)
        groups.setdefault((p.namespace, p.pods), []).append(p)
    out: list[Policy] = []
    for group in groups.values():
        if len(group) > 1:
            group.sort(key=member_key)  # namespace and pods, the first parts of policy_key, are equal
        out += group
    return tuple(out)


def _round(policies: PolicySet, passes, watch: str = "") -> tuple[PolicySet, dict[str, int], set]:
    """Every pass once, in order: the policies, what each pass fired, and the
    workloads (namespace, pods) whose policy the pass named ``watch`` changed."""
    fired: dict[str, int] = {}
    touched: set = set()
    for name, run in passes:
        new, n = run(policies)
        if n:
            fired[name] = fired.get(name, 0) + n
            if name == watch:
                touched = {(p.namespace, p.pods) for p, q in zip(policies, new) if p is not q}
        policies = new
    return policies, fired, touched


def _first_round(policies: PolicySet, passes) -> tuple[PolicySet, dict[str, int]]:
    """Round one as on ``canonical(policies)``, sorting only where the order shows.

    The order of a workload's policies is the order group-by-workload joins
    their rules in. Up to drop-subsumed, the passes give the same rules (with
    the same sources, firing as often) whatever that order; after it, rules
    are rewritten one by one, and the sort at the end of the round puts them
    in one order (equal rules, which drop-duplicates joins next round, aside).
    Only drop-subsumed reads the order (of two rules within each other the
    first stays; a dropped rule's pointers go to the first rule covering it),
    and only where it changes something, which no order avoids (a rule within
    another, or a peer or port within another of its rule, is so in any
    order). So the naive policies, most of them, are not sorted: the round
    runs on them as they come, and runs again from ``canonical``'s order for
    the workloads drop-subsumed changed, whose results and counts replace
    those of the first run.
    """
    rule_key = _sort_keys()[0]
    as_they_come = tuple([_with_canonical_rules(p, rule_key) for p in policies])
    out, fired, touched = _round(as_they_come, passes, watch="drop-subsumed")
    if touched:
        again = tuple([p for p in as_they_come if (p.namespace, p.pods) in touched])
        _, unsorted_fired, _ = _round(again, passes)
        redone, sorted_fired, _ = _round(_canonical_within_workloads(again), passes)
        out = tuple([p for p in out if (p.namespace, p.pods) not in touched]) + redone
        names = set(fired) | set(sorted_fired)
        fired = {n: fired.get(n, 0) - unsorted_fired.get(n, 0) + sorted_fired.get(n, 0) for n in names}
        assert all(v >= 0 for v in fired.values())
        fired = {n: v for n, v in fired.items() if v}
    return out, fired


def optimize(policies: PolicySet, k8s_version: tuple[int, int] = (1, 30), stats: Stats | None = None) -> PolicySet:
    """Every pass in turn, in rounds, until a round fires none (at most ``MAX_ROUNDS``).

    Each round ends with ``canonical``; a round that fires nothing leaves
    every policy as it was (equal, with the same sources), so the set it
    started from is the result.
    """
    stats = stats if stats is not None else Stats()
    passes = [(n, f) for n, f in PASSES if n != "coalesce-ports" or k8s_version >= ENDPORT_SINCE]
    assert passes[0][0] == "group-by-workload"  # _first_round relies on it
    current = policies
    for round_ in range(1, MAX_ROUNDS + 1):
        stats.rounds += 1
        if round_ == 1:
            new, fired = _first_round(policies, passes)
        else:
            new, fired, _ = _round(current, passes)
        stats.fired.update(fired)
        if not fired and round_ > 1:
            return current
        current = canonical(new)
        if not fired:
            break
    return current
