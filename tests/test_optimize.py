"""Every optimizer pass keeps the meaning; the pipeline is idempotent and meets its bound.

Meaning is checked with the Kubernetes evaluator (evaluator 2) on the rendered
objects before and after, on random clusters: the passes rewrite NetworkPolicy
structure, so NetworkPolicy semantics is the yardstick.
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from segc import ir
from segc.backend.plan import plan
from segc.backend.policy import EGRESS, INGRESS, Policy, Rule
from segc.backend.render import render
from segc.compile import resolve_paths
from segc.diagnostics import Collector
from segc.k8s_eval import K8sEvaluator
from segc.optimize import MAX_ROUNDS, PASSES, Stats, canonical, optimize
from segc.optimize.algebra import selector_within
from strategies import PROBE_PORTS, cluster, program


def naive(text: str):
    result = resolve_paths(["p.seg"], {"p.seg": text})
    assert result.program is not None
    diags = Collector()
    policies = plan(result.program, diags)
    return None if diags.has_errors else canonical(policies)


def same_meaning(a, b, c) -> None:
    ea, eb = K8sEvaluator(render(a), c), K8sEvaluator(render(b), c)
    eps = c.endpoints()
    for s in eps:
        for d in eps:
            for port, proto in PROBE_PORTS:
                assert ea.allowed(s, d, port, proto) == eb.allowed(s, d, port, proto), (s.key, d.key, port, proto)


@pytest.mark.parametrize("name,run", PASSES, ids=[n for n, _ in PASSES])
@given(text=program(), c=cluster())
def test_pass_keeps_meaning(name, run, text, c):
    before = naive(text)
    if before is None:
        return
    # Each pass sees what the passes before it produce, as in the pipeline.
    for other, other_run in PASSES:
        if other == name:
            break
        before, _ = other_run(before)
    after, _ = run(before)
    note(render(before))
    note(render(after))
    same_meaning(before, after, c)


@given(program())
def test_pipeline_is_idempotent_and_within_the_bound(text):
    policies = naive(text)
    if policies is None:
        return
    once = optimize(policies)
    twice = optimize(once)
    assert twice == once
    assert render(twice) == render(once)
    bound = len({(p.namespace, p.pods) for p in policies})
    assert len(once) <= bound


@given(program(), cluster())
def test_whole_pipeline_keeps_meaning(text, c):
    policies = naive(text)
    if policies is None:
        return
    same_meaning(policies, optimize(policies), c)


# ------------------------------------------------------------------ examples


def _rule(peers, ports=None):
    return Rule(tuple(peers), ports)


def _pods(ns, app):
    return ir.PodPeer(ir.NsNamed(ns), ir.Selector.app(app))


def test_subsumption_by_star_and_by_port_range():
    star = ir.PodPeer(ir.NsNamed("app"), ir.Selector())
    p = Policy("app", ir.Selector.app("db"), frozenset([INGRESS]), ingress=(
        _rule([_pods("app", "api")], (ir.Port("TCP", 5432, 5432),)),
        _rule([star], (ir.Port("TCP", 5000, 6000),)),
    ))
    stats = Stats()
    (out,) = optimize((p,), stats=stats)
    assert out.ingress == (_rule([star], (ir.Port("TCP", 5000, 6000),)),)
    assert stats.fired["drop-subsumed"] == 1


def test_ports_coalesce_into_ranges_only_with_endport():
    rules = tuple(_rule([_pods("app", "api")], (ir.Port("TCP", n, n),)) for n in (8080, 8081, 8082, 9000))
    p = Policy("app", ir.Selector.app("db"), frozenset([INGRESS]), ingress=rules)
    (new,) = optimize((p,), (1, 30))
    assert new.ingress[0].ports == (ir.Port("TCP", 8080, 8082), ir.Port("TCP", 9000, 9000))
    (old,) = optimize((p,), (1, 24))
    assert len(old.ingress[0].ports) == 4


def test_adjacent_blocks_merge():
    halves = [ir.BlockPeer(ipaddress.ip_network("10.0.0.0/25")), ir.BlockPeer(ipaddress.ip_network("10.0.0.128/25"))]
    p = Policy("app", ir.Selector.app("db"), frozenset([INGRESS]), ingress=(_rule(halves[:1]), _rule(halves[1:])))
    (out,) = optimize((p,))
    assert out.ingress == (_rule([ir.BlockPeer(ipaddress.ip_network("10.0.0.0/24"))]),)


def test_label_expression_implication():
    api = ir.Selector.of([ir.Requirement("tier", ir.IN, ("api",))])
    api_or_worker = ir.Selector.of([ir.Requirement("tier", ir.IN, ("api", "worker"))])
    not_dev = ir.Selector.of([ir.Requirement("env", ir.NOT_IN, ("dev",))])
    prod = ir.Selector.of([ir.Requirement("env", ir.IN, ("prod",))])
    absent = ir.Selector.of([ir.Requirement("env", ir.DOES_NOT_EXIST)])
    assert selector_within(api, api_or_worker) and not selector_within(api_or_worker, api)
    assert selector_within(prod, not_dev)
    assert selector_within(absent, not_dev)
    assert not selector_within(not_dev, prod)


# ------------------------------------------- the pipeline's shortcuts change nothing
#
# ``optimize`` skips work the plain pipeline does (sorting every naive policy
# first, re-sorting after a round that fired nothing) and the passes hand back
# unchanged lists as they were. The plain pipeline, kept here as it was
# written, is the yardstick: the same policies, in the same order, with the
# same source pointers and the same counts, from any input order.


def _reference_rule_key(r: Rule):
    ports = (0,) if r.ports is None else (1, tuple((p.protocol, p.start, p.end, p.name) for p in r.ports))
    return (tuple(ir.peer_sort_key(p) for p in r.peers), ports)


def _reference_canonical_rules(rules):
    new = []
    for r in rules:
        keys = [ir.peer_sort_key(p) for p in r.peers]
        if not all(a < b for a, b in zip(keys, keys[1:])):
            r = Rule(tuple(sorted(set(r.peers), key=ir.peer_sort_key)), r.ports, r.sources)
        new.append(r)
    return tuple(sorted(new, key=_reference_rule_key))


def _reference_canonical(policies):
    out = [p.replace_rules(INGRESS, _reference_canonical_rules(p.ingress)).replace_rules(EGRESS, _reference_canonical_rules(p.egress)) for p in policies]

    def key(p):
        sel = tuple((q.key, q.op, q.values) for q in p.pods.requirements)
        return (p.namespace, sel, sorted(p.isolates), [_reference_rule_key(r) for r in p.ingress], [_reference_rule_key(r) for r in p.egress])

    return tuple(sorted(out, key=key))


def _reference_optimize(policies, k8s_version, stats):
    passes = [(n, f) for n, f in PASSES if n != "coalesce-ports" or k8s_version >= (1, 25)]
    current = _reference_canonical(policies)
    for _ in range(MAX_ROUNDS):
        stats.rounds += 1
        changed = False
        for name, run in passes:
            current, fired = run(current)
            if fired:
                stats.fired[name] += fired
                changed = True
        current = _reference_canonical(current)
        if not changed:
            break
    return current


def _everything(policies):
    """What the output shows: each policy, in order, with its and its rules' source pointers."""
    return [(p, sorted(p.sources), p.from_deny, [sorted(r.sources) for r in p.ingress], [sorted(r.sources) for r in p.egress]) for p in policies]


def _naive_as_planned(text: str):
    result = resolve_paths(["p.seg"], {"p.seg": text})
    assert result.program is not None
    diags = Collector()
    policies = plan(result.program, diags)
    return None if diags.has_errors else policies


# Many rules into one workload, with peers and ports within each other: where
# the order of a workload's policies shows (which of two rules within each
# other stays; which covering rule gets a dropped rule's pointers).
CROWD_PEERS = ["*", "api", "{app in (api, web)}", "{app=api, app}", "{tier=api}", "10.0.0.0/24", "10.0.0.0/8"]
CROWD_PORTS = ["", ":80", ":79-81", ":80,79-81", ":80,443"]


@st.composite
def crowded_program(draw):
    lines = ["namespace app"]
    for _ in range(draw(st.integers(2, 10))):
        src = draw(st.sampled_from(CROWD_PEERS))
        dst = draw(st.sampled_from(["db", "{app=db}"]))
        lines.append(f"allow {src} -> {dst}{draw(st.sampled_from(CROWD_PORTS))}")
    return "\n".join(lines) + "\n"


def _check_against_the_plain_pipeline(policies, version) -> None:
    assert _everything(canonical(policies)) == _everything(_reference_canonical(policies))
    expected_stats, stats = Stats(), Stats()
    expected = _reference_optimize(policies, version, expected_stats)
    got = optimize(policies, version, stats)
    assert _everything(got) == _everything(expected)
    assert render(got) == render(expected)
    assert (stats.fired, stats.rounds) == (expected_stats.fired, expected_stats.rounds)


@given(text=program(max_statements=25), rnd=st.randoms(use_true_random=False), version=st.sampled_from([(1, 30), (1, 24)]))
def test_optimize_gives_what_the_plain_pipeline_gives(text, rnd, version):
    policies = _naive_as_planned(text)
    if policies is None:
        return
    shuffled = list(policies)
    rnd.shuffle(shuffled)
    _check_against_the_plain_pipeline(tuple(shuffled), version)


@given(text=crowded_program(), rnd=st.randoms(use_true_random=False))
def test_optimize_gives_what_the_plain_pipeline_gives_in_a_crowded_workload(text, rnd):
    policies = _naive_as_planned(text)
    assert policies is not None
    shuffled = list(policies)
    rnd.shuffle(shuffled)
    for order in (shuffled, shuffled[::-1]):
        _check_against_the_plain_pipeline(tuple(order), (1, 30))


def test_order_of_a_workloads_policies_decides_which_of_two_equal_rules_stays():
    # Two rules within each other (80 lies in 79-81; {app=api} and {app=api, app}
    # match the same pods) but not equal: drop-subsumed keeps the first, so the
    # result depends on the order group-by-workload joins them in, which must be
    # canonical's order whatever order the policies come in.
    api = ir.Selector.of([ir.Requirement("app", ir.IN, ("api",))])
    api_exists = ir.Selector.of([ir.Requirement("app", ir.IN, ("api",)), ir.Requirement("app", ir.EXISTS)])
    narrow = Rule((ir.PodPeer(ir.NsNamed("app"), api),), (ir.Port("TCP", 79, 81),), frozenset(["a.seg:1"]))
    wide = Rule((ir.PodPeer(ir.NsNamed("app"), api_exists),), (ir.Port("TCP", 79, 81), ir.Port("TCP", 80, 80)), frozenset(["b.seg:2"]))
    db = ir.Selector.app("db")
    first = Policy("app", db, frozenset([INGRESS]), ingress=(narrow,), sources=frozenset(["a.seg:1"]))
    second = Policy("app", db, frozenset([INGRESS]), ingress=(wide,), sources=frozenset(["b.seg:2"]))
    results = []
    for order in ((first, second), (second, first)):
        expected_stats, stats = Stats(), Stats()
        expected = _reference_optimize(order, (1, 30), expected_stats)
        got = optimize(order, (1, 30), stats)
        assert _everything(got) == _everything(expected)
        assert stats.fired == expected_stats.fired and stats.fired["drop-subsumed"] >= 1
        results.append(_everything(got))
    assert results[0] == results[1]
    (policy,) = optimize((first, second))
    assert len(policy.ingress) == 1
