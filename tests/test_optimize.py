"""Every optimizer pass keeps the meaning; the pipeline is idempotent and meets its bound.

Meaning is checked with the Kubernetes evaluator (evaluator 2) on the rendered
objects before and after, on random clusters: the passes rewrite NetworkPolicy
structure, so NetworkPolicy semantics is the yardstick.
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, note

from segc import ir
from segc.backend.plan import plan
from segc.backend.policy import INGRESS, Policy, Rule
from segc.backend.render import render
from segc.compile import resolve_paths
from segc.diagnostics import Collector
from segc.k8s_eval import K8sEvaluator
from segc.optimize import PASSES, Stats, canonical, optimize
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
