"""Hypothesis strategies: random .seg programs (as text) and random clusters.

The vocabularies are small on purpose: random programs and clusters must
collide (the same labels, namespaces and addresses on both sides) for the
properties to say anything.
"""

from __future__ import annotations

from hypothesis import strategies as st

from segc.cluster import Cluster, ContainerPort, External, Namespace, Pod

NAMESPACES = ["app", "data", "web", "tenant-a", "kube-system", "monitoring"]
APPS = ["frontend", "backend", "api", "postgres"]
GROUPS = ["g1", "g2"]
STDLIB_NAMES = ["dns", "internet", "kube-prometheus"]
POD_LABELS = {"app": APPS, "tier": ["api", "worker"], "env": ["dev", "prod"], "k8s-app": ["kube-dns"], "app.kubernetes.io/name": ["prometheus"]}
NS_LABELS = {"team": ["orders", "payments"], "env": ["dev", "prod"]}
BLOCKS = [
    "10.0.0.0/8",
    "10.0.0.0/24",
    "10.0.0.0/24 except 10.0.0.128/25",
    "10.0.0.0/16 except 10.0.1.0/24, 10.0.0.0/28",
    "192.0.2.0/24",
    "0.0.0.0/0",
    "203.0.113.10/32",
    "fd00::/8",
]
PORTS = ["80", "443", "5432", "53/udp", "53/tcp", "8000-8100", "http", "metrics", "dns/udp", "80/sctp", "8080,8443/tcp", "53/udp,53/tcp", "80/udp"]
PROBE_PORTS = [(80, "TCP"), (443, "TCP"), (5432, "TCP"), (53, "UDP"), (53, "TCP"), (8080, "TCP"), (8050, "TCP"), (9090, "TCP"), (80, "UDP"), (80, "SCTP")]
EXTERNALS = ["192.0.2.7", "203.0.113.10", "10.200.0.1", "fd00::1"]


def _requirement(labels: dict[str, list[str]]):
    def build(draw):
        key = draw(st.sampled_from(sorted(labels)))
        values = labels[key]
        form = draw(st.sampled_from(["eq", "ne", "in", "notin", "exists", "absent"]))
        if form == "eq":
            return f"{key}={draw(st.sampled_from(values))}"
        if form == "ne":
            return f"{key}!={draw(st.sampled_from(values))}"
        if form in ("in", "notin"):
            vs = draw(st.lists(st.sampled_from(values), min_size=1, max_size=2, unique=True))
            return f"{key} {form} ({', '.join(vs)})"
        return key if form == "exists" else f"!{key}"

    return st.composite(lambda draw: build(draw))()


def selector(labels):
    return st.lists(_requirement(labels), min_size=0, max_size=2).map(lambda rs: "{" + ", ".join(rs) + "}")


@st.composite
def pod_part(draw):
    kind = draw(st.sampled_from(["name", "star", "sel"]))
    if kind == "name":
        return draw(st.sampled_from(APPS))
    return "*" if kind == "star" else draw(selector(POD_LABELS))


@st.composite
def ns_part(draw):
    kind = draw(st.sampled_from(["name", "name", "star", "sel"]))
    if kind == "name":
        return draw(st.sampled_from(NAMESPACES))
    return "*" if kind == "star" else draw(selector(NS_LABELS))


@st.composite
def endpoint(draw, groups=True):
    kind = draw(st.sampled_from(["local", "local", "qualified", "qualified", "block", "group" if groups else "local"]))
    if kind == "local":
        return draw(pod_part())
    if kind == "qualified":
        return f"{draw(ns_part())}/{draw(pod_part())}"
    if kind == "block":
        return draw(st.sampled_from(BLOCKS))
    return draw(st.sampled_from(GROUPS + STDLIB_NAMES))


@st.composite
def target(draw, groups=True):
    ep = draw(endpoint(groups))
    if draw(st.booleans()):
        return f"{ep}:{draw(st.sampled_from(PORTS))}"
    return ep


@st.composite
def statement(draw):
    kind = draw(st.sampled_from(["allow", "allow", "allow", "allow", "allow1", "deny", "namespace"]))
    if kind == "namespace":
        return f"namespace {draw(st.sampled_from(NAMESPACES[:4]))}"
    if kind == "deny":
        direction = draw(st.sampled_from(["", " ingress", " egress"]))
        where = draw(st.sampled_from(["", "", f" in {draw(st.sampled_from(NAMESPACES[:4]))}"]))
        return f"deny-all{direction}{where}"
    if kind == "allow1":
        return f"allow {draw(target())}"
    return f"allow {draw(endpoint())} -> {draw(target())}"


@st.composite
def expect_statement(draw):
    """An intent test: `expect [SRC ->] DST[:PORTS] allowed|denied`."""
    verdict = draw(st.sampled_from(["allowed", "denied"]))
    if draw(st.booleans()):
        return f"expect {draw(target())} {verdict}"
    return f"expect {draw(endpoint())} -> {draw(target())} {verdict}"


@st.composite
def program(draw, max_statements=10):
    """A program text: groups first (they may be used anywhere), then statements."""
    lines = [f"namespace {draw(st.sampled_from(NAMESPACES[:4]))}"]
    for g in GROUPS:
        lines.append(f"group {g} = {draw(target(groups=False))}")
    lines += draw(st.lists(statement(), min_size=1, max_size=max_statements))
    return "\n".join(lines) + "\n"


# -------------------------------------------------------------------- clusters

NAMED_PORTS = [ContainerPort(80, "TCP", "http"), ContainerPort(8080, "TCP", "http"), ContainerPort(9090, "TCP", "metrics"), ContainerPort(53, "UDP", "dns"), ContainerPort(53, "TCP", "dns-tcp"), ContainerPort(80, "SCTP", "http")]


@st.composite
def labels(draw, vocab):
    keys = draw(st.lists(st.sampled_from(sorted(vocab)), unique=True, max_size=len(vocab)))
    return {k: draw(st.sampled_from(vocab[k])) for k in keys}


@st.composite
def cluster(draw, max_pods_per_ns=3):
    c = Cluster()
    ip_pool = [f"10.0.0.{i}" for i in (5, 77, 130, 200)] + [f"10.0.1.{i}" for i in (3, 9)] + ["192.0.2.9", "fd00::5"]
    n = 0
    for ns in NAMESPACES:
        c.namespaces[ns] = Namespace(ns, draw(labels(NS_LABELS)))
        for i in range(draw(st.integers(0, max_pods_per_ns))):
            n += 1
            ports = tuple(draw(st.lists(st.sampled_from(NAMED_PORTS), max_size=2, unique_by=lambda p: (p.name, p.protocol))))
            ip = draw(st.sampled_from(ip_pool + [None])) if draw(st.booleans()) else f"10.0.2.{n}"
            c.pods.append(Pod(ns, f"p{i}", draw(labels(POD_LABELS)), ip, ports))
    for ip in draw(st.lists(st.sampled_from(EXTERNALS), unique=True, max_size=3)):
        c.externals.append(External(ip))
    return c


# ------------------------------------------------------------------- denies

DENY_PORTS = ["80", "443", "5432", "53/udp", "8000-8100", "8050", "http", "80/sctp", "8080,8443/tcp"]


@st.composite
def deny_endpoint(draw):
    """Mostly pods of the current namespace (where a deny can be enforced), sometimes anything."""
    kind = draw(st.sampled_from(["local", "local", "local", "block", "block", "any"]))
    if kind == "local":
        return draw(pod_part())
    if kind == "block":
        return draw(st.sampled_from(BLOCKS + ["192.0.2.7/32", "10.0.0.0/25", "0.0.0.0/0 except 203.0.113.0/24"]))
    return draw(endpoint())


@st.composite
def deny_statement(draw):
    """`deny SRC -> DST[:PORTS]` or `deny DST[:PORTS]`, over the same vocabulary as allows."""
    ep = draw(deny_endpoint())
    dst = f"{ep}:{draw(st.sampled_from(DENY_PORTS))}" if draw(st.booleans()) else ep
    if draw(st.integers(0, 3)) == 0:
        return f"deny {dst}"
    return f"deny {draw(deny_endpoint())} -> {dst}"


@st.composite
def program_with_denies(draw, max_statements=8):
    """A program mixing allows, deny-all forms and 1-3 denies (in any order)."""
    ns = draw(st.sampled_from(NAMESPACES[:4]))
    lines = [f"namespace {ns}"]
    for g in GROUPS:
        lines.append(f"group {g} = {draw(target(groups=False))}")
    lines += [f"deny-all{d}" for d in draw(st.lists(st.sampled_from(["", " ingress", " egress"]), max_size=1))]
    body = draw(st.lists(statement(), min_size=0, max_size=max_statements))
    body += draw(st.lists(deny_statement(), min_size=1, max_size=3))
    return "\n".join(lines + draw(st.permutations(body))) + "\n"
