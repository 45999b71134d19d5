"""`segc reach --cluster C [--external IP,...] [--ports P/PROTO,...] [--format table|json] [--why FROM TO PORT/PROTO] POLICY...`."""

from __future__ import annotations

import ipaddress
import json
import sys

import click

from .common import print_diagnostics


def _parse_ports(text: str) -> list[tuple[int, str]]:
    out = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        number, _, proto = item.partition("/")
        proto = (proto or "TCP").upper()
        if proto not in ("TCP", "UDP", "SCTP"):
            raise click.BadParameter(f"unknown protocol in {item!r} (expected TCP, UDP or SCTP)", param_hint="--ports")
        try:
            port = int(number)
        except ValueError:
            raise click.BadParameter(f"{item!r} is not PORT/PROTOCOL", param_hint="--ports") from None
        if not 1 <= port <= 65535:
            raise click.BadParameter(f"port {port} is outside 1-65535", param_hint="--ports")
        out.append((port, proto))
    return out


def _default_ports(cluster) -> list[tuple[int, str]]:
    found = sorted({(p.port, p.protocol) for pod in cluster.pods for p in pod.ports})
    return found or [(80, "TCP")]


@click.command()
@click.argument("policies", nargs=-1, required=True)
@click.option("--cluster", "cluster_path", required=True, metavar="CLUSTER.yaml", help="Namespace and Pod objects, as `kubectl get ns,pods -A -o yaml` prints them.")
@click.option("--external", default="", metavar="IP,...", help="Addresses outside the cluster to probe from and to.")
@click.option("--ports", "ports_text", default=None, metavar="PORT/PROTO,...", help="Ports to probe (default: every container port in the cluster, else 80/TCP).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--why", nargs=3, default=None, metavar="FROM TO PORT/PROTO", help="Explain one probe: which rule allows it, or which isolation denies it.")
def reach(policies, cluster_path, external, ports_text, fmt, why) -> None:
    """Evaluate who may reach whom under POLICY... (.seg files or NetworkPolicy YAML)."""
    from ..cluster import ClusterError, load_cluster
    from ..reach import matrix, truth_table
    from ..reach_inputs import PolicyInputError, evaluator_for

    try:
        cluster = load_cluster(cluster_path)
    except ClusterError as e:
        click.echo(f"segc: error: {e}", err=True)
        sys.exit(1)
    for ip in filter(None, (x.strip() for x in external.split(","))):
        try:
            cluster.add_external(ip)
        except ValueError:
            raise click.BadParameter(f"{ip!r} is not an IP address", param_hint="--external") from None
    ports = _parse_ports(ports_text) if ports_text else _default_ports(cluster)
    try:
        evaluator, blocks, result = evaluator_for(list(policies), cluster)
    except PolicyInputError as e:
        click.echo(f"segc: error: {e}", err=True)
        sys.exit(1)
    if result is not None:
        print_diagnostics(result)
        if evaluator is None:
            sys.exit(1)
    if why:
        _why(evaluator, cluster, *why)
        return
    probes = matrix(evaluator, cluster, ports, blocks)
    if fmt == "json":
        click.echo(json.dumps({"probes": [p.to_dict() for p in probes]}, indent=2))
    else:
        click.echo(truth_table(probes, [e.key for e in cluster.endpoints()]), nl=False)


def _why(evaluator, cluster, src_key: str, dst_key: str, port_text: str) -> None:
    (port, proto), *_ = _parse_ports(port_text) or [(0, "")]
    by_key = {e.key: e for e in cluster.endpoints()}

    def find(key: str):
        if key in by_key:
            return by_key[key]
        try:
            ipaddress.ip_address(key)
        except ValueError:
            raise click.BadParameter(f"{key!r} is neither a pod (NAMESPACE/NAME) of the cluster nor an IP address", param_hint="--why") from None
        cluster.add_external(key)
        return cluster.externals[-1]

    src, dst = find(src_key), find(dst_key)
    click.echo(evaluator.why(src, dst, port, proto))
