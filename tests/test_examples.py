"""The examples in examples/: golden output, schema validity, meaning, determinism.

For every ``examples/NAME/NAME.seg``:

(a) ``segc build examples/NAME/NAME.seg -o DIR`` writes exactly the files of
    ``examples/NAME/expected/``, byte for byte;
(b) every object it writes validates against the Kubernetes OpenAPI schema
    (strict: unknown fields are errors) of every Kubernetes minor from 1.28 to
    the newest ``kubernetes_validate`` bundles, and passes the API server's own
    checks (segc.validate.api_problems);
(c) on a small cluster built for the example, the program allows and denies
    what the example's comments promise, and the golden manifests, read by the
    independent NetworkPolicy evaluator, agree with the program on every probe;
(d) building twice gives the same bytes.

Plus the contract: the core language of BRIEF.md (tests/data/core.seg, a
verbatim copy of the shared contract file) builds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from segc.cli import cli
from segc.cluster import Cluster, ContainerPort, Namespace, Pod
from segc.compile import compile_paths
from segc.k8s_eval import K8sEvaluator, policies_from_objects
from segc.seg_eval import SegEvaluator
from segc.validate import api_problems

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CORE = Path(__file__).resolve().parent / "data" / "core.seg"

NAMES = sorted(p.name for p in EXAMPLES.iterdir() if (p / f"{p.name}.seg").is_file())

REGENERATE = (
    "If the change is intended, review every changed policy by hand, then regenerate "
    "from the repository root with:\n"
    "    .venv/bin/segc build examples/{name}/{name}.seg -o examples/{name}/expected\n"
    "and review `git diff examples/{name}/expected` before committing (see examples/README.md)."
)

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _rel(name: str) -> str:
    return f"examples/{name}/{name}.seg"


def _build_dir(name: str, out: Path) -> dict[str, bytes]:
    """Run the real CLI exactly as the regeneration command does; return the files."""
    result = CliRunner().invoke(cli, ["build", _rel(name), "-o", str(out)])
    assert result.exit_code == 0, f"segc build {_rel(name)} failed:\n{result.output}"
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


@pytest.fixture
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def test_every_required_example_exists():
    assert len(NAMES) >= 7, NAMES
    assert set(NAMES) == set(SCENARIOS), "every example needs a semantic scenario in tests/test_examples.py (and the reverse)"


# ------------------------------------------------------------- (a) golden files


@pytest.mark.parametrize("name", NAMES)
def test_build_matches_expected(name, tmp_path, at_root):
    got = _build_dir(name, tmp_path / "out")
    expected_dir = EXAMPLES / name / "expected"
    expected = {p.name: p.read_bytes() for p in sorted(expected_dir.iterdir())} if expected_dir.is_dir() else {}
    hint = REGENERATE.format(name=name)
    missing = sorted(set(got) - set(expected))
    extra = sorted(set(expected) - set(got))
    assert not missing, f"segc now writes files that examples/{name}/expected lacks: {missing}\n{hint}"
    assert not extra, f"examples/{name}/expected has files segc no longer writes: {extra}\n{hint}"
    changed = sorted(f for f in got if got[f] != expected[f])
    assert not changed, f"segc output differs from examples/{name}/expected in: {changed}\n{hint}"


@pytest.mark.parametrize("name", NAMES)
def test_example_is_lint_clean(name, at_root):
    """Examples are meant to be copied: no errors, and no warnings either."""
    result = compile_paths([_rel(name)])
    assert result.ok
    assert result.diagnostics == [], [f"{d.span}: {d.severity}: {d.message} [{d.code}]" for d in result.diagnostics]


@pytest.mark.parametrize("name", NAMES)
def test_example_references_only_its_own_folder(name):
    """An example must build from any checkout: imports stay inside its folder."""
    folder = (EXAMPLES / name).resolve()
    for seg in folder.rglob("*.seg"):
        for target in re.findall(r'^\s*import\s+"([^"]*)"', seg.read_text(encoding="utf-8"), flags=re.M):
            assert not Path(target).is_absolute(), f"{seg}: absolute import {target!r}"
            resolved = (seg.parent / target).resolve()
            assert resolved.is_relative_to(folder), f"{seg}: import {target!r} leaves examples/{name}/"


# ---------------------------------------------------------- (b) schema validity



def _validator(k8s_version: str, api_version: str, kind: str):
    """segc's own validator (segc.validate): one jsonschema validator per
    (version, kind), strict schemas (unknown fields are errors)."""
    from segc.validate import validator

    major, minor = map(int, k8s_version.split("."))
    return validator((major, minor), api_version, kind)


def _k8s_versions() -> list[str]:
    """Every Kubernetes minor from 1.28 to the newest kubernetes_validate bundles."""
    from segc.validate import bundled_versions

    newest = bundled_versions()[-1]
    assert newest >= (1, 30), f"kubernetes-validate is too old: its newest schema is {newest}"
    return [f"1.{m}" for m in range(28, newest[1] + 1)]


@pytest.mark.parametrize("k8s_version", _k8s_versions())
@pytest.mark.parametrize("name", NAMES)
def test_expected_objects_validate(name, k8s_version):
    expected_dir = EXAMPLES / name / "expected"
    files = sorted(expected_dir.glob("*.yaml"))
    assert files, f"examples/{name}/expected is empty"
    problems = []
    kustomization = None
    for path in files:
        for obj in yaml.load_all(path.read_text(encoding="utf-8"), Loader=_LOADER):
            if obj is None:
                continue
            if obj.get("kind") == "Kustomization":
                kustomization = obj
                continue
            assert obj.get("kind") == "NetworkPolicy", f"{path.name}: unexpected kind {obj.get('kind')!r}"
            for err in _validator(k8s_version, obj["apiVersion"], obj["kind"]).iter_errors(obj):
                where = ".".join(str(p) for p in err.absolute_path) or "(root)"
                problems.append(f"{path.name}: {where}: {err.message}")
            problems += [f"{path.name}: {p}" for p in api_problems(obj)]
    assert not problems, f"invalid for Kubernetes {k8s_version}:\n" + "\n".join(problems)
    assert kustomization is not None, "kustomization.yaml missing"
    assert kustomization["resources"] == sorted(p.name for p in files if p.name != "kustomization.yaml")


def test_validator_rejects_a_broken_policy():
    """The schema check has teeth: an unknown field and a wrong type both fail."""
    v = _validator("1.30", "networking.k8s.io/v1", "NetworkPolicy")
    good = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "x"}, "spec": {"podSelector": {}}}
    assert not list(v.iter_errors(good))
    assert list(v.iter_errors({**good, "spec": {"podSelector": {}, "ingres": []}}))
    assert list(v.iter_errors({**good, "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": [80]}]}]}}))


# ------------------------------------------------------------- (c) the meaning

TCP, UDP = "TCP", "UDP"


@dataclass
class Scenario:
    """A cluster shaped like the example's comments, and what must hold on it."""

    namespaces: dict[str, dict[str, str]] = field(default_factory=dict)
    pods: list[tuple[str, str, dict[str, str], tuple[ContainerPort, ...]]] = field(default_factory=list)
    externals: list[str] = field(default_factory=list)
    # (source, destination, port, protocol, allowed); pods as "ns/name", addresses as IPs
    expect: list[tuple[str, str, int, str, bool]] = field(default_factory=list)

    def ns(self, name: str, **labels: str) -> "Scenario":
        self.namespaces[name] = labels
        return self

    def pod(self, key: str, labels: dict[str, str] | None = None, *ports: ContainerPort) -> "Scenario":
        ns, name = key.split("/")
        self.namespaces.setdefault(ns, {})
        self.pods.append((ns, name, dict(labels or {}), tuple(ports)))
        return self

    def ext(self, *ips: str) -> "Scenario":
        self.externals.extend(ips)
        return self

    def allow(self, src: str, dst: str, port: int, proto: str = TCP) -> "Scenario":
        self.expect.append((src, dst, port, proto, True))
        return self

    def deny(self, src: str, dst: str, port: int, proto: str = TCP) -> "Scenario":
        self.expect.append((src, dst, port, proto, False))
        return self

    def cluster(self) -> Cluster:
        c = Cluster()
        for name, labels in self.namespaces.items():
            c.namespaces[name] = Namespace(name, labels)
        for i, (ns, name, labels, ports) in enumerate(self.pods):
            c.pods.append(Pod(ns, name, labels, f"10.244.{i // 250}.{i % 250 + 1}", ports))
        for ip in self.externals:
            c.add_external(ip)
        return c


def P(port: int, name: str | None = None, proto: str = TCP) -> ContainerPort:
    return ContainerPort(port, proto, name)


DNS_POD = ("kube-system/coredns", {"k8s-app": "kube-dns"}, P(53, "dns", UDP), P(53, "dns-tcp"))


def three_tier() -> Scenario:
    s = Scenario().ns("webapp").ns("ingress-nginx").ns("other")
    s.pod(*DNS_POD)
    s.pod("ingress-nginx/controller", {"app.kubernetes.io/name": "ingress-nginx"}, P(80), P(443))
    s.pod("webapp/frontend", {"app": "frontend"}, P(8080))
    s.pod("webapp/api", {"app": "api"}, P(8000))
    s.pod("webapp/postgres", {"app": "postgres"}, P(5432))
    s.pod("other/frontend", {"app": "frontend"}, P(8080))  # same label, wrong namespace
    s.ext("203.0.113.9")
    return (
        s.allow("ingress-nginx/controller", "webapp/frontend", 8080)
        .deny("ingress-nginx/controller", "webapp/api", 8000)  # only through the frontend
        .allow("webapp/frontend", "webapp/api", 8000)
        .deny("webapp/frontend", "webapp/api", 8080)  # wrong port
        .deny("webapp/frontend", "webapp/postgres", 5432)  # cannot skip the API
        .allow("webapp/api", "webapp/postgres", 5432)
        .deny("webapp/postgres", "webapp/api", 8000)
        .deny("other/frontend", "webapp/api", 8000)  # app=frontend, but not webapp's
        .allow("webapp/postgres", "kube-system/coredns", 53, UDP)
        .allow("webapp/api", "kube-system/coredns", 53, TCP)
        .deny("webapp/api", "203.0.113.9", 443)  # no egress outside
        .deny("203.0.113.9", "webapp/frontend", 8080)  # only via the ingress controller
    )


def team_database() -> Scenario:
    s = Scenario().ns("data").ns("orders-prod", team="orders").ns("orders-staging", team="orders").ns("payments", team="payments")
    s.pod(*DNS_POD)
    s.pod("data/postgres", {"app": "postgres"}, P(5432))
    s.pod("data/pg-backup", {"app": "pg-backup"})
    s.pod("data/orders-api", {"app": "orders-api"})  # `data` lacks team=orders
    s.pod("orders-prod/orders-api", {"app": "orders-api"}, P(8080))
    s.pod("orders-staging/orders-api", {"app": "orders-api"}, P(8080))
    s.pod("orders-prod/orders-worker", {"app": "orders-worker"})
    s.pod("payments/orders-api", {"app": "orders-api"})  # name clash in another team
    s.ext("198.51.100.20", "198.51.100.21")
    return (
        s.allow("orders-prod/orders-api", "data/postgres", 5432)
        .allow("orders-staging/orders-api", "data/postgres", 5432)
        .deny("orders-prod/orders-api", "data/postgres", 5433)
        .deny("orders-prod/orders-worker", "data/postgres", 5432)  # right team, wrong app
        .deny("payments/orders-api", "data/postgres", 5432)  # right app, wrong team
        .deny("data/orders-api", "data/postgres", 5432)  # the egress half alone opens nothing
        .allow("data/pg-backup", "data/postgres", 5432)
        .allow("data/pg-backup", "198.51.100.20", 443)
        .deny("data/pg-backup", "198.51.100.21", 443)
        .deny("data/pg-backup", "198.51.100.20", 80)
        .deny("data/postgres", "198.51.100.20", 443)  # the database itself sends nothing out
        .deny("data/postgres", "orders-prod/orders-api", 8080)
        .allow("data/postgres", "kube-system/coredns", 53, UDP)
    )


def multi_tenant() -> Scenario:
    s = Scenario().ns("tenant-acme", tenant="acme").ns("tenant-globex", tenant="globex").ns("tenant-initech", tenant="initech")
    s.ns("shared").ns("rogue")
    s.pod(*DNS_POD)
    s.pod("tenant-acme/web", {"app": "web"}, P(80))
    s.pod("tenant-acme/db", {"app": "db"}, P(5432))
    s.pod("tenant-globex/web", {"app": "web"}, P(80))
    s.pod("tenant-initech/worker", {"app": "worker"})
    s.pod("shared/auth", {"app": "auth"}, P(8443))
    s.pod("shared/billing", {"app": "billing"}, P(8080))
    s.pod("shared/ledger", {"app": "ledger"}, P(5432))
    s.pod("rogue/scanner", {"app": "scanner"})  # a namespace without the tenant label
    s.ext("8.8.8.8")
    return (
        s.allow("tenant-acme/web", "tenant-acme/db", 5432)  # free inside a tenant
        .allow("tenant-acme/db", "tenant-acme/web", 12345)
        .deny("tenant-acme/web", "tenant-globex/web", 80)  # never another tenant
        .deny("tenant-globex/web", "tenant-acme/db", 5432)
        .deny("tenant-initech/worker", "tenant-acme/web", 80)
        .allow("tenant-acme/web", "shared/auth", 8443)
        .allow("tenant-globex/web", "shared/billing", 8080)
        .allow("tenant-initech/worker", "shared/auth", 8443)
        .deny("tenant-acme/web", "shared/billing", 8443)  # wrong port
        .deny("tenant-acme/web", "shared/ledger", 5432)  # not a shared service for tenants
        .allow("shared/billing", "shared/ledger", 5432)
        .allow("shared/billing", "shared/auth", 8443)
        .deny("shared/ledger", "shared/auth", 8443)  # `shared` has no tenant label
        .deny("shared/billing", "tenant-acme/web", 80)  # shared services do not call in
        .deny("shared/auth", "tenant-acme/db", 5432)
        .deny("rogue/scanner", "shared/auth", 8443)
        .allow("tenant-acme/web", "kube-system/coredns", 53, UDP)
        .deny("tenant-acme/web", "8.8.8.8", 53, UDP)
        .deny("tenant-acme/web", "8.8.8.8", 443)
    )


def egress_lockdown() -> Scenario:
    s = Scenario().ns("payments").ns("storefront")
    s.pod(*DNS_POD)
    s.pod("payments/checkout", {"app": "checkout"}, P(8080))
    s.pod("payments/charger", {"app": "charger"}, P(9000))
    s.pod("storefront/frontend", {"app": "frontend"}, P(8080))
    s.ext("203.0.113.10", "203.0.113.200", "198.51.100.1", "8.8.8.8")
    return (
        s.allow("payments/charger", "203.0.113.10", 443)
        .deny("payments/charger", "203.0.113.10", 80)
        .deny("payments/charger", "203.0.113.200", 443)  # the provider's sandbox, cut out by except
        .deny("payments/charger", "198.51.100.1", 443)  # any other address
        .deny("payments/checkout", "203.0.113.10", 443)  # only charger goes out
        .allow("payments/charger", "kube-system/coredns", 53, UDP)
        .allow("payments/checkout", "kube-system/coredns", 53, TCP)
        .deny("payments/charger", "8.8.8.8", 53, UDP)  # no other resolver
        .allow("storefront/frontend", "payments/checkout", 8080)
        .deny("storefront/frontend", "payments/charger", 9000)
        .allow("payments/checkout", "payments/charger", 9000)
        .deny("payments/charger", "payments/checkout", 8080)
        .deny("203.0.113.10", "payments/charger", 9000)
    )


def monitoring() -> Scenario:
    s = Scenario().ns("monitoring").ns("shop").ns("payments").ns("team-x").ns("ingress-nginx")
    s.pod(*DNS_POD)
    s.pod("ingress-nginx/controller", {"app.kubernetes.io/name": "ingress-nginx"})
    s.pod("monitoring/prometheus-0", {"app.kubernetes.io/name": "prometheus"}, P(9090, "web"))
    s.pod("monitoring/grafana", {"app.kubernetes.io/name": "grafana"}, P(3000, "http"))
    s.pod("monitoring/alertmanager-0", {"app.kubernetes.io/name": "alertmanager"}, P(9093, "web"))
    s.pod("shop/frontend", {"app": "frontend"}, P(8080, "http"), P(9102, "metrics"))
    s.pod("shop/cart", {"app": "cart"}, P(7070, "grpc"), P(8081, "metrics"))
    s.pod("shop/cache", {"app": "cache"}, P(6379, "redis"))  # exports no metrics
    s.pod("payments/api", {"app": "api"}, P(8080, "http"), P(9090, "metrics"))
    s.pod("team-x/prometheus", {"app": "prometheus"}, P(9090, "web"))
    s.ext("10.0.1.5", "10.0.0.10", "10.1.0.1")
    return (
        s.allow("monitoring/prometheus-0", "shop/frontend", 9102)
        .allow("monitoring/prometheus-0", "shop/cart", 8081)
        .deny("monitoring/prometheus-0", "shop/frontend", 8080)  # not the metrics port
        .deny("monitoring/prometheus-0", "shop/cart", 9102)  # frontend's metrics number, not cart's
        .deny("monitoring/prometheus-0", "shop/cache", 6379)
        .allow("monitoring/prometheus-0", "payments/api", 9090)
        .allow("monitoring/grafana", "monitoring/prometheus-0", 9090)
        .allow("ingress-nginx/controller", "monitoring/grafana", 3000)
        .deny("ingress-nginx/controller", "monitoring/prometheus-0", 9090)  # only Grafana is published
        .deny("monitoring/grafana", "shop/frontend", 9102)
        .allow("monitoring/prometheus-0", "monitoring/alertmanager-0", 9093)
        .allow("monitoring/prometheus-0", "10.0.1.5", 9100)  # node-exporter
        .allow("monitoring/prometheus-0", "10.0.1.5", 10250)  # kubelet
        .allow("monitoring/prometheus-0", "10.0.0.10", 6443)  # API server
        .deny("monitoring/prometheus-0", "10.1.0.1", 9100)  # not a node
        .allow("team-x/prometheus", "monitoring/prometheus-0", 9090)  # federation
        .allow("team-x/prometheus", "payments/api", 9090)
        .deny("team-x/prometheus", "shop/frontend", 9102)  # only payments opened to team Prometheus
        .allow("shop/frontend", "shop/cart", 7070)
        .deny("shop/frontend", "payments/api", 8080)
        .deny("shop/cart", "monitoring/prometheus-0", 9090)
    )


BOUTIQUE = {
    "frontend": 8080,
    "adservice": 9555,
    "cartservice": 7070,
    "checkoutservice": 5050,
    "currencyservice": 7000,
    "emailservice": 8080,
    "paymentservice": 50051,
    "productcatalogservice": 3550,
    "recommendationservice": 8080,
    "shippingservice": 50051,
    "redis-cart": 6379,
}


def online_boutique() -> Scenario:
    s = Scenario().ns("boutique")
    s.pod(*DNS_POD)
    for app, port in BOUTIQUE.items():
        s.pod(f"boutique/{app}", {"app": app}, P(port))
    s.pod("boutique/loadgenerator", {"app": "loadgenerator"})
    s.ext("198.51.100.7")
    b = "boutique/"
    s.allow("198.51.100.7", b + "frontend", 8080).deny("198.51.100.7", b + "frontend", 80)
    s.deny("198.51.100.7", b + "adservice", 9555)
    s.allow(b + "loadgenerator", b + "frontend", 8080).deny(b + "loadgenerator", b + "checkoutservice", 5050)
    for dst in ("adservice", "cartservice", "checkoutservice", "currencyservice", "productcatalogservice", "recommendationservice", "shippingservice"):
        s.allow(b + "frontend", b + dst, BOUTIQUE[dst])
    for dst in ("paymentservice", "emailservice", "redis-cart"):
        s.deny(b + "frontend", b + dst, BOUTIQUE[dst])
    for dst in ("cartservice", "currencyservice", "emailservice", "paymentservice", "productcatalogservice", "shippingservice"):
        s.allow(b + "checkoutservice", b + dst, BOUTIQUE[dst])
    s.deny(b + "checkoutservice", b + "redis-cart", 6379).deny(b + "checkoutservice", b + "adservice", 9555)
    s.allow(b + "recommendationservice", b + "productcatalogservice", 3550)
    s.deny(b + "recommendationservice", b + "cartservice", 7070)
    s.allow(b + "cartservice", b + "redis-cart", 6379).deny(b + "cartservice", b + "redis-cart", 6380)
    s.deny(b + "paymentservice", b + "checkoutservice", 5050)  # callee never calls back
    s.deny(b + "frontend", "198.51.100.7", 443).deny(b + "paymentservice", "198.51.100.7", 443)
    s.allow(b + "paymentservice", "kube-system/coredns", 53, UDP)
    return s


def split_files() -> Scenario:
    s = Scenario().ns("orders").ns("billing").ns("data").ns("streaming").ns("ingress-nginx")
    s.pod(*DNS_POD)
    s.pod("ingress-nginx/controller", {"app.kubernetes.io/name": "ingress-nginx"})
    s.pod("orders/web", {"app": "storefront", "tier": "web"}, P(8080))
    s.pod("orders/orders-api", {"app": "orders-api"}, P(8080))
    s.pod("billing/web", {"app": "portal", "tier": "web"}, P(8080))
    s.pod("billing/invoicer", {"app": "invoicer"}, P(8080))
    s.pod("data/postgres", {"app": "postgres"}, P(5432))
    s.pod("data/redis", {"app": "redis"}, P(6379), P(6380))
    s.pod("streaming/kafka-0", {"app.kubernetes.io/name": "kafka"}, P(9092))
    s.ext("198.51.100.25", "198.51.100.26")
    return (
        s.allow("ingress-nginx/controller", "orders/web", 8080)
        .allow("ingress-nginx/controller", "billing/web", 8080)
        .deny("ingress-nginx/controller", "orders/orders-api", 8080)
        .allow("orders/web", "orders/orders-api", 8080)
        .deny("billing/web", "orders/orders-api", 8080)  # web-tier means this namespace's tier=web
        .deny("orders/web", "billing/invoicer", 8080)
        .allow("billing/web", "billing/invoicer", 8080)
        .allow("orders/orders-api", "data/postgres", 5432)  # port from common.seg
        .deny("orders/orders-api", "data/postgres", 5433)
        .deny("orders/orders-api", "data/redis", 6379)
        .allow("billing/invoicer", "data/redis", 6380)
        .deny("billing/invoicer", "data/redis", 6379)  # explicit ports replace the service's
        .deny("billing/invoicer", "data/postgres", 5432)
        .allow("orders/orders-api", "streaming/kafka-0", 9092)
        .allow("billing/invoicer", "streaming/kafka-0", 9092)
        .allow("orders/orders-api", "198.51.100.25", 587)
        .deny("orders/orders-api", "198.51.100.25", 25)
        .deny("orders/orders-api", "198.51.100.26", 587)
        .deny("billing/invoicer", "198.51.100.25", 587)
        .allow("orders/orders-api", "billing/invoicer", 8080)  # the cross-team statement
        .deny("billing/invoicer", "orders/orders-api", 8080)
        .allow("billing/invoicer", "kube-system/coredns", 53, UDP)
    )


def batch_jobs() -> Scenario:
    s = Scenario().ns("shop").ns("ingress-nginx")
    s.pod(*DNS_POD)
    s.pod("ingress-nginx/controller", {"app.kubernetes.io/name": "ingress-nginx"}, P(80))
    s.pod("shop/web", {"app": "web"}, P(8080))
    s.pod("shop/api", {"app": "api"}, P(8080))
    s.pod("shop/postgres", {"app": "postgres"}, P(5432))
    s.pod("shop/report", {"app": "report", "tier": "batch"}, P(9000))
    s.pod("shop/indexer", {"app": "indexer", "tier": "batch"})
    s.ext("203.0.113.10")
    return (
        s.allow("shop/api", "shop/postgres", 5432)
        .allow("shop/web", "shop/api", 8080)
        .allow("shop/report", "shop/api", 8080)  # batch jobs read through the api
        .deny("shop/report", "shop/postgres", 5432)  # the deny wins over `allow * -> *`
        .deny("shop/indexer", "shop/postgres", 5432)
        .deny("shop/indexer", "shop/postgres", 9000)  # on any port
        .allow("shop/postgres", "shop/report", 9000)  # the other way is not denied
        .allow("shop/report", "kube-system/coredns", 53, UDP)
        .allow("ingress-nginx/controller", "shop/web", 8080)
        .deny("ingress-nginx/controller", "shop/postgres", 5432)
        .deny("203.0.113.10", "shop/postgres", 5432)
        .deny("shop/api", "203.0.113.10", 443)  # deny-all: no egress outside
    )


def metadata_endpoint() -> Scenario:
    s = Scenario().ns("ci").ns("tools")
    s.pod(*DNS_POD)
    s.pod("ci/runner", {"app": "runner"})
    s.pod("ci/cache", {"app": "cache"}, P(6379))
    s.pod("tools/registry", {"app": "registry"}, P(5000))
    s.ext("169.254.169.254", "140.82.112.3", "8.8.8.8", "2606:4700::1111")
    return (
        s.deny("ci/runner", "169.254.169.254", 80)
        .deny("ci/cache", "169.254.169.254", 80)
        .deny("ci/runner", "169.254.169.254", 443)  # any port
        .allow("ci/runner", "140.82.112.3", 443)  # the rest of the internet stays open
        .allow("ci/runner", "2606:4700::1111", 443)
        .allow("ci/runner", "8.8.8.8", 53, UDP)
        .allow("ci/runner", "kube-system/coredns", 53, UDP)
        .allow("ci/runner", "tools/registry", 5000)  # every pod, in every namespace
        .allow("ci/runner", "ci/cache", 6379)
        .deny("tools/registry", "ci/cache", 6379)  # deny-all ingress
        .allow("tools/registry", "169.254.169.254", 80)  # not this program's namespace
    )


SCENARIOS = {
    "batch-jobs": batch_jobs,
    "metadata-endpoint": metadata_endpoint,
    "three-tier": three_tier,
    "team-database": team_database,
    "multi-tenant": multi_tenant,
    "egress-lockdown": egress_lockdown,
    "monitoring": monitoring,
    "online-boutique": online_boutique,
    "split-files": split_files,
}


def _endpoints(c: Cluster) -> dict[str, object]:
    return {e.key: e for e in c.endpoints()}


@pytest.mark.parametrize("name", NAMES)
def test_example_means_what_its_comments_say(name, at_root):
    scenario = SCENARIOS[name]()
    c = scenario.cluster()
    result = compile_paths([_rel(name)])
    assert result.program is not None, result.diagnostics
    seg = SegEvaluator(result.program, c)
    by_key = _endpoints(c)
    wrong = []
    for src, dst, port, proto, want in scenario.expect:
        got = seg.allowed(by_key[src], by_key[dst], port, proto)
        if got != want:
            wrong.append(f"{src} -> {dst} {port}/{proto}: expected {'allowed' if want else 'denied'}\n  " + seg.why(by_key[src], by_key[dst], port, proto))
    assert not wrong, f"{name}: the program does not do what its comments say:\n" + "\n".join(wrong)


@pytest.mark.parametrize("name", NAMES)
def test_expected_manifests_agree_with_the_program(name, at_root):
    """The checked-in YAML, read by the NetworkPolicy evaluator, allows exactly
    what the program allows on the example's cluster, for every pair of
    endpoints and every port the scenario mentions or a pod declares."""
    scenario = SCENARIOS[name]()
    c = scenario.cluster()
    result = compile_paths([_rel(name)])
    docs = []
    for path in sorted((EXAMPLES / name / "expected").glob("*.yaml")):
        docs.extend(d for d in yaml.load_all(path.read_text(encoding="utf-8"), Loader=_LOADER) if d and d.get("kind") == "NetworkPolicy")
    seg = SegEvaluator(result.program, c)
    k8s = K8sEvaluator(policies_from_objects(docs), c)
    probes = {(port, proto) for _, _, port, proto, _ in scenario.expect}
    probes |= {(p.port, p.protocol) for pod in c.pods for p in pod.ports}
    disagree = []
    for src in c.endpoints():
        for dst in c.endpoints():
            for port, proto in sorted(probes):
                want = seg.allowed(src, dst, port, proto)
                if k8s.allowed(src, dst, port, proto) != want:
                    disagree.append(f"{src.key} -> {dst.key} {port}/{proto}: program says {want}\n  {k8s.why(src, dst, port, proto)}")
    assert not disagree, f"examples/{name}/expected does not mean what the program means:\n" + "\n".join(disagree[:20])


# ------------------------------------------------------------ (d) determinism


@pytest.mark.parametrize("name", NAMES)
def test_build_is_deterministic(name, tmp_path, monkeypatch):
    runner = CliRunner()
    monkeypatch.chdir(ROOT)
    first = runner.invoke(cli, ["build", _rel(name), "-o", "-"])
    second = runner.invoke(cli, ["build", _rel(name), "-o", "-"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output
    assert first.stdout_bytes == second.stdout_bytes
    assert _build_dir(name, tmp_path / "a") == _build_dir(name, tmp_path / "b")
    # The output does not depend on the directory segc runs from.
    monkeypatch.chdir(tmp_path)
    elsewhere = runner.invoke(cli, ["build", str(EXAMPLES / name / f"{name}.seg"), "-o", "-"])
    assert elsewhere.exit_code == 0, elsewhere.output
    assert elsewhere.stdout_bytes == first.stdout_bytes, "the output changes with the working directory"


# ------------------------------------------------------------- the contract


def test_core_language_builds():
    """BRIEF.md's core lines, verbatim, compile (tests/data/core.seg is a copy of
    the shared contract file, so the test does not depend on files outside the
    repository)."""
    result = CliRunner().invoke(cli, ["build", str(CORE), "-o", "-"])
    assert result.exit_code == 0, result.output
    assert "kind: NetworkPolicy" in result.stdout
    compiled = compile_paths([str(CORE)])
    assert compiled.ok, [f"{d.span}: {d.message}" for d in compiled.diagnostics if d.severity == "error"]
