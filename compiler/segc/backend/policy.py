"""The policy-level IR: NetworkPolicy structure before it becomes YAML.

The planner produces one ``Policy`` per statement and namespace (naive
compilation); the optimizer passes (``segc.optimize``) rewrite the tuple into
fewer, smaller policies with the same meaning; ``render`` names and prints
them. Source pointers ride along but take no part in equality, so passes
compare meaning only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import ir

INGRESS, EGRESS = "Ingress", "Egress"


@ir.hash_once
@dataclass(frozen=True)
class Rule:
    """Connections from/to any of ``peers`` on any of ``ports`` (None: every port)."""

    peers: tuple[ir.Peer, ...]
    ports: ir.Ports
    sources: frozenset[str] = field(default=frozenset(), compare=False, hash=False)

    def with_sources(self, extra) -> "Rule":
        return Rule(self.peers, self.ports, self.sources | frozenset(extra))


@ir.hash_once
@dataclass(frozen=True)
class Policy:
    """One NetworkPolicy: pods ``pods`` of ``namespace``, isolated in ``isolates``.

    ``isolates`` always contains every direction that has rules (a rule
    implies isolation in its direction), plus any direction a ``deny-all``
    isolates with no rule at all.
    """

    namespace: str
    pods: ir.Selector
    isolates: frozenset[str]
    ingress: tuple[Rule, ...] = ()
    egress: tuple[Rule, ...] = ()
    sources: frozenset[str] = field(default=frozenset(), compare=False, hash=False)
    from_deny: bool = field(default=False, compare=False, hash=False)  # a deny-all made it (naming only)

    def rules(self, direction: str) -> tuple[Rule, ...]:
        return self.ingress if direction == INGRESS else self.egress

    def replace_rules(self, direction: str, rules) -> "Policy":
        rules = tuple(rules)
        if direction == INGRESS:
            return Policy(self.namespace, self.pods, self.isolates, rules, self.egress, self.sources, self.from_deny)
        return Policy(self.namespace, self.pods, self.isolates, self.ingress, rules, self.sources, self.from_deny)

    @property
    def deny_only(self) -> bool:
        return not self.ingress and not self.egress

    def counts(self) -> tuple[int, int]:
        """(rules, peers) in this policy."""
        rules = (*self.ingress, *self.egress)
        return len(rules), sum(len(r.peers) for r in rules)


PolicySet = tuple[Policy, ...]


