"""Runs every case of tests/conformance/ through K8sEvaluator.

Each case is transcribed from public material (the ``source`` field says
where); the expectations are theirs, never adjusted to the evaluator.  The
case format is described in tests/conformance/README.md.  Every expectation
is checked twice: through ``allowed()`` (the readable path) and through
``matrix()`` (the grouped, fast path).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from segc.cluster import Cluster, External, cluster_from_objects
from segc.k8s_eval import K8sEvaluator, policies_from_objects

CASE_DIR = Path(__file__).parent / "conformance"
CASE_FILES = sorted(CASE_DIR.glob("*.yaml"))
CASE_KEYS = {"name", "source", "description", "upstream", "cluster", "externals", "policies", "expect"}
MARK = {True: ".", False: "X"}


# ---- building a case ----------------------------------------------------


def _model_objects(model: dict, cluster_spec: dict) -> list[dict]:
    """Namespace and Pod objects of the e2e netpol model (test/e2e/network/netpol/model.go):
    namespaces labelled ns=<name>, pods labelled pod=<name>, one container per
    port x protocol whose port is named serve-<port>-<protocol in lower case>."""
    ns_labels = cluster_spec.get("namespace_labels") or {}
    pod_labels = cluster_spec.get("pod_labels") or {}
    ips = cluster_spec.get("pod_ips") or {}
    objects = []
    for ns in model["namespaces"]:
        objects.append({"kind": "Namespace", "metadata": {"name": ns, "labels": {"ns": ns, **ns_labels.get(ns, {})}}})
        for pod in model["pods"]:
            key = f"{ns}/{pod}"
            containers = [
                {
                    "name": f"cont-{port}-{proto.lower()}",
                    "ports": [{"containerPort": port, "name": f"serve-{port}-{proto.lower()}", "protocol": proto}],
                }
                for port in model["ports"]
                for proto in model["protocols"]
            ]
            obj = {
                "kind": "Pod",
                "metadata": {"name": pod, "namespace": ns, "labels": {"pod": pod, **pod_labels.get(key, {})}},
                "spec": {"containers": containers},
            }
            if key in ips:
                obj["status"] = {"podIP": ips[key]}
            objects.append(obj)
    return objects


def build_cluster(case: dict) -> Cluster:
    spec = case.get("cluster") or {}
    objects = []
    if "model" in spec:
        objects += _model_objects(spec["model"], spec)
    objects += copy.deepcopy(spec.get("objects") or [])
    cluster = cluster_from_objects(objects)
    for ip in case.get("externals") or []:
        cluster.add_external(str(ip))
    return cluster


@dataclass
class Case:
    path: Path
    data: dict
    cluster: Cluster
    evaluator: K8sEvaluator

    @classmethod
    def load(cls, path: Path) -> "Case":
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        cluster = build_cluster(data)
        policies = policies_from_objects(copy.deepcopy(data.get("policies") or []))
        return cls(path, data, cluster, K8sEvaluator(policies, cluster))

    def endpoint(self, key: str):
        for ep in self.cluster.endpoints():
            if ep.key == key:
                return ep
        if key[:1].isdigit() or ":" in key:
            return External(key)
        raise KeyError(f"{self.path.name}: no endpoint {key!r} in the cluster")


# ---- truth tables -------------------------------------------------------


def parse_table(text: str) -> tuple[list[str], list[str], dict[tuple[str, str], bool]]:
    """A truth table: header '-' then destinations; each row a source then marks."""
    lines = [line.split() for line in text.strip().splitlines() if line.strip()]
    header = lines[0]
    assert header[0] == "-", "a table starts with '-' in its corner"
    dsts, srcs, cells = header[1:], [], {}
    for row in lines[1:]:
        assert len(row) == len(dsts) + 1, f"row {row[0]} has {len(row) - 1} marks for {len(dsts)} columns"
        srcs.append(row[0])
        for dst, mark in zip(dsts, row[1:]):
            assert mark in ".X", f"unknown mark {mark!r} (use '.' or 'X')"
            cells[(row[0], dst)] = mark == "."
    return srcs, dsts, cells


def render(srcs, dsts, cell) -> str:
    width = max(len(k) for k in ["-", *srcs, *dsts]) + 1
    out = ["-".ljust(width) + "".join(d.ljust(width) for d in dsts)]
    for s in srcs:
        out.append(s.ljust(width) + "".join(cell(s, d).ljust(width) for d in dsts))
    return "\n".join(line.rstrip() for line in out)


def check_table(case: Case, exp: dict) -> list[str]:
    port, proto = int(exp["port"]), str(exp.get("protocol", "TCP"))
    srcs, dsts, expected = parse_table(exp["table"])
    ev = case.evaluator
    src_eps = [case.endpoint(s) for s in srcs]
    dst_eps = [case.endpoint(d) for d in dsts]
    direct = {(s, d): ev.allowed(se, de, port, proto) for s, se in zip(srcs, src_eps) for d, de in zip(dsts, dst_eps)}
    grid = ev.matrix(src_eps, dst_eps, [(port, proto)])[(port, proto)]
    fast = {(s, d): grid[i][j] for i, s in enumerate(srcs) for j, d in enumerate(dsts)}
    problems = []
    for name, observed in (("allowed()", direct), ("matrix()", fast)):
        wrong = [k for k in expected if expected[k] != observed[k]]
        if not wrong:
            continue
        why = "\n".join(f"  {s} -> {d}: {ev.why(case.endpoint(s), case.endpoint(d), port, proto)}" for s, d in wrong)
        problems.append(
            f"{port}/{proto} via {name}: {len(wrong)} wrong\n"
            f"expected:\n{render(srcs, dsts, lambda s, d: MARK[expected[(s, d)]])}\n"
            f"observed:\n{render(srcs, dsts, lambda s, d: MARK[observed[(s, d)]])}\n"
            f"comparison ('.' agrees, 'X' differs):\n"
            f"{render(srcs, dsts, lambda s, d: MARK[expected[(s, d)] == observed[(s, d)]])}\n"
            f"explanations of the wrong cells:\n{why}"
        )
    return problems


def check_probes(case: Case, exp: dict) -> list[str]:
    problems = []
    for probe in exp["probes"]:
        src, dst = case.endpoint(probe["from"]), case.endpoint(probe["to"])
        port, proto, want = int(probe["port"]), str(probe.get("protocol", "TCP")), bool(probe["allowed"])
        got = case.evaluator.allowed(src, dst, port, proto)
        fast = case.evaluator.matrix([src], [dst], [(port, proto)]).allowed(0, 0, (port, proto))
        if got != want or fast != want:
            label = f"{probe['from']} -> {probe['to']} {port}/{proto}"
            note = f" ({probe['note']})" if probe.get("note") else ""
            problems.append(
                f"{label}{note}: expected {'allowed' if want else 'denied'}, allowed()={got}, matrix()={fast}\n"
                f"  why: {case.evaluator.why(src, dst, port, proto)}"
            )
    return problems


# ---- the tests ----------------------------------------------------------


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_case(path: Path) -> None:
    case = Case.load(path)
    problems = []
    for exp in case.data["expect"]:
        problems += check_table(case, exp) if "table" in exp else check_probes(case, exp)
    if problems:
        section = case.data["source"].get("section", "")
        pytest.fail(f"{path.name} ({section}):\n\n" + "\n\n".join(problems), pytrace=False)


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_case_is_well_formed(path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert set(data) <= CASE_KEYS, f"unknown keys {set(data) - CASE_KEYS}"
    source = data.get("source") or {}
    assert str(source.get("url", "")).startswith("https://"), "source.url must cite where the case comes from"
    assert source.get("section"), "source.section must name the test or section"
    assert data.get("expect"), "a case needs expectations"
    for exp in data["expect"]:
        assert ("table" in exp) != ("probes" in exp), "an expectation is a table or a probe list"
        if "table" in exp:
            assert "port" in exp, "a table needs its port"
            parse_table(exp["table"])


def test_corpus_is_large_enough() -> None:
    assert len(CASE_FILES) >= 45
