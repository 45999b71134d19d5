"""`deny`: refusals, the set algebra it compiles with, to_seg, order, --stats.

The central claim (the manifests mean what the program says) is in
tests/test_deny_properties.py; this file checks the parts around it.
"""

from __future__ import annotations

import ipaddress

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from segc import ir
from segc.backend.deny import block_minus, conjoin, negate, ports_minus, selector_minus
from segc.cli import cli
from segc.compile import compile_paths, resolve_paths
from segc.output import stream

from strategies import POD_LABELS, selector


def build(text: str, **kw):
    return compile_paths(["t.seg"], {"t.seg": text}, **kw)


def errors(text: str, **kw):
    return [d for d in build(text, **kw).diagnostics if d.severity == "error"]


# ------------------------------------------------------------------ refusals

REFUSED = {
    "SEG080": ("namespace app\ndeny-all\nallow * -> 0.0.0.0/0\ndeny 192.0.2.0/24 -> 169.254.169.254/32\n", 4),
    # db is isolated by nothing: re-allowing outside addresses needs an ipBlock,
    # which would admit batch by its pod IP.
    "SEG082": ("namespace app\ndeny batch -> db:5432\n", 2),
    "SEG081": ("namespace app\ndeny-all\nallow * -> *\ndeny kube-system/* -> 10.0.0.0/8\n", 4),
    "SEG083": ("namespace app\ndeny-all\nallow * -> *\ndeny batch -> db:http\n", 4),
    "SEG085": ("namespace app\ndeny-all\nallow * -> *\ndeny batch -> db:5432\n", 4),
}


@pytest.mark.parametrize("code", sorted(REFUSED))
def test_each_refusal_points_at_the_deny(code):
    text, line = REFUSED[code]
    kw = {"k8s_version": (1, 24)} if code == "SEG085" else {}
    errs = errors(text, **kw)
    assert [e.code for e in errs] == [code], errs
    assert errs[0].span.line == line and errs[0].span.column == 1
    assert errs[0].notes, "a refusal says why and what to write instead"


def test_refusal_through_the_cli_is_a_located_diagnostic(tmp_path):
    f = tmp_path / "t.seg"
    f.write_text(REFUSED["SEG082"][0])
    r = CliRunner().invoke(cli, ["build", str(f), "-o", "-"])
    assert r.exit_code == 1
    assert f"{f}:2:1: error: cannot compile exactly" in r.output
    assert "Traceback" not in r.output


def test_named_port_against_named_port_is_exact():
    assert not errors("namespace app\ndeny-all\nallow * -> db:http\ndeny batch -> db:http\n")


def test_a_block_deny_leaves_label_grants_alone():
    """`deny * -> B` withdraws what was granted by address: the pod rule stays as written."""
    text = "namespace app\ndeny-all egress\nallow * -> *\nallow * -> 0.0.0.0/0:443\ndeny * -> 169.254.169.254/32\n"
    out = stream(build(text).policies)
    assert "- podSelector: {}" in out and '- "169.254.169.254/32"' in out


def test_the_rewrite_suggested_for_seg082_compiles():
    assert not errors("namespace app\ndeny-all ingress\nallow * -> db:5432\ndeny batch -> db:5432\n")


# ------------------------------------------------------------- the algebra

LABELS = [{}] + [{k: v} for k, vs in POD_LABELS.items() for v in vs] + [{"app": "api", "tier": "api"}, {"env": "dev", "tier": "worker"}]


def _sel(text: str) -> ir.Selector:
    result = resolve_paths(["t.seg"], {"t.seg": f"namespace app\nallow {text} -> x\n"})
    return result.program.allows[0].src.pods


@given(selector(POD_LABELS), selector(POD_LABELS))
def test_selector_difference_is_exact(a, b):
    sa, sb = _sel(a), _sel(b)
    parts = selector_minus(sa, sb)
    for labels in LABELS:
        want = sa.matches(labels) and not sb.matches(labels)
        assert any(p.matches(labels) for p in parts) == want, (labels, parts)


@given(selector(POD_LABELS), selector(POD_LABELS))
def test_conjunction_is_exact(a, b):
    sa, sb = _sel(a), _sel(b)
    c = conjoin((*sa.requirements, *sb.requirements))
    for labels in LABELS:
        assert (c is not None and c.matches(labels)) == (sa.matches(labels) and sb.matches(labels))


def test_negation_swaps_operators():
    r = ir.Requirement("app", ir.IN, ("db",))
    assert negate(r) == ir.Requirement("app", ir.NOT_IN, ("db",)) and negate(negate(r)) == r
    assert negate(ir.Requirement("k", ir.EXISTS)).op == ir.DOES_NOT_EXIST


NETS = ["10.0.0.0/8", "10.0.0.0/16", "10.0.0.0/24", "10.0.0.128/25", "10.0.1.0/24", "0.0.0.0/0", "192.0.2.0/24", "fd00::/8"]
ADDRS = [ipaddress.ip_address(a) for a in ["10.0.0.1", "10.0.0.200", "10.0.1.5", "10.9.0.1", "192.0.2.7", "8.8.8.8", "fd00::1", "::1"]]


@st.composite
def blocks(draw):
    net = ipaddress.ip_network(draw(st.sampled_from(NETS)))
    holes = sorted({h for h in map(ipaddress.ip_network, draw(st.lists(st.sampled_from(NETS), max_size=2))) if h.version == net.version and h.subnet_of(net) and h != net}, key=lambda n: (int(n.network_address), n.prefixlen))
    return ir.BlockPeer(net, tuple(holes))


@given(blocks(), blocks())
def test_block_difference_is_exact_and_valid(a, b):
    parts = block_minus(a, b)
    for p in parts:
        assert all(h.subnet_of(p.net) and h != p.net for h in p.excepts), "Kubernetes wants every except inside the cidr"
    for ip in ADDRS:
        assert any(p.contains(ip) for p in parts) == (a.contains(ip) and not b.contains(ip)), (ip, parts)


PORT_ITEMS = [ir.Port("TCP", 80, 80), ir.Port("TCP", 8000, 8100), ir.Port("TCP", 8050, 8050), ir.Port("UDP", 53, 53), ir.Port("TCP", 1, 1000), ir.Port("SCTP", 80, 80)]


@given(st.one_of(st.none(), st.lists(st.sampled_from(PORT_ITEMS), min_size=1, max_size=3).map(tuple)), st.lists(st.sampled_from(PORT_ITEMS), min_size=1, max_size=2).map(tuple))
def test_port_difference_is_exact(a, b):
    left = ports_minus(a, b, (1, 30))
    for proto in ("TCP", "UDP", "SCTP"):
        for n in (1, 53, 79, 80, 81, 999, 1000, 1001, 7999, 8000, 8049, 8050, 8051, 8100, 8101, 65535):
            def has(ps):
                return ps is None or any(p.protocol == proto and p.start <= n <= p.end for p in ps)

            assert has(left) == (has(a) and not has(b)), (proto, n, left)


# -------------------------------------------------------- to_seg, order, stats


@pytest.mark.parametrize(
    "line",
    ["deny batch -> db:5432", "deny 169.254.169.254/32", "deny {tier=api} -> */postgres:5432,8000-8100/tcp", "deny 10.0.0.0/8 except 10.1.0.0/16 -> web:http"],
)
def test_deny_to_seg_means_the_same_deny(line):
    first = resolve_paths(["t.seg"], {"t.seg": f"namespace app\n{line}\n"}).program.denies[0]
    again = resolve_paths(["t.seg"], {"t.seg": f"namespace app\n{first.to_seg()}\n"}).program.denies[0]
    assert first.to_seg().startswith("deny ") and again == first


def test_deny_order_never_shows_in_the_output():
    head = "namespace app\ndeny-all\nallow * -> *\nallow * -> 0.0.0.0/0:443\n"
    denies = ["deny batch -> db:5432", "deny * -> 169.254.169.254/32", "deny {tier=worker} -> db"]
    a = stream(build(head + "\n".join(denies) + "\n").policies)
    b = stream(build(head + "\n".join(reversed(denies)) + "\n").policies)
    assert a == b


def test_stats_report_what_deny_cost(tmp_path):
    f = tmp_path / "t.seg"
    f.write_text("namespace app\ndeny-all\nallow * -> *\ndeny batch -> db:5432\n")
    r = CliRunner().invoke(cli, ["build", str(f), "-o", str(tmp_path / "out"), "--stats"])
    assert r.exit_code == 0, r.output
    assert "deny elimination (1 denies)" in r.output and "- no deny" in r.output


def test_reach_splits_classes_by_deny_blocks(tmp_path):
    """`segc reach` on a .seg with a deny agrees with reach on the built YAML,
    for an address inside the deny's block and one just outside it."""
    import json
    import os

    cluster = os.path.join(os.path.dirname(__file__), "data", "reach", "cluster.yaml")
    seg = tmp_path / "t.seg"
    seg.write_text("namespace app\ndeny * -> 192.0.2.1/32:443\n")
    out = tmp_path / "out.yaml"
    runner = CliRunner()
    assert runner.invoke(cli, ["build", str(seg), "-o", "-"]).exit_code == 0
    out.write_text(runner.invoke(cli, ["build", str(seg), "-o", "-"]).output)
    answers = []
    for policy in (seg, out):
        r = runner.invoke(cli, ["reach", "--cluster", cluster, "--format", "json", "--ports", "443/TCP", "--external", "192.0.2.1,192.0.2.2", str(policy)])
        assert r.exit_code == 0, r.output
        answers.append({(p["from"], p["to"]): p["allowed"] for p in json.loads(r.output)["probes"]})
    assert answers[0] == answers[1]
    assert answers[0][("app/fe", "192.0.2.1")] is False and answers[0][("app/fe", "192.0.2.2")] is True


def test_a_deny_falls_back_to_the_source_egress():
    """The destination's ingress admits an address block (SEG082 there), but the
    source's egress is isolated and lists pods only: the deny is enforced there."""
    text = "namespace app\ndeny-all egress\nallow * -> *\nallow 10.0.0.0/8 -> db\ndeny batch -> db\n"
    result = build(text)
    assert result.ok, result.diagnostics
    out = stream(result.policies)
    assert "batch" in out and "10.0.0.0/8" in out


def test_a_deny_that_withdraws_nothing_is_warned_about():
    result = build("namespace app\ndeny-all\nallow api -> db:5432\ndeny batch -> db\n")
    assert result.ok
    assert [(d.code, d.span.line) for d in result.diagnostics] == [("SEG140", 4)]
    assert not build("namespace app\ndeny-all\nallow * -> db:5432\ndeny batch -> db\n").diagnostics
