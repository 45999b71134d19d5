"""The `segc build --stats` report: naive vs optimized, the bound, passes fired."""

from __future__ import annotations

from .backend.policy import PolicySet
from .optimize import ENDPORT_SINCE, Stats


def totals(policies: PolicySet) -> tuple[int, int, int]:
    """(policies, rules, peers)."""
    rules = peers = 0
    for p in policies:
        r, q = p.counts()
        rules += r
        peers += q
    return len(policies), rules, peers


def bound(naive: PolicySet) -> int:
    """One policy per selected workload: distinct (namespace, pod selector) pairs."""
    return len({(p.namespace, p.pods) for p in naive})


def report(stats: Stats, k8s_version: tuple[int, int], optimized: bool = True) -> str:
    n = totals(stats.naive)
    o = totals(stats.optimized)
    endport = "yes" if k8s_version >= ENDPORT_SINCE else f"no (needs {ENDPORT_SINCE[0]}.{ENDPORT_SINCE[1]})"
    lines = [
        f"target Kubernetes {k8s_version[0]}.{k8s_version[1]}: endPort ranges {endport}",
        f"statements in: {stats.statements}",
        f"{'':12}{'policies':>10}{'rules':>10}{'peers':>10}",
        f"{'naive':12}{n[0]:>10}{n[1]:>10}{n[2]:>10}",
        f"{'optimized' if optimized else 'written':12}{o[0]:>10}{o[1]:>10}{o[2]:>10}",
        f"bound (one policy per selected workload): {bound(stats.naive)}",
    ]
    if stats.before_denies is not None:
        b, c = totals(stats.before_denies), stats.deny_cost
        lines.insert(4, f"{'- no deny':12}{b[0]:>10}{b[1]:>10}{b[2]:>10}")
        lines.append(
            f"deny elimination ({c.denies} denies): +{n[0] - b[0]} policies, +{n[1] - b[1]} rules, +{n[2] - b[2]} peers in the naive plan; "
            f"{c.split} policies split, {c.isolated} new isolations"
        )
    if optimized:
        fired = ", ".join(f"{name} x{count}" for name, count in sorted(stats.fired.items())) or "none"
        lines.append(f"passes fired ({stats.rounds} rounds): {fired}")
    else:
        lines.append("optimizer off (--no-optimize)")
    return "\n".join(lines)
