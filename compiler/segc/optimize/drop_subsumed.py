"""Drop what a broader rule, peer or port of the same policy already covers.

* a rule whose peers and ports lie within another rule's (``*`` vs a name,
  a port inside a range, a label expression implying another, a block inside
  a block);
* inside one rule, a peer within another peer, and a port within another port.

Exact: only containment proven by ``algebra`` is used.
"""

from __future__ import annotations

from functools import lru_cache
from operator import is_not

from .. import ir
from ..backend.policy import PolicySet, Rule
from .each import each_rule_list
from .algebra import peer_within as _peer_within_uncached
from .algebra import port_within
from .algebra import ports_within as _ports_within_uncached

# The same few thousand peers meet each other in every policy and every round.
peer_within = lru_cache(maxsize=1 << 16)(_peer_within_uncached)
ports_within = lru_cache(maxsize=1 << 14)(_ports_within_uncached)


def peers_within(a: tuple[ir.Peer, ...], b: tuple[ir.Peer, ...]) -> bool:
    if len(a) == 1 and len(b) == 1:
        return peer_within(a[0], b[0])
    return all(any(peer_within(p, q) for q in b) for p in a)


def _prune(items, within) -> tuple:
    """Keep items not within another kept item (the first of equal ones stays)."""
    kept: list = []
    for i, x in enumerate(items):
        if any(within(x, y) and (not within(y, x) or j < i) for j, y in enumerate(items) if j != i):
            continue
        kept.append(x)
    return tuple(kept)


_BLOCKS, _WILD = ("blocks",), ("*",)  # tuples: a namespace may be called "blocks"


@lru_cache(maxsize=1 << 14)
def _bucket(p: ir.Peer):
    """Peers that can only lie within peers of the same or the wildcard bucket."""
    if isinstance(p, ir.BlockPeer):
        return _BLOCKS
    return ("ns", p.ns.name) if isinstance(p.ns, ir.NsNamed) else _WILD


def _prune_peers(peers: tuple) -> tuple:
    if len(peers) < 8:
        return _prune(peers, peer_within)
    buckets: dict = {}
    for i, p in enumerate(peers):
        buckets.setdefault(_bucket(p), []).append((i, p))
    if len(buckets) == len(peers) and _WILD not in buckets:
        return peers  # every peer alone in its namespace (or the only block), none spanning namespaces
    wild = buckets.get(_WILD, [])
    kept = []
    for i, x in enumerate(peers):
        b = _bucket(x)
        if b is not _WILD and b is not _BLOCKS and len(buckets[b]) == 1 and not wild:
            kept.append(x)  # alone in its namespace, and no peer spans namespaces
            continue
        others = buckets[b] + (wild if b is not _WILD and b is not _BLOCKS else [])
        if any(j != i and peer_within(x, y) and (not peer_within(y, x) or j < i) for j, y in others):
            continue
        kept.append(x)
    return tuple(kept)


@lru_cache(maxsize=1 << 12)
def _prune_ports(ports: tuple[ir.Port, ...]) -> tuple[ir.Port, ...]:
    """A few port lists recur in thousands of rules."""
    return _prune(ports, port_within)


def _shrink(rule: Rule) -> Rule:
    peers = rule.peers if len(rule.peers) < 2 else _prune_peers(rule.peers)
    ports = rule.ports if rule.ports is None or len(rule.ports) < 2 else _prune_ports(rule.ports)
    if len(peers) == len(rule.peers) and (ports is rule.ports or len(ports) == len(rule.ports)):
        return rule  # pruning only removes: the same lengths mean the same rule
    return Rule(peers, ports, rule.sources)


# Rule lists known to be left as they are. Whether a list is, is a question
# about its set of rules (no rule, peer or port within another: then nothing
# is dropped whatever the order), and every answer is such a list (pruning
# again drops nothing). The next round of the pipeline meets most of them
# again, sorted: it is answered here. Bounded: emptied when full.
_SETTLED: set[frozenset] = set()
_SETTLED_MAX = 1 << 15


def prune_rules(rules: tuple[Rule, ...]) -> tuple[tuple[Rule, ...], int]:
    rule_set = frozenset(rules)
    if len(rule_set) == len(rules) and rule_set in _SETTLED:
        return rules, 0
    out, fired = _prune_rules(rules)
    if len(_SETTLED) >= _SETTLED_MAX:
        _SETTLED.clear()
    _SETTLED.add(rule_set if out is rules else frozenset(out))
    return out, fired


def _prune_rules(rules: tuple[Rule, ...]) -> tuple[tuple[Rule, ...], int]:
    shrunk = [_shrink(r) for r in rules]
    same = not any(map(is_not, shrunk, rules))
    fired = 0 if same else sum(1 for s, r in zip(shrunk, rules) if s is not r and s != r)
    n = len(shrunk)
    # (i, j) in within: rule i lies within rule j (each pair decided once; ports
    # first: a policy's rules mostly differ in ports, and few ports tests are
    # as many different questions as the peers tests).
    within = {
        (i, j)
        for i, a in enumerate(shrunk)
        for j, b in enumerate(shrunk)
        if i != j and ports_within(a.ports, b.ports) and peers_within(a.peers, b.peers)
    }
    # Rule j covers rule i: i lies within j (of two rules within each other, the first covers the second).
    dropped = {i for i, j in within if (j, i) not in within or j < i}
    if not dropped:
        return (rules, 0) if same else (tuple(shrunk), fired)
    kept = [i for i in range(n) if i not in dropped]
    result = {i: shrunk[i] for i in kept}
    for i in sorted(dropped):
        fired += 1
        # The dropped rule's pointers go to a kept rule that covers it, for review.
        for k in kept:
            if (i, k) in within:
                result[k] = result[k].with_sources(shrunk[i].sources)
                break
    return tuple([result[k] for k in kept]), fired


def run(policies: PolicySet) -> tuple[PolicySet, int]:
    return each_rule_list(policies, prune_rules)
