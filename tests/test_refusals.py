"""Each refusal reason, and why the refused program has no exact NetworkPolicy form.

The argument for each: two clusters that differ only in the labels of one
managed namespace. NetworkPolicy objects written in managed namespaces cannot
tell them apart for the chosen probe (a policy selects its own pods by pod
labels only, and the probe's other end is an address, matched by ipBlock only),
yet the program's meaning differs between them. So no set of policies can be
exact, and segc must refuse. The hypothesis test checks the "cannot tell apart"
half on random policy sets (all that segc or a person could write for those
namespaces); the examples check the "meaning differs" half.
"""

from __future__ import annotations

import yaml
from hypothesis import given

from segc.cluster import Cluster, External, Namespace, Pod
from segc.compile import compile_paths, resolve_paths
from segc.k8s_eval import K8sEvaluator, policies_from_objects
from segc.output import stream
from segc.seg_eval import SegEvaluator
from strategies import program

SEG060 = """namespace app
allow 192.0.2.0/24 -> {team=data}/postgres:5432
"""

SEG061 = """namespace app
deny-all
allow {team=orders}/api -> 203.0.113.10/32:443
"""


def twin_clusters(label: dict[str, str], pod_labels: dict[str, str]) -> tuple[Cluster, Cluster]:
    """Identical clusters except for the labels of namespace `app`."""
    out = []
    for labels in (label, {}):
        c = Cluster()
        c.namespaces["app"] = Namespace("app", labels)
        c.pods.append(Pod("app", "p", pod_labels, "10.0.0.5"))
        c.externals += [External("192.0.2.7"), External("203.0.113.10")]
        out.append(c)
    return out[0], out[1]


def meaning(text: str, c: Cluster, src, dst, port: int) -> bool:
    result = resolve_paths(["t.seg"], {"t.seg": text})
    assert result.program is not None
    return SegEvaluator(result.program, c).allowed(src, dst, port, "TCP")


def refusal(text: str):
    result = compile_paths(["t.seg"], {"t.seg": text})
    errors = [d for d in result.diagnostics if d.severity == "error"]
    assert result.policies is None and len(errors) == 1
    return errors[0]


def test_seg060_destination_namespace_by_label():
    d = refusal(SEG060)
    assert d.code == "SEG060" and (d.span.line, d.span.column) == (2, 1)
    assert "'app'" in d.message and "{team=data}" in d.message
    assert any("name the namespaces" in n for n in d.notes)
    with_label, without = twin_clusters({"team": "data"}, {"app": "postgres"})
    # From an address outside 192.0.2.0/24: isolated in one cluster, open in the other.
    ext = External("203.0.113.10")
    assert meaning(SEG060, with_label, ext, with_label.pods[0], 5432) is False
    assert meaning(SEG060, without, ext, without.pods[0], 5432) is True


def test_seg061_source_namespace_by_label():
    d = refusal(SEG061)
    assert d.code == "SEG061" and d.span.line == 3
    assert "address block" in " ".join(d.notes)
    with_label, without = twin_clusters({"team": "orders"}, {"app": "api"})
    ext = with_label.externals[1]
    assert meaning(SEG061, with_label, with_label.pods[0], ext, 443) is True
    assert meaning(SEG061, without, without.pods[0], without.externals[1], 443) is False


def test_seg061_not_refused_when_the_destination_rechecks_the_source():
    text = "namespace app\ndeny-all\ndeny-all ingress in data\nallow {team=orders}/api -> data/postgres:5432\n"
    result = compile_paths(["t.seg"], {"t.seg": text})
    assert result.ok, result.diagnostics


def test_seg061_refused_when_an_address_block_reaches_the_destination():
    text = "namespace app\ndeny-all\nallow {team=orders}/api -> data/postgres:5432\nallow 10.0.0.0/8 -> data/postgres\n"
    assert refusal(text).code == "SEG061"


def test_name_label_is_decided_exactly():
    text = "namespace app\nallow 192.0.2.0/24 -> {kubernetes.io/metadata.name notin (app), team=data}/postgres:5432\n"
    assert compile_paths(["t.seg"], {"t.seg": text}).ok


@given(program())
def test_policies_cannot_tell_the_twins_apart(text):
    """For any policies segc writes, the probes above get one answer on both twins."""
    result = compile_paths(["p.seg"], {"p.seg": text})
    if result.policies is None:
        return
    policies = policies_from_objects(yaml.safe_load_all(stream(result.policies)))
    for label, pod_labels, probe in (
        ({"team": "data"}, {"app": "postgres"}, lambda c: (c.externals[1], c.pods[0], 5432)),
        ({"team": "orders"}, {"app": "api"}, lambda c: (c.pods[0], c.externals[1], 443)),
    ):
        a, b = twin_clusters(label, pod_labels)
        src_a, dst_a, port = probe(a)
        src_b, dst_b, _ = probe(b)
        assert K8sEvaluator(policies, a).allowed(src_a, dst_a, port, "TCP") == K8sEvaluator(policies, b).allowed(src_b, dst_b, port, "TCP")
