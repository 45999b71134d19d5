"""Benchmark `segc reach` (the Kubernetes evaluator) on synthetic clusters.

    python benchmarks/reach.py [--sizes 500,2000,10000] [--policies 500]
                               [--seed 11] [--keep DIR] [--nca PATH_TO_NCA]
                               [--nca-sizes 500,2000] [--nca-timeout 180]

For each size it generates, deterministically from the seed:

* a cluster -- Namespace objects (labels team/env/tier) and Pod objects made
  the way controllers make them: Deployments whose replicas share labels
  (app, tier, version, pod-template-hash) and a pod-name suffix, a few
  StatefulSets whose pods each carry their own
  ``statefulset.kubernetes.io/pod-name`` label, container ports with names
  (http, https, metrics, postgres, redis, dns), pod IPs and ownerReferences;
* about ``--policies`` NetworkPolicy objects: default-deny per namespace,
  DNS egress, same-namespace app-to-app rules on named ports, cross-namespace
  rules with namespaceSelector + podSelector and matchExpressions (In,
  NotIn, Exists, DoesNotExist), ipBlocks with except, port ranges (endPort),
  UDP and rules without ports or peers;

writes them as YAML to a temporary directory, and measures in a fresh child
process (so peak RSS is that run's alone):

* load: ``load_cluster`` + ``load_policies`` (YAML parse + policy compile);
* matrix: ``K8sEvaluator(policies, cluster).matrix(eps, eps, ports)`` for all
  pods x all pods x 80/TCP, 443/TCP, 5432/TCP, plus ``count_allowed`` per port;
* peak RSS of the child (``ru_maxrss``) and the Python heap peak
  (tracemalloc is *not* used: it would slow the run several times).

For the smallest size (<= 500 pods) it also times the real CLI
``segc reach --cluster C --format json --ports ... DIR`` (the JSON lists
every probe, so it is only run where that stays reasonable).

With ``--nca PATH`` it runs np-guard's analyzer
(``nca --connectivity DIR -n C -p C -o txt_no_fw_rules --output_endpoints pods``)
on the same input (ownerReferences stripped) for ``--nca-sizes``, with a
timeout, and prints the wall-time ratio nca / segc (segc = the child process
doing load + matrix, interpreter start included).  Note that nca computes
connectivity over *all* ports, segc here over three, so the ratio is an
indication, not a like-for-like measurement.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import yaml

PORTS = [(80, "TCP"), (443, "TCP"), (5432, "TCP")]
HERE = os.path.dirname(os.path.abspath(__file__))
Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

# tier -> container ports (name, number, protocol)
TIER_PORTS = {
    "web": [("http", 80, "TCP"), ("https", 443, "TCP"), ("metrics", 9090, "TCP")],
    "api": [("http", 8080, "TCP"), ("grpc", 9000, "TCP"), ("metrics", 9090, "TCP")],
    "db": [("postgres", 5432, "TCP"), ("metrics", 9187, "TCP")],
    "cache": [("redis", 6379, "TCP")],
    "worker": [("metrics", 9090, "TCP")],
    "dns": [("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")],
}
TIERS = ["web", "api", "api", "db", "cache", "worker", "worker"]
ENVS = ["prod", "staging", "dev"]
WORDS = "cart checkout search auth billing catalog orders users media mail feed ledger quota audit report sync".split()


# --------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------


def _hash(rnd: random.Random, n: int) -> str:
    return "".join(rnd.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(n))


def generate_cluster(pods: int, rnd: random.Random):
    """(namespace objects, pod objects, deployments by namespace)."""
    n_ns = max(6, min(120, pods // 80))
    namespaces = []
    for i in range(n_ns):
        name = f"{rnd.choice(WORDS)}-{i:03d}"
        namespaces.append(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": name,
                    "labels": {"team": f"team-{i % 9}", "env": ENVS[i % 3], "tier": rnd.choice(["frontend", "backend", "data"])},
                },
            }
        )
    namespaces.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system", "labels": {"env": "system"}}})
    namespaces.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring", "labels": {"env": "system", "team": "sre"}}})

    objs: list[dict] = []
    deployments: dict[str, list[dict]] = {ns["metadata"]["name"]: [] for ns in namespaces}
    ip = int(ipaddress.ip_address("10.0.0.10"))

    def add_workload(ns: str, app: str, tier: str, replicas: int, stateful: bool, extra: dict) -> None:
        nonlocal ip
        tmpl_hash = _hash(rnd, 10)
        labels = {"app": app, "tier": tier, "version": rnd.choice(["v1", "v1", "v2", "v3"]), **extra}
        if not stateful:
            labels["pod-template-hash"] = tmpl_hash
        deployments[ns].append({"app": app, "tier": tier, "labels": labels})
        kind = "StatefulSet" if stateful else "ReplicaSet"
        owner = app if stateful else f"{app}-{tmpl_hash}"
        ports = [{"name": n, "containerPort": p, "protocol": proto} for n, p, proto in TIER_PORTS[tier]]
        for r in range(replicas):
            name = f"{app}-{r}" if stateful else f"{app}-{tmpl_hash}-{_hash(rnd, 5)}"
            pl = dict(labels)
            if stateful:
                pl["statefulset.kubernetes.io/pod-name"] = name
                pl["controller-revision-hash"] = f"{app}-{tmpl_hash}"
            objs.append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": name,
                        "namespace": ns,
                        "labels": pl,
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": kind, "name": owner, "uid": f"uid-{_hash(rnd, 12)}", "controller": True}],
                    },
                    "spec": {"containers": [{"name": tier, "image": f"registry.example/{app}:1.0", "ports": ports}]},
                    "status": {"phase": "Running", "podIP": str(ipaddress.ip_address(ip))},
                }
            )
            ip += 1

    add_workload("kube-system", "kube-dns", "dns", 2, False, {"k8s-app": "kube-dns"})
    add_workload("monitoring", "prometheus", "worker", 2, True, {"app.kubernetes.io/name": "prometheus"})
    user_ns = [ns["metadata"]["name"] for ns in namespaces[:n_ns]]
    k = 0
    while len(objs) < pods:
        ns = user_ns[k % n_ns] if rnd.random() < 0.7 else rnd.choice(user_ns)
        k += 1
        tier = rnd.choice(TIERS)
        stateful = tier in ("db", "cache") and rnd.random() < 0.5
        replicas = min(pods - len(objs), rnd.choice([1, 2, 2, 3, 3, 3, 4, 5, 6, 8, 12]))
        app = f"{rnd.choice(WORDS)}-{tier}-{len(deployments[ns])}"
        extra = {"app.kubernetes.io/part-of": rnd.choice(WORDS)}
        if rnd.random() < 0.3:
            extra["release"] = rnd.choice(["stable", "canary"])
        add_workload(ns, app, tier, replicas, stateful, extra)
    return namespaces, objs, deployments


def _sel(labels: dict | None = None, exprs: list | None = None) -> dict:
    out: dict = {}
    if labels:
        out["matchLabels"] = labels
    if exprs:
        out["matchExpressions"] = exprs
    return out


def generate_policies(count: int, namespaces, deployments, rnd: random.Random) -> list[dict]:
    policies: list[dict] = []
    user_ns = [ns["metadata"]["name"] for ns in namespaces if ns["metadata"]["name"] not in ("kube-system", "monitoring")]
    ns_labels = {ns["metadata"]["name"]: ns["metadata"]["labels"] for ns in namespaces}

    def pol(ns: str, name: str, spec: dict) -> None:
        policies.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name, "namespace": ns}, "spec": spec})

    dns_egress = {
        "to": [{"namespaceSelector": _sel({"kubernetes.io/metadata.name": "kube-system"}), "podSelector": _sel({"k8s-app": "kube-dns"})}],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": "dns-tcp"}],
    }
    # Baseline per namespace: default deny (ingress everywhere, egress in prod), DNS, monitoring.
    for i, ns in enumerate(user_ns):
        prod = ns_labels[ns]["env"] == "prod"
        pol(ns, "default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"] if prod else ["Ingress"]})
        if prod:
            pol(ns, "allow-dns", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [dns_egress]})
        pol(
            ns,
            "allow-prometheus",
            {
                "podSelector": _sel(exprs=[{"key": "tier", "operator": "In", "values": ["web", "api", "db", "worker"]}]),
                "ingress": [
                    {
                        "from": [{"namespaceSelector": _sel({"kubernetes.io/metadata.name": "monitoring"}), "podSelector": _sel({"app": "prometheus"})}],
                        "ports": [{"port": "metrics"}],
                    }
                ],
            },
        )

    def pick_deploy(ns: str, tiers: tuple[str, ...] | None = None):
        cands = [d for d in deployments[ns] if tiers is None or d["tier"] in tiers]
        return rnd.choice(cands) if cands else None

    n = 0
    while len(policies) < count:
        n += 1
        ns = rnd.choice(user_ns)
        target = pick_deploy(ns)
        if target is None:
            continue
        kind = rnd.random()
        name = f"p{n:04d}-{target['app']}"
        sel_target = _sel({"app": target["app"]})
        if kind < 0.30:
            # same-namespace client app -> target on named ports
            client = pick_deploy(ns)
            ports = [{"port": p[0], "protocol": p[2]} for p in TIER_PORTS[target["tier"]][:2]]
            pol(ns, name, {"podSelector": sel_target, "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": _sel({"app": client["app"]})}], "ports": ports}]})
        elif kind < 0.50:
            # cross-namespace by namespace labels + pod expressions
            env = rnd.choice(ENVS)
            peer = {
                "namespaceSelector": _sel({"env": env}, [{"key": "team", "operator": "Exists"}] if rnd.random() < 0.5 else None),
                "podSelector": _sel(exprs=[{"key": "tier", "operator": "In", "values": rnd.sample(["web", "api", "worker"], 2)},
                                           rnd.choice([{"key": "release", "operator": "DoesNotExist"},
                                                       {"key": "release", "operator": "NotIn", "values": ["canary"]}])]),
            }
            pol(ns, name, {"podSelector": sel_target, "ingress": [{"from": [peer], "ports": [{"port": TIER_PORTS[target["tier"]][0][1]}]}]})
        elif kind < 0.62:
            # a tier-wide policy: selected by expression, from a whole other namespace
            other = rnd.choice(user_ns)
            pol(
                ns,
                name,
                {
                    "podSelector": _sel(exprs=[{"key": "tier", "operator": "In", "values": [target["tier"]]},
                                               {"key": "version", "operator": "NotIn", "values": ["v3"]}]),
                    "policyTypes": ["Ingress"],
                    "ingress": [{"from": [{"namespaceSelector": _sel({"kubernetes.io/metadata.name": other})}], "ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 80}]}],
                },
            )
        elif kind < 0.72:
            # port ranges with endPort, from anywhere in the cluster with a label
            start = rnd.choice([5000, 5400, 8000, 9000])
            pol(ns, name, {"podSelector": sel_target, "ingress": [{"from": [{"namespaceSelector": {}, "podSelector": _sel({"tier": "api"})}], "ports": [{"protocol": "TCP", "port": start, "endPort": start + rnd.choice([10, 100, 500])}]}]})
        elif kind < 0.82:
            # egress to outside address blocks (and in-cluster db)
            cidr = rnd.choice(["0.0.0.0/0", "10.0.0.0/8", "172.16.0.0/12", "203.0.113.0/24"])
            block: dict = {"cidr": cidr}
            if cidr in ("0.0.0.0/0", "10.0.0.0/8"):
                block["except"] = [f"10.0.{rnd.randrange(0, 40)}.0/24", "169.254.169.254/32"] if cidr == "10.0.0.0/8" else ["10.0.0.0/8"]
            db = pick_deploy(ns, ("db",))
            to = [{"ipBlock": block}]
            if db:
                to.append({"podSelector": _sel({"app": db["app"]})})
            pol(ns, name, {"podSelector": sel_target, "policyTypes": ["Egress"], "egress": [{"to": to, "ports": [{"port": 443}, {"port": 5432, "protocol": "TCP"}]}, dns_egress]})
        elif kind < 0.90:
            # ingress from an address block (load balancers) to web
            pol(ns, name, {"podSelector": sel_target, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/16", "except": [f"10.0.{rnd.randrange(0, 40)}.0/24"]}}], "ports": [{"port": "http"}, {"port": "https"}]}]})
        elif kind < 0.95:
            # allow all ingress from the namespace (no ports)
            pol(ns, name, {"podSelector": sel_target, "ingress": [{"from": [{"podSelector": {}}]}]})
        else:
            # label-by-part-of, any port, any peer from namespaces of a team
            pol(ns, name, {"podSelector": _sel({"app.kubernetes.io/part-of": target["labels"]["app.kubernetes.io/part-of"]}),
                           "ingress": [{"from": [{"namespaceSelector": _sel(exprs=[{"key": "team", "operator": "In", "values": [f"team-{rnd.randrange(9)}", f"team-{rnd.randrange(9)}"]}])}]}]})
    return policies[:count]


def write_inputs(out: str, pods: int, n_policies: int, seed: int) -> dict:
    rnd = random.Random(f"{seed}-{pods}")
    namespaces, pod_objs, deployments = generate_cluster(pods, rnd)
    policies = generate_policies(n_policies, namespaces, deployments, rnd)
    os.makedirs(os.path.join(out, "policies"), exist_ok=True)
    cluster = os.path.join(out, "cluster.yaml")
    with open(cluster, "w") as fh:
        yaml.dump_all([*namespaces, *pod_objs], fh, Dumper=Dumper, sort_keys=False)
    # NCA copy: no ownerReferences (it would otherwise try to group/resolve owners).
    stripped = []
    for p in pod_objs:
        q = dict(p)
        q["metadata"] = {k: v for k, v in p["metadata"].items() if k != "ownerReferences"}
        stripped.append(q)
    with open(os.path.join(out, "cluster-nca.yaml"), "w") as fh:
        yaml.dump_all([*namespaces, *stripped], fh, Dumper=Dumper, sort_keys=False)
    # Policies: one file per namespace, like a repository of manifests.
    by_ns: dict[str, list] = {}
    for p in policies:
        by_ns.setdefault(p["metadata"]["namespace"], []).append(p)
    for ns, items in sorted(by_ns.items()):
        with open(os.path.join(out, "policies", f"{ns}.yaml"), "w") as fh:
            yaml.dump_all(items, fh, Dumper=Dumper, sort_keys=False)
    return {"pods": len(pod_objs), "namespaces": len(namespaces), "policies": len(policies),
            "deployments": sum(len(v) for v in deployments.values())}


# --------------------------------------------------------------------------
# Measurement
# --------------------------------------------------------------------------


def child(cluster_path: str, policy_dir: str) -> None:
    """Run in a fresh process: load + matrix + count_allowed, print JSON."""
    from segc.cluster import load_cluster
    from segc.k8s_eval import K8sEvaluator, load_policies

    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    cluster = load_cluster(cluster_path)
    policies = []
    for name in sorted(os.listdir(policy_dir)):
        policies += load_policies(os.path.join(policy_dir, name))
    t1 = time.perf_counter()
    eps = cluster.endpoints()
    ev = K8sEvaluator(policies, cluster)
    m = ev.matrix(eps, eps, PORTS)
    counts = {f"{p}/{q}": m.count_allowed((p, q)) for p, q in PORTS}
    t2 = time.perf_counter()
    src_classes = len(set(m.src_class))
    dst_classes = max(len(set(v)) for v in m.dst_class.values())
    print(json.dumps({
        "load": t1 - t0, "matrix": t2 - t1, "endpoints": len(eps), "policies": len(policies),
        "counts": counts, "src_classes": src_classes, "dst_classes": dst_classes,
        "base_rss_kb": base_rss, "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }))


def run_measured(cmd: list[str], timeout: float | None = None, stdout=subprocess.PIPE, env=None):
    """(wall seconds, peak RSS KiB of the child, stdout bytes or None, returncode); timeout -> rc None."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, start_new_session=True, env=env)
    out_chunks: list[bytes] = []
    err = b""
    try:
        out, err = proc.communicate(timeout=timeout)
        if out:
            out_chunks.append(out)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # our own child's process group only
        proc.communicate()
        return time.perf_counter() - t0, None, None, None, b""
    wall = time.perf_counter() - t0
    # ru_maxrss of the (now reaped) child: RUSAGE_CHILDREN is the max over all
    # children so far, so we take the per-run figure from the child's own report
    # when there is one; this value is only used for processes that don't report.
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, rss, b"".join(out_chunks), proc.returncode, err


def segc_env() -> dict:
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "0"
    return env


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="500,2000,10000", help="pod counts, comma separated")
    ap.add_argument("--policies", type=int, default=500)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--keep", metavar="DIR", help="write inputs here and keep them (default: a temp dir, removed)")
    ap.add_argument("--cli-max", type=int, default=500, help="time the `segc reach --format json` CLI for sizes up to this")
    ap.add_argument("--nca", metavar="PATH_TO_NCA", help="also run np-guard's nca on the same input")
    ap.add_argument("--nca-sizes", default="500,2000")
    ap.add_argument("--nca-timeout", type=float, default=180.0)
    ap.add_argument("--_child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._child:
        child(*args._child)
        return

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    nca_sizes = {int(s) for s in args.nca_sizes.split(",") if s.strip()}
    root = args.keep or tempfile.mkdtemp(prefix="segc-reach-bench-")
    segc_bin = shutil.which("segc", path=os.path.dirname(sys.executable)) or shutil.which("segc")
    ports_arg = ",".join(f"{p}/{q}" for p, q in PORTS)
    rows = []
    try:
        for size in sizes:
            d = os.path.join(root, f"pods-{size}")
            t0 = time.perf_counter()
            info = write_inputs(d, size, args.policies, args.seed)
            gen = time.perf_counter() - t0
            cluster, pdir = os.path.join(d, "cluster.yaml"), os.path.join(d, "policies")
            mb = os.path.getsize(cluster) / 1e6
            print(f"[{size} pods] generated {info['pods']} pods in {info['deployments']} workloads, "
                  f"{info['namespaces']} namespaces, {info['policies']} policies; cluster.yaml {mb:.1f} MB ({gen:.1f}s)", flush=True)
            wall, _, out, rc, err = run_measured([sys.executable, os.path.abspath(__file__), "--_child", cluster, pdir], env=segc_env())
            if rc != 0:
                sys.exit(f"child failed:\n{err.decode()}")
            r = json.loads(out)
            r.update(size=size, wall=wall, info=info)
            print(f"[{size} pods] load {r['load']:.2f}s  matrix+count {r['matrix']:.2f}s  process {wall:.2f}s  "
                  f"peak RSS {r['peak_rss_kb'] / 1024:.0f} MiB  classes {r['src_classes']}x{r['dst_classes']}  allowed {r['counts']}", flush=True)
            if segc_bin and size <= args.cli_max:
                cmd = [segc_bin, "reach", "--cluster", cluster, "--format", "json", "--ports", ports_arg, pdir]
                with tempfile.TemporaryFile() as sink:
                    cw, _, _, crc, cerr = run_measured(cmd, stdout=sink, env=segc_env())
                    size_mb = sink.seek(0, 2) / 1e6
                r["cli"] = (cw, crc, size_mb)
                print(f"[{size} pods] segc reach --format json: {cw:.2f}s rc={crc} ({size_mb:.0f} MB JSON)"
                      + (f"\n{cerr.decode()[-2000:]}" if crc else ""), flush=True)
            if args.nca and size in nca_sizes:
                cmd = [args.nca, "--connectivity", pdir, "-n", os.path.join(d, "cluster-nca.yaml"), "-p", os.path.join(d, "cluster-nca.yaml"),
                       "-o", "txt_no_fw_rules", "--output_endpoints", "pods", "-f", os.path.join(d, "nca-out.txt")]
                nw, _, _, nrc, nerr = run_measured(cmd, timeout=args.nca_timeout)
                r["nca"] = (nw, nrc)
                status = "timeout" if nrc is None else f"rc={nrc}"
                print(f"[{size} pods] nca --connectivity: {nw:.1f}s {status}"
                      + (f"\n{nerr.decode()[-1500:]}" if nrc not in (None, 0) and nerr else ""), flush=True)
            rows.append(r)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)

    print()
    print(f"segc reach benchmark: {args.policies} NetworkPolicies, ports {ports_arg}, seed {args.seed}")
    hdr = f"{'pods':>6} {'ns':>4} {'probes':>13} {'classes':>9} {'load s':>7} {'matrix s':>9} {'process s':>9} {'peak MiB':>9} {'CLI json s':>10}"
    if args.nca:
        hdr += f" {'nca s':>8} {'nca/segc':>9}"
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        probes = r["endpoints"] ** 2 * len(PORTS)
        cli = f"{r['cli'][0]:.2f}" if "cli" in r and r["cli"][1] == 0 else ("fail" if "cli" in r else "-")
        line = (f"{r['size']:>6} {r['info']['namespaces']:>4} {probes:>13,} {str(r['src_classes']) + 'x' + str(r['dst_classes']):>9} "
                f"{r['load']:>7.2f} {r['matrix']:>9.2f} {r['wall']:>9.2f} {r['peak_rss_kb'] / 1024:>9.0f} {cli:>10}")
        if args.nca:
            if "nca" not in r:
                line += f" {'-':>8} {'-':>9}"
            elif r["nca"][1] is None:
                line += f" {'>' + format(args.nca_timeout, '.0f'):>8} {'>' + format(args.nca_timeout / r['wall'], '.0f') + 'x':>9}"
            elif r["nca"][1] != 0:
                line += f" {'fail':>8} {'-':>9}"
            else:
                line += f" {r['nca'][0]:>8.1f} {r['nca'][0] / r['wall']:>8.1f}x"
        print(line)
    for r in rows:
        if "nca" in r and "cli" in r and r["nca"][1] == 0 and r["cli"][1] == 0:
            print(f"{r['size']} pods: nca / `segc reach --format json` (both writing every answer) = "
                  f"{r['nca'][0]:.1f}s / {r['cli'][0]:.2f}s = {r['nca'][0] / r['cli'][0]:.1f}x")
    print("load = YAML parse + policy compile; matrix = K8sEvaluator(...).matrix(all, all, ports) + count_allowed;")
    print("process = wall time of the child process (interpreter start + imports + load + matrix); peak = its ru_maxrss.")
    if args.nca:
        print("nca/segc = nca wall time / segc process wall time (nca covers all ports, segc the three above).")


if __name__ == "__main__":
    main()
