"""Unit tests for segc.k8s_eval: one group per NetworkPolicy rule, then
properties checked with hypothesis.

References quoted below are the networking.k8s.io/v1 API reference
(NetworkPolicySpec, NetworkPolicyPeer, NetworkPolicyPort, IPBlock) and the
API server's defaulting (pkg/apis/networking/v1/defaults.go).
"""

from __future__ import annotations

import copy
import random

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segc.cluster import Cluster, ContainerPort, External, Namespace, Pod
from segc.k8s_eval import K8sEvaluator, PolicyFileError, load_policies, policies_from_objects

# ---- helpers ------------------------------------------------------------


def make_cluster(pods, namespaces=None, externals=()):
    cluster = Cluster()
    for name, labels in (namespaces or {}).items():
        cluster.namespaces[name] = Namespace(name, labels)
    for p in pods:
        cluster.namespace(p.namespace)
        cluster.pods.append(p)
    for ip in externals:
        cluster.add_external(ip)
    return cluster


def np(name, spec, namespace="default"):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


WEB = Pod("default", "web", {"app": "web"}, "10.0.0.10", (ContainerPort(80, "TCP", "http"), ContainerPort(53, "UDP", "dns")))
CLIENT = Pod("default", "client", {"app": "client"}, "10.0.0.11")
OTHER = Pod("other", "client", {"app": "client"}, "10.0.1.11")
NOIP = Pod("default", "noip", {"app": "noip"}, None)
INTERNET = External("93.184.216.34")


def evaluator(*policies, pods=(WEB, CLIENT, OTHER, NOIP), namespaces=None, externals=()):
    cluster = make_cluster(list(pods), namespaces or {"other": {"team": "ops"}}, externals)
    return K8sEvaluator(policies_from_objects(copy.deepcopy(list(policies))), cluster)


def both(ev, src, dst, port, proto="TCP"):
    """allowed() and matrix() must agree; return the answer."""
    direct = ev.allowed(src, dst, port, proto)
    grid = ev.matrix([src], [dst], [(port, proto)]).allowed(0, 0, (port, proto))
    assert direct == grid, ev.why(src, dst, port, proto)
    return direct


DENY_INGRESS = np("deny-ingress", {"podSelector": {}, "policyTypes": ["Ingress"]})


# ---- no policies, isolation ---------------------------------------------


def test_no_policies_allow_everything():
    ev = evaluator()
    for src in (WEB, CLIENT, OTHER, INTERNET):
        for dst in (WEB, CLIENT, OTHER, INTERNET):
            assert both(ev, src, dst, 80)


def test_policy_selects_only_pods_of_its_namespace():
    ev = evaluator(np("deny", {"podSelector": {}, "policyTypes": ["Ingress"]}, namespace="other"))
    assert both(ev, CLIENT, WEB, 80)
    assert not both(ev, CLIENT, OTHER, 80)


def test_metadata_namespace_defaults_to_default():
    policy = {"kind": "NetworkPolicy", "metadata": {"name": "deny"}, "spec": {"podSelector": {}}}
    ev = evaluator(policy)
    assert not both(ev, OTHER, WEB, 80)
    assert both(ev, WEB, OTHER, 80)


def test_null_or_missing_pod_selector_selects_every_pod():
    for spec in ({"podSelector": None}, {}, {"podSelector": {"matchLabels": None}}):
        ev = evaluator(np("deny", spec))
        assert not both(ev, OTHER, WEB, 80)
        assert not both(ev, OTHER, CLIENT, 80)


def test_unselected_pods_stay_open():
    ev = evaluator(np("web-only", {"podSelector": {"matchLabels": {"app": "web"}}}))
    assert not both(ev, CLIENT, WEB, 80)
    assert both(ev, WEB, CLIENT, 80)


# ---- policyTypes defaulting ------------------------------------------------


def test_policy_types_default_to_ingress_without_egress_rules():
    ev = evaluator(np("p", {"podSelector": {}}))
    assert not both(ev, OTHER, WEB, 80)  # ingress isolated
    assert both(ev, WEB, INTERNET, 80)  # egress untouched


def test_policy_types_default_adds_egress_when_there_are_egress_rules():
    ev = evaluator(np("p", {"podSelector": {}, "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]}))
    assert not both(ev, OTHER, WEB, 80)
    assert not both(ev, WEB, INTERNET, 80)
    assert both(ev, WEB, INTERNET, 53, "UDP")


def test_policy_types_default_ignores_an_empty_egress_list():
    # defaults.go: `if len(obj.Spec.Egress) != 0 { append Egress }` -- an empty list is not a rule.
    ev = evaluator(np("p", {"podSelector": {}, "egress": []}))
    assert both(ev, WEB, INTERNET, 80)
    assert not both(ev, OTHER, WEB, 80)


def test_empty_policy_types_list_is_defaulted_like_a_missing_one():
    ev = evaluator(np("p", {"podSelector": {}, "policyTypes": [], "egress": [{"to": [{"podSelector": {}}]}]}))
    assert not both(ev, WEB, INTERNET, 80)
    assert not both(ev, OTHER, WEB, 80)


def test_explicit_policy_types_ignore_rules_of_the_other_direction():
    spec = {"podSelector": {}, "policyTypes": ["Egress"], "ingress": [{"from": [{"podSelector": {}}]}]}
    ev = evaluator(np("p", spec))
    assert both(ev, OTHER, WEB, 80)  # not ingress-isolated although ingress rules exist
    assert not both(ev, WEB, OTHER, 80)  # egress-isolated with no egress rules


def test_egress_only_policy_leaves_ingress_open():
    ev = evaluator(np("p", {"podSelector": {}, "policyTypes": ["Egress"]}))
    assert both(ev, INTERNET, WEB, 80)
    assert not both(ev, WEB, CLIENT, 80)


# ---- empty versus missing ---------------------------------------------------


@pytest.mark.parametrize("ingress", [None, []])
def test_ingress_type_without_rules_denies(ingress):
    spec = {"podSelector": {}, "policyTypes": ["Ingress"]}
    if ingress is not None:
        spec["ingress"] = ingress
    ev = evaluator(np("p", spec))
    assert not both(ev, CLIENT, WEB, 80)
    assert not both(ev, INTERNET, WEB, 80)


@pytest.mark.parametrize("rule", [{}, {"from": []}, {"ports": []}, {"from": [], "ports": []}, None])
def test_missing_or_empty_from_and_ports_match_everything(rule):
    # "If this field is empty or missing, this rule matches all sources" / "all ports".
    ev = evaluator(DENY_INGRESS, np("allow", {"podSelector": {}, "ingress": [rule]}))
    for src in (CLIENT, OTHER, INTERNET):
        assert both(ev, src, WEB, 80)
        assert both(ev, src, WEB, 9999, "UDP")


@pytest.mark.parametrize("rule", [{}, {"to": []}, {"ports": []}])
def test_missing_or_empty_to_matches_every_destination(rule):
    ev = evaluator(np("p", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [rule]}))
    for dst in (CLIENT, OTHER, INTERNET):
        assert both(ev, WEB, dst, 443)


# ---- peers --------------------------------------------------------------------


def test_pod_selector_peer_is_limited_to_the_policy_namespace():
    ev = evaluator(DENY_INGRESS, np("p", {"podSelector": {}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}]}]}))
    assert both(ev, CLIENT, WEB, 80)
    assert not both(ev, OTHER, WEB, 80)  # same labels, other namespace


def test_namespace_selector_peer_selects_all_pods_of_matching_namespaces():
    ev = evaluator(np("p", {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "ops"}}}]}]}))
    assert both(ev, OTHER, WEB, 80)
    assert not both(ev, CLIENT, WEB, 80)


def test_null_pod_selector_with_namespace_selector_means_all_pods():
    peer = {"namespaceSelector": {"matchLabels": {"team": "ops"}}, "podSelector": None}
    ev = evaluator(np("p", {"podSelector": {}, "ingress": [{"from": [peer]}]}))
    assert both(ev, OTHER, WEB, 80)


def test_null_peer_fields_count_as_absent():
    peer = {"podSelector": {"matchLabels": {"app": "client"}}, "namespaceSelector": None, "ipBlock": None}
    ev = evaluator(np("p", {"podSelector": {}, "ingress": [{"from": [peer]}]}))
    assert both(ev, CLIENT, WEB, 80)
    assert not both(ev, OTHER, WEB, 80)  # no namespaceSelector: the policy's namespace only
    with pytest.raises(PolicyFileError, match="a peer must set"):
        policies_from_objects([np("p", {"ingress": [{"from": [{"namespaceSelector": None}]}]})])


def test_empty_namespace_selector_selects_every_namespace_but_not_outside():
    ev = evaluator(np("p", {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}}]}]}))
    assert both(ev, OTHER, WEB, 80)
    assert both(ev, CLIENT, WEB, 80)
    assert not both(ev, INTERNET, WEB, 80)


def test_selectors_in_one_peer_are_anded():
    peer = {"namespaceSelector": {"matchLabels": {"team": "ops"}}, "podSelector": {"matchLabels": {"app": "client"}}}
    other_ns_web = Pod("other", "web", {"app": "web"}, "10.0.1.12")
    ev = evaluator(np("p", {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{"from": [peer]}]}),
                   pods=(WEB, CLIENT, OTHER, other_ns_web))
    assert both(ev, OTHER, WEB, 80)
    assert not both(ev, CLIENT, WEB, 80)  # pod matches, namespace does not
    assert not both(ev, other_ns_web, WEB, 80)  # namespace matches, pod does not


def test_separate_peers_are_ored():
    peers = [{"namespaceSelector": {"matchLabels": {"team": "ops"}}}, {"podSelector": {"matchLabels": {"app": "client"}}}]
    ev = evaluator(np("p", {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{"from": peers}]}))
    assert both(ev, OTHER, WEB, 80)
    assert both(ev, CLIENT, WEB, 80)
    assert not both(ev, NOIP, WEB, 80)


def test_rules_of_several_policies_are_ored():
    a = np("a", {"podSelector": {}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}]}]})
    b = np("b", {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "ops"}}}]}]})
    ev = evaluator(a, b)
    assert both(ev, CLIENT, WEB, 80) and both(ev, OTHER, WEB, 80)
    assert not both(ev, NOIP, WEB, 80)


def test_ports_and_peers_of_one_rule_are_anded():
    rule = {"from": [{"podSelector": {"matchLabels": {"app": "client"}}}], "ports": [{"port": 80}]}
    ev = evaluator(np("p", {"podSelector": {}, "ingress": [rule]}))
    assert both(ev, CLIENT, WEB, 80)
    assert not both(ev, CLIENT, WEB, 81)
    assert not both(ev, NOIP, WEB, 80)


# ---- label selectors ----------------------------------------------------------

LABELLED = [
    Pod("default", "prod", {"env": "prod", "tier": "web"}, "10.0.0.21"),
    Pod("default", "dev", {"env": "dev"}, "10.0.0.22"),
    Pod("default", "bare", {}, "10.0.0.23"),
]


@pytest.mark.parametrize(
    "expression, admitted",
    [
        ({"key": "env", "operator": "In", "values": ["prod", "staging"]}, {"prod"}),
        ({"key": "env", "operator": "NotIn", "values": ["prod"]}, {"dev", "bare"}),  # absent key matches
        ({"key": "tier", "operator": "Exists"}, {"prod"}),
        ({"key": "tier", "operator": "DoesNotExist"}, {"dev", "bare"}),
    ],
)
def test_match_expression_operators(expression, admitted):
    rule = {"from": [{"podSelector": {"matchExpressions": [expression]}}]}
    ev = evaluator(np("p", {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [rule]}), pods=(WEB, *LABELLED))
    assert {p.name for p in LABELLED if both(ev, p, WEB, 80)} == admitted


def test_match_labels_and_expressions_are_anded():
    selector = {"matchLabels": {"env": "prod"}, "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["web"]}]}
    ev = evaluator(np("p", {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{"from": [{"podSelector": selector}]}]}),
                   pods=(WEB, *LABELLED))
    assert not any(both(ev, p, WEB, 80) for p in LABELLED)


def test_every_match_label_must_hold():
    selector = {"matchLabels": {"env": "prod", "tier": "db"}}
    ev = evaluator(np("p", {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{"from": [{"podSelector": selector}]}]}),
                   pods=(WEB, *LABELLED))
    assert not both(ev, LABELLED[0], WEB, 80)


def test_namespace_selector_sees_the_metadata_name_label():
    peer = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "other"}}}
    ev = evaluator(np("p", {"podSelector": {}, "ingress": [{"from": [peer]}]}))
    assert both(ev, OTHER, WEB, 80)
    assert not both(ev, CLIENT, WEB, 80)


# ---- ipBlock ------------------------------------------------------------------


def ip_ingress(block):
    return np("p", {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{"from": [{"ipBlock": block}]}]})


def test_ip_block_matches_outside_addresses_and_pods_by_ip():
    ev = evaluator(ip_ingress({"cidr": "10.0.0.0/24"}))
    assert both(ev, CLIENT, WEB, 80)  # 10.0.0.11
    assert not both(ev, OTHER, WEB, 80)  # 10.0.1.11
    assert both(ev, External("10.0.0.200"), WEB, 80)
    assert not both(ev, INTERNET, WEB, 80)


def test_ip_block_except_removes_addresses():
    ev = evaluator(ip_ingress({"cidr": "10.0.0.0/16", "except": ["10.0.1.0/24", "10.0.0.11/32"]}))
    assert not both(ev, CLIENT, WEB, 80)
    assert not both(ev, OTHER, WEB, 80)
    assert both(ev, External("10.0.2.1"), WEB, 80)
    assert both(ev, External("10.0.0.12"), WEB, 80)


def test_pod_without_ip_never_matches_an_ip_block():
    ev = evaluator(ip_ingress({"cidr": "0.0.0.0/0"}))
    assert not both(ev, NOIP, WEB, 80)
    assert both(ev, CLIENT, WEB, 80)


def test_cidr_with_host_bits_is_accepted_like_the_api_server_did():
    ev = evaluator(ip_ingress({"cidr": "10.0.0.77/24"}))
    assert both(ev, CLIENT, WEB, 80)


def test_egress_to_outside_addresses():
    spec = {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "93.184.216.0/24"}}], "ports": [{"port": 443}]}]}
    ev = evaluator(np("p", spec))
    assert both(ev, WEB, INTERNET, 443)
    assert not both(ev, WEB, INTERNET, 80)
    assert not both(ev, WEB, External("1.1.1.1"), 443)
    assert not both(ev, WEB, CLIENT, 443)


def test_outside_sources_and_destinations_have_no_policy_side():
    ev = evaluator(np("deny-all", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}))
    assert both(ev, INTERNET, External("1.1.1.1"), 80)
    assert not both(ev, INTERNET, WEB, 80)
    assert not both(ev, WEB, INTERNET, 80)


V6_WEB = Pod("default", "web6", {"app": "web"}, "fd00::10")
V6_CLIENT = Pod("default", "client6", {"app": "client"}, "fd00::11")


def test_ipv6_blocks_match_ipv6_only():
    ev = evaluator(ip_ingress({"cidr": "fd00::/64", "except": ["fd00::11/128"]}),
                   pods=(WEB, CLIENT, V6_WEB, V6_CLIENT))
    assert both(ev, External("fd00::99"), V6_WEB, 80)
    assert not both(ev, V6_CLIENT, V6_WEB, 80)  # excepted
    assert not both(ev, CLIENT, V6_WEB, 80)  # IPv4 source


def test_ipv4_cidr_never_contains_ipv6_and_back():
    ev4 = evaluator(ip_ingress({"cidr": "0.0.0.0/0"}), pods=(WEB, V6_CLIENT))
    assert not both(ev4, V6_CLIENT, WEB, 80)
    assert not both(ev4, External("2001:db8::1"), WEB, 80)
    ev6 = evaluator(ip_ingress({"cidr": "::/0"}), pods=(WEB, CLIENT))
    assert not both(ev6, CLIENT, WEB, 80)
    assert both(ev6, External("2001:db8::1"), WEB, 80)


def test_ipv4_mapped_ipv6_addresses_and_cidrs_count_as_ipv4():
    # As in Go's net.IPNet.Contains, which compares 4-byte forms.
    ev = evaluator(ip_ingress({"cidr": "10.0.0.0/24"}))
    assert both(ev, External("::ffff:10.0.0.5"), WEB, 80)
    ev_mapped = evaluator(ip_ingress({"cidr": "::ffff:10.0.0.0/120"}))
    assert both(ev_mapped, CLIENT, WEB, 80)
    assert not both(ev_mapped, OTHER, WEB, 80)


# ---- ports --------------------------------------------------------------------


def port_policy(*ports, direction="ingress"):
    spec = {"podSelector": {"matchLabels": {"app": "web"}}, direction: [{"ports": list(ports)}]}
    if direction == "egress":
        spec["policyTypes"] = ["Egress"]
    return np("p", spec)


def test_protocol_defaults_to_tcp():
    ev = evaluator(port_policy({"port": 80}))
    assert both(ev, CLIENT, WEB, 80, "TCP")
    assert not both(ev, CLIENT, WEB, 80, "UDP")


def test_port_without_number_matches_every_port_of_the_protocol():
    ev = evaluator(port_policy({"protocol": "UDP"}))
    assert both(ev, CLIENT, WEB, 1, "UDP") and both(ev, CLIENT, WEB, 65535, "UDP")
    assert not both(ev, CLIENT, WEB, 80, "TCP")
    assert not both(ev, CLIENT, WEB, 80, "SCTP")


def test_end_port_is_an_inclusive_range():
    ev = evaluator(port_policy({"port": 8000, "endPort": 8080}))
    assert [both(ev, CLIENT, WEB, p) for p in (7999, 8000, 8040, 8080, 8081)] == [False, True, True, True, False]


def test_named_port_matches_name_protocol_and_number_of_the_destination():
    ev = evaluator(port_policy({"port": "http"}))
    assert both(ev, CLIENT, WEB, 80)
    assert not both(ev, CLIENT, WEB, 81)  # the name means 80 on this pod
    assert not both(ev, CLIENT, WEB, 80, "UDP")


def test_named_port_with_protocol_mismatch_does_not_match():
    # "dns" is 53/UDP on WEB; a TCP entry named "dns" matches nothing.
    ev = evaluator(port_policy({"port": "dns", "protocol": "TCP"}))
    assert not both(ev, CLIENT, WEB, 53, "TCP")
    assert not both(ev, CLIENT, WEB, 53, "UDP")
    ev_udp = evaluator(port_policy({"port": "dns", "protocol": "UDP"}))
    assert both(ev_udp, CLIENT, WEB, 53, "UDP")


def test_named_port_in_egress_is_resolved_on_the_destination():
    api = Pod("other", "api", {"app": "api"}, "10.0.1.20", (ContainerPort(8443, "TCP", "http"),))
    ev = evaluator(port_policy({"port": "http"}, direction="egress"), pods=(WEB, CLIENT, api))
    assert both(ev, WEB, api, 8443)  # the destination calls 8443 "http"
    assert not both(ev, WEB, api, 80)  # although the source calls 80 "http"
    assert not both(ev, WEB, CLIENT, 80)  # no "http" on CLIENT


def test_named_port_never_matches_outside_addresses():
    ev = evaluator(port_policy({"port": "http"}, direction="egress"))
    assert not both(ev, WEB, INTERNET, 80)


def test_numeric_string_port_stays_a_name():
    ev = evaluator(port_policy({"port": "80"}))
    assert not both(ev, CLIENT, WEB, 80)


def test_sctp_is_not_tcp():
    ev = evaluator(port_policy({"port": 80, "protocol": "SCTP"}))
    assert both(ev, CLIENT, WEB, 80, "SCTP")
    assert not both(ev, CLIENT, WEB, 80, "TCP")


# ---- both sides -----------------------------------------------------------------


def test_egress_and_ingress_must_both_allow():
    egress = np("eg", {"podSelector": {"matchLabels": {"app": "client"}}, "policyTypes": ["Egress"],
                       "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "web"}}}]}]})
    ingress = np("in", {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "noip"}}}]}]})
    ev = evaluator(egress, ingress)
    assert not both(ev, CLIENT, WEB, 80)  # egress allows, ingress does not
    assert not both(ev, CLIENT, NOIP, 80)  # ingress open, egress does not allow
    assert both(ev, NOIP, WEB, 80)


# ---- explanations -----------------------------------------------------------------


def test_why_names_the_admitting_rule():
    ev = evaluator(np("allow", {"podSelector": {}, "ingress": [{"ports": [{"port": 81}]}, {"ports": [{"port": 80}]}]}))
    assert ev.why(CLIENT, WEB, 80, "TCP") == (
        "egress allowed: src not egress-isolated; ingress allowed by NetworkPolicy default/allow ingress rule #2"
    )


def test_why_lists_isolating_policies_when_denied():
    ev = evaluator(DENY_INGRESS, np("web", {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{"ports": [{"port": 81}]}]}))
    assert ev.why(CLIENT, WEB, 80, "TCP") == (
        "denied: dst default/web is ingress-isolated by default/deny-ingress, default/web "
        "and no ingress rule admits default/client on 80/TCP"
    )


def test_why_for_outside_addresses_and_egress_denial():
    ev = evaluator(np("deny-egress", {"podSelector": {}, "policyTypes": ["Egress"]}))
    assert ev.why(INTERNET, WEB, 80, "TCP") == (
        "egress allowed: src is outside the cluster; ingress allowed: dst not ingress-isolated"
    )
    assert ev.why(WEB, INTERNET, 443, "TCP") == (
        "denied: src default/web is egress-isolated by default/deny-egress and no egress rule admits 93.184.216.34 on 443/TCP"
    )


# ---- loading and validation ---------------------------------------------------------


def test_load_policies_reads_streams_and_lists(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump_all([
        np("a", {"podSelector": {}}),
        {"kind": "ConfigMap", "metadata": {"name": "x"}},
        None,
        {"kind": "List", "items": [np("b", {"podSelector": {}})]},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicyList", "items": [np("c", {"podSelector": {}})]},
    ]))
    assert [p["metadata"]["name"] for p in load_policies(str(path))] == ["a", "b", "c"]


def test_load_policies_reports_unreadable_files(tmp_path):
    with pytest.raises(PolicyFileError, match="missing.yaml: cannot read"):
        load_policies(str(tmp_path / "missing.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: [unclosed\n")
    with pytest.raises(PolicyFileError, match="bad.yaml: not valid YAML"):
        load_policies(str(bad))
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just text\n")
    with pytest.raises(PolicyFileError, match="scalar.yaml: expected Kubernetes objects"):
        load_policies(str(scalar))


def test_load_policies_names_the_file_and_the_policy(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(np("broken", {"podSelector": {}, "ingress": [{"ports": [{"protocol": "tcp"}]}]}, "ns1")))
    with pytest.raises(PolicyFileError) as info:
        load_policies(str(path))
    message = str(info.value)
    assert "p.yaml" in message and "ns1/broken" in message and "spec.ingress[0].ports[0]" in message


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ({"podSelector": {"matchExpressions": [{"key": "a", "operator": "Has"}]}}, "operator must be one of"),
        ({"podSelector": {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}}, "needs at least one value"),
        ({"podSelector": {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}}, "takes no values"),
        ({"ingress": [{"ports": [{"port": "http", "endPort": 90}]}]}, "endPort needs a numeric port"),
        ({"ingress": [{"ports": [{"port": 90, "endPort": 80}]}]}, "below port"),
        ({"ingress": [{"ports": [{"port": 0}]}]}, "outside 1-65535"),
        ({"ingress": [{"ports": [{"protocol": "ICMP"}]}]}, "protocol must be one of"),
        ({"ingress": [{"from": [{}]}]}, "a peer must set"),
        ({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}]}]}, "cannot be combined"),
        ({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0/33"}}]}]}, "is not a CIDR"),
        ({"policyTypes": ["Inbound"]}, "unknown type"),
        ({"ingress": {"from": []}}, "must be a list"),
    ],
)
def test_invalid_policies_are_rejected_readably(spec, fragment):
    with pytest.raises(PolicyFileError, match=fragment):
        policies_from_objects([np("bad", {"podSelector": {}, **spec})])


# ---- the grid -------------------------------------------------------------------


def model_cluster():
    pods = [
        Pod(ns, name, {"pod": name}, f"10.0.{i}.{j}", (ContainerPort(80, "TCP", "serve-80-tcp"), ContainerPort(81, "UDP", "serve-81-udp")))
        for i, ns in enumerate("xyz", 1)
        for j, name in enumerate("abc", 1)
    ]
    return make_cluster(pods, {ns: {"ns": ns} for ns in "xyz"}, ["10.0.1.200", "192.0.2.1"])


def test_matrix_structure_and_helpers():
    cluster = model_cluster()
    ev = K8sEvaluator(policies_from_objects([
        np("deny", {"podSelector": {}, "policyTypes": ["Ingress"]}, "x"),
        np("allow-y", {"podSelector": {"matchLabels": {"pod": "a"}},
                       "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}]}, "x"),
    ]), cluster)
    eps = cluster.endpoints()
    ports = [(80, "TCP"), (81, "UDP")]
    m = ev.matrix(eps, eps, ports)
    lists = m.to_lists()
    for port in ports:
        rows = m[port]
        assert len(rows) == len(eps) and all(len(r) == len(eps) for r in rows)
        expected = [[ev.allowed(s, d, *port) for d in eps] for s in eps]
        assert [list(r) for r in rows] == expected == lists[port]
        assert m.count_allowed(port) == sum(map(sum, expected))
    # sources that no policy can tell apart share one row object
    z_rows = [m[(80, "TCP")][i] for i, ep in enumerate(eps) if getattr(ep, "namespace", None) == "z"]
    assert all(r is z_rows[0] for r in z_rows)


def test_matrix_with_no_endpoints_or_ports():
    ev = evaluator(DENY_INGRESS)
    assert ev.matrix([], [WEB], [(80, "TCP")])[(80, "TCP")] == []
    assert ev.matrix([WEB], [], [(80, "TCP")])[(80, "TCP")] == [()]
    assert ev.matrix([WEB], [WEB], []).to_lists() == {}


# ---- properties -------------------------------------------------------------------

KEYS = ("app", "tier")
VALUES = ("a", "b", "c")
NAMESPACES = ("default", "x", "y")
PROBES = [(80, "TCP"), (81, "TCP"), (80, "UDP"), (443, "TCP")]
CIDRS = {4: ["10.0.0.0/8", "10.0.1.0/24", "10.0.0.0/16", "0.0.0.0/0", "10.0.1.5/32"], 6: ["fd00::/8", "::/0", "fd00::5/128"]}

labels = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=2)


@st.composite
def expressions(draw):
    op = draw(st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]))
    expr = {"key": draw(st.sampled_from(KEYS + ("kubernetes.io/metadata.name", "team"))), "operator": op}
    if op in ("In", "NotIn"):
        expr["values"] = draw(st.lists(st.sampled_from(VALUES + NAMESPACES), min_size=1, max_size=2))
    return expr


selectors = st.fixed_dictionaries({}, optional={"matchLabels": labels, "matchExpressions": st.lists(expressions(), max_size=2)})


@st.composite
def ip_blocks(draw):
    version = draw(st.sampled_from([4, 6]))
    block = {"cidr": draw(st.sampled_from(CIDRS[version]))}
    excepts = draw(st.lists(st.sampled_from(CIDRS[version]), max_size=2))
    if excepts:
        block["except"] = excepts
    return {"ipBlock": block}


peers = st.one_of(
    st.fixed_dictionaries({"podSelector": selectors}),
    st.fixed_dictionaries({"namespaceSelector": selectors}),
    st.fixed_dictionaries({"namespaceSelector": selectors, "podSelector": st.one_of(st.none(), selectors)}),
    ip_blocks(),
)


@st.composite
def port_entries(draw):
    entry = {}
    if draw(st.booleans()):
        entry["protocol"] = draw(st.sampled_from(["TCP", "UDP", "SCTP"]))
    kind = draw(st.sampled_from(["none", "number", "range", "name"]))
    if kind in ("number", "range"):
        entry["port"] = draw(st.sampled_from([80, 81, 443]))
        if kind == "range":
            entry["endPort"] = entry["port"] + draw(st.sampled_from([0, 1, 400]))
    elif kind == "name":
        entry["port"] = draw(st.sampled_from(["http", "metrics", "80"]))
    return entry


@st.composite
def rules(draw, peer_key):
    rule = {}
    for key, values in ((peer_key, peers), ("ports", port_entries())):
        choice = draw(st.sampled_from(["missing", "empty", "list"]))
        if choice == "empty":
            rule[key] = []
        elif choice == "list":
            rule[key] = draw(st.lists(values, min_size=1, max_size=2))
    return rule


@st.composite
def policies(draw):
    spec = {"podSelector": draw(selectors)}
    types = draw(st.sampled_from([None, [], ["Ingress"], ["Egress"], ["Ingress", "Egress"]]))
    if types is not None:
        spec["policyTypes"] = types
    for direction, peer_key in (("ingress", "from"), ("egress", "to")):
        if draw(st.booleans()):
            spec[direction] = draw(st.lists(rules(peer_key), max_size=2))
    name = f"p{draw(st.integers(0, 999))}"
    return np(name, spec, draw(st.sampled_from(NAMESPACES)))


@st.composite
def pods(draw, index):
    ports = draw(st.lists(st.tuples(st.sampled_from([80, 81, 443]), st.sampled_from(["TCP", "UDP"]),
                                    st.sampled_from([None, "http", "metrics"])), max_size=3))
    seen, container_ports = set(), []
    for number, proto, name in ports:  # port names are unique within a pod
        if name in seen:
            name = None
        seen.add(name)
        container_ports.append(ContainerPort(number, proto, name))
    ip = draw(st.sampled_from([None, f"10.0.{index % 3}.{index + 1}", "10.0.1.5", f"fd00::{index + 1}", "fd00::5"]))
    return Pod(draw(st.sampled_from(NAMESPACES)), f"pod{index}", draw(labels), ip, tuple(container_ports))


@st.composite
def clusters(draw):
    count = draw(st.integers(1, 6))
    pod_list = [draw(pods(i)) for i in range(count)]
    ns_labels = {ns: draw(st.fixed_dictionaries({}, optional={"team": st.sampled_from(VALUES)})) for ns in NAMESPACES}
    externals = draw(st.lists(st.sampled_from(["10.0.1.99", "192.168.1.1", "fd00::99", "2001:db8::1", "10.0.1.5"]),
                              max_size=2, unique=True))
    return make_cluster(pod_list, ns_labels, externals)


def grid(ev, cluster):
    eps = cluster.endpoints()
    return {probe: [[ev.allowed(s, d, *probe) for d in eps] for s in eps] for probe in PROBES}


# Example counts come from the profile loaded in conftest.py (SEGC_PROFILE=deep for long runs).
PROPERTY_SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(clusters(), st.lists(policies(), max_size=4))
def test_matrix_agrees_with_allowed(cluster, policy_list):
    ev = K8sEvaluator(policies_from_objects(policy_list), cluster)
    eps = cluster.endpoints()
    assert ev.matrix(eps, eps, PROBES).to_lists() == grid(ev, cluster)


@PROPERTY_SETTINGS
@given(clusters(), st.lists(policies(), max_size=4), st.randoms(use_true_random=False))
def test_policy_order_does_not_matter(cluster, policy_list, rnd):
    shuffled = list(policy_list)
    rnd.shuffle(shuffled)
    before = grid(K8sEvaluator(policies_from_objects(policy_list), cluster), cluster)
    assert grid(K8sEvaluator(policies_from_objects(shuffled), cluster), cluster) == before


@PROPERTY_SETTINGS
@given(clusters(), st.lists(policies(), max_size=3), selectors, st.sampled_from(NAMESPACES),
       st.sampled_from([["Ingress"], ["Egress"], ["Ingress", "Egress"]]))
def test_adding_a_policy_without_rules_never_allows_more(cluster, policy_list, selector, namespace, types):
    before = grid(K8sEvaluator(policies_from_objects(policy_list), cluster), cluster)
    extra = np("no-rules", {"podSelector": selector, "policyTypes": types}, namespace)
    after = grid(K8sEvaluator(policies_from_objects([*policy_list, extra]), cluster), cluster)
    for probe in PROBES:
        for row_before, row_after in zip(before[probe], after[probe]):
            assert all(b or not a for b, a in zip(row_before, row_after))


@PROPERTY_SETTINGS
@given(clusters(), st.lists(policies(), max_size=3), st.lists(rules("from"), min_size=1, max_size=2))
def test_adding_rules_to_an_isolated_side_never_denies_more(cluster, policy_list, extra_rules):
    # A policy of type Ingress selecting every pod of a namespace, with some rules, can only
    # isolate pods that are unisolated; for pods already isolated it can only add allowances.
    base = [*policy_list, *(np(f"iso-{ns}", {"podSelector": {}, "policyTypes": ["Ingress"]}, ns) for ns in NAMESPACES)]
    before = grid(K8sEvaluator(policies_from_objects(base), cluster), cluster)
    extra = np("more", {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": extra_rules}, "default")
    after = grid(K8sEvaluator(policies_from_objects([*base, extra]), cluster), cluster)
    for probe in PROBES:
        for row_before, row_after in zip(before[probe], after[probe]):
            assert all(a or not b for b, a in zip(row_before, row_after))


@PROPERTY_SETTINGS
@given(clusters())
def test_without_policies_everything_is_allowed(cluster):
    g = grid(K8sEvaluator([], cluster), cluster)
    assert all(all(row) for rows in g.values() for row in rows)


def test_matrix_agrees_with_allowed_on_a_larger_random_cluster():
    rnd = random.Random(7)
    pods_ = [
        Pod(rnd.choice(NAMESPACES), f"p{i}", {k: rnd.choice(VALUES) for k in KEYS if rnd.random() < 0.7},
            f"10.0.{rnd.randrange(3)}.{i}", (ContainerPort(rnd.choice([80, 81]), "TCP", "http"),))
        for i in range(60)
    ]
    cluster = make_cluster(pods_, {ns: {"team": rnd.choice(VALUES)} for ns in NAMESPACES}, ["10.0.1.250", "8.8.8.8"])
    policy_list = policies_from_objects([
        np("deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}, "x"),
        np("web", {"podSelector": {"matchLabels": {"app": "a"}}, "ingress": [
            {"from": [{"namespaceSelector": {"matchLabels": {"team": "b"}}, "podSelector": {"matchExpressions": [
                {"key": "tier", "operator": "NotIn", "values": ["c"]}]}}], "ports": [{"port": "http"}]},
            {"from": [{"ipBlock": {"cidr": "10.0.1.0/24", "except": ["10.0.1.250/32"]}}]}]}, "default"),
        np("egress", {"podSelector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]}, "egress": [
            {"to": [{"podSelector": {}}], "ports": [{"port": 80, "endPort": 81}]}]}, "y"),
    ])
    ev = K8sEvaluator(policy_list, cluster)
    eps = cluster.endpoints()
    assert ev.matrix(eps, eps, PROBES).to_lists() == grid(ev, cluster)
