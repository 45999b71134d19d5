"""Helm with the real binaries (Helm 3.17.2 and Helm 4.1.4, fetched by
tests/tools) on the example chart examples/helm/shop:

* Helm 3: `helm template --post-renderer segc --post-renderer-args ...`;
* Helm 4: the post-renderer plugin, installed by `segc helm-plugin install`
  (and the shipped plugin folder as it is) and found through HELM_PLUGINS;
* render mode: a selector or named port that matches no rendered workload.

The chart's own objects must come out unchanged and the policies must be
exactly those of `segc build examples/helm/shop.seg`.
"""

from __future__ import annotations

import os
import shutil
import sys

import pytest

from tools.k8s import ROOT, built, docs, k8s_tools, policies, run, segc_cmd  # noqa: F401 (fixture)

CHART = os.path.join(ROOT, "examples", "helm", "shop")
SEG = os.path.join(ROOT, "examples", "helm", "shop.seg")


def helm(tools, layer: str, *args: str, env: dict | None = None):
    e = dict(os.environ)
    e.update(env or {})
    return run([tools[layer]["helm"], "template", "rel", CHART, "-n", "shop", *args], env=e)


def chart_objects(tools, layer: str, *args: str) -> list[dict]:
    p = helm(tools, layer, *args)
    assert p.returncode == 0, p.stderr
    objs = docs(p.stdout)
    assert objs and not any(o["kind"] == "NetworkPolicy" for o in objs)
    return objs


def assert_release(out: str, plain: list[dict]) -> None:
    objs = docs(out)
    assert [o for o in objs if o["kind"] != "NetworkPolicy"] == plain
    assert policies(objs) == built(SEG)


@pytest.fixture(scope="module")
def segc_exe(tmp_path_factory) -> str:
    """A `segc` executable for Helm 3's --post-renderer (a path or a PATH name)."""
    found = shutil.which("segc", path=os.path.dirname(sys.executable))
    if found:
        return found
    d = tmp_path_factory.mktemp("bin")
    exe = d / "segc"
    exe.write_text(f"#!/bin/sh\nexec {sys.executable} -m segc \"$@\"\n")
    exe.chmod(0o755)
    return str(exe)


def test_helm3_post_renderer(k8s_tools, segc_exe):
    plain = chart_objects(k8s_tools, "helm3")
    p = helm(k8s_tools, "helm3", "--post-renderer", segc_exe, "--post-renderer-args", "helm-postrender", "--post-renderer-args", f"--seg={SEG}")
    assert p.returncode == 0, p.stderr
    assert_release(p.stdout, plain)


@pytest.fixture(scope="module")
def helm_plugins(tmp_path_factory) -> str:
    d = str(tmp_path_factory.mktemp("helm-plugins"))
    p = run([*segc_cmd(), "helm-plugin", "install", d])
    assert p.returncode == 0, p.stderr
    return d


def test_helm4_plugin(k8s_tools, helm_plugins):
    listed = run([k8s_tools["helm4"]["helm"], "plugin", "list"], env={**os.environ, "HELM_PLUGINS": helm_plugins})
    assert listed.returncode == 0 and "segc" in listed.stdout and "postrenderer/v1" in listed.stdout, listed.stdout + listed.stderr
    plain = chart_objects(k8s_tools, "helm4")
    p = helm(k8s_tools, "helm4", "--post-renderer", "segc", "--post-renderer-args", f"--seg={SEG}", env={"HELM_PLUGINS": helm_plugins})
    assert p.returncode == 0, p.stderr
    assert_release(p.stdout, plain)


def test_helm4_shipped_plugin_folder_runs_segc_from_path(k8s_tools, segc_exe, tmp_path):
    from segc.integrations.install import helm_plugin_source

    (tmp_path / "segc").mkdir()
    (tmp_path / "segc" / "plugin.yaml").write_text(helm_plugin_source())
    env = {"HELM_PLUGINS": str(tmp_path), "PATH": os.path.dirname(segc_exe) + os.pathsep + os.environ["PATH"]}
    plain = chart_objects(k8s_tools, "helm4")
    p = helm(k8s_tools, "helm4", "--post-renderer", "segc", "--post-renderer-args", f"--seg={SEG}", env=env)
    assert p.returncode == 0, p.stderr
    assert_release(p.stdout, plain)


def test_helm_plugin_install_never_overwrites_a_user_file(tmp_path):
    (tmp_path / "segc").mkdir()
    (tmp_path / "segc" / "plugin.yaml").write_text("name: segc\n")
    p = run([*segc_cmd(), "helm-plugin", "install", str(tmp_path)])
    assert p.returncode == 1 and "was not installed by segc" in p.stderr
    assert (tmp_path / "segc" / "plugin.yaml").read_text() == "name: segc\n"


TYPO = ["--set", "backend.app=backnd"]  # the chart labels its backend app=backnd


def test_helm3_label_typo_warns_and_strict_fails(k8s_tools, segc_exe, tmp_path):
    report = tmp_path / "report.txt"
    args = ["--post-renderer", segc_exe, "--post-renderer-args", "helm-postrender", "--post-renderer-args", f"--seg={SEG}", "--post-renderer-args", f"--report={report}"]
    p = helm(k8s_tools, "helm3", *TYPO, *args)
    assert p.returncode == 0, p.stderr  # a warning: the release renders, policies included
    assert policies(docs(p.stdout)) == built(SEG)
    text = report.read_text()
    assert f"{os.path.relpath(SEG)}:7:23: warning: no rendered pod template in namespace shop matches app=backend [SEG160]" in text
    assert "note: did you mean app=backnd? (Deployment rel-backend)" in text
    p = helm(k8s_tools, "helm3", *TYPO, *args, "--post-renderer-args", "--strict")
    assert p.returncode != 0
    assert f"{os.path.relpath(SEG)}:7:23: error: no rendered pod template in namespace shop matches app=backend [SEG160]" in p.stderr  # Helm 3 shows a failing post-renderer's stderr


def test_helm4_label_typo_strict_fails_and_report_says_why(k8s_tools, helm_plugins, tmp_path):
    report = tmp_path / "report.txt"
    args = ["--post-renderer", "segc", "--post-renderer-args", f"--seg={SEG}", "--post-renderer-args", f"--report={report}", "--post-renderer-args", "--strict"]
    p = helm(k8s_tools, "helm4", *TYPO, *args, env={"HELM_PLUGINS": helm_plugins})
    assert p.returncode != 0
    # Helm 4.1 drops a plugin's stderr: the report file is where the reason is.
    assert f"{os.path.relpath(SEG)}:7:23: error: no rendered pod template in namespace shop matches app=backend [SEG160]" in report.read_text()
    p = helm(k8s_tools, "helm4", *args, env={"HELM_PLUGINS": helm_plugins})
    assert p.returncode == 0, p.stderr
    assert report.read_text() == ""


def postrender(tmp_path, rendered: str, program: str, *flags: str):
    (tmp_path / "app.seg").write_text(program)
    return run([*segc_cmd(), "helm-postrender", "--seg", "app.seg", *flags], cwd=tmp_path, input=rendered)


def test_named_port_typo(k8s_tools, tmp_path):
    rendered = helm(k8s_tools, "helm3").stdout
    program = open(SEG, encoding="utf-8").read().replace("backend:http", "backend:htpp")
    p = postrender(tmp_path, rendered, program)
    assert p.returncode == 0, p.stderr
    assert "app.seg:7:23: warning: Deployment rel-backend declares no container port named 'htpp' (TCP); the rule opens nothing on its pods [SEG161]" in p.stderr
    assert "note: did you mean 'http'?" in p.stderr
    assert p.stdout.startswith(rendered)
    p = postrender(tmp_path, rendered, program.replace("backend:htpp", "backend:http/udp"), "--strict")
    assert p.returncode == 1
    assert "declares no container port named 'http' (UDP)" in p.stderr and "'http' is declared with another protocol" in p.stderr
    assert p.stdout == ""


def test_clean_release_has_no_diagnostics(k8s_tools, tmp_path):
    rendered = helm(k8s_tools, "helm3").stdout
    p = postrender(tmp_path, rendered, open(SEG, encoding="utf-8").read(), "--strict")
    assert p.returncode == 0 and p.stderr == "", p.stderr
    assert p.stdout.startswith(rendered)



KINDS = """\
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec: {template: {metadata: {labels: {app: agent}}, spec: {containers: [{name: a, ports: [{name: metrics, containerPort: 9100}]}]}}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec: {template: {metadata: {labels: {app: migrate}}, spec: {containers: [{name: m}]}}}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: cache}
spec: {template: {metadata: {labels: {app: cache}}, spec: {containers: [{name: c, ports: [{name: redis, containerPort: 6379}]}]}}}
---
apiVersion: v1
kind: Pod
metadata: {name: debug, labels: {app: debug}}
spec: {containers: [{name: d}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: not-a-workload, labels: {app: cfg}}
"""


@pytest.mark.parametrize(
    "endpoint,flagged",
    [("agent:metrics", False), ("migrate", False), ("cache:redis", False), ("debug", False), ("cfg", True), ("agnet", True), ("cache:redsi", True)],
)
def test_every_workload_kind_counts(tmp_path, endpoint, flagged):
    p = postrender(tmp_path, KINDS, f"namespace shop\nallow {endpoint}\n", "--strict")
    assert (p.returncode == 1) == flagged, p.stderr
    assert ("SEG160" in p.stderr or "SEG161" in p.stderr) == flagged


def test_release_namespace(tmp_path):
    program = "namespace shop\nallow agent:metrics\nallow web/frontend -> debug\n"
    # Workloads without a namespace are in --namespace when given ...
    p = postrender(tmp_path, KINDS, program, "--namespace", "shop", "--strict")
    assert p.returncode == 0, p.stderr
    # ... and a release rendered into a namespace the program does not manage is reported.
    p = postrender(tmp_path, KINDS, program, "--namespace", "prod")
    assert p.returncode == 0
    assert "app.seg:1:1: warning: the rendered workloads are in prod, none of which this program manages (shop) [SEG165]" in p.stderr
    assert "SEG160" not in p.stderr  # shop has no rendered workloads to check against
    # Pods of a namespace the release does not deploy to (web) are not checked.
    assert "web" not in p.stderr


def test_a_policy_of_the_chart_in_a_managed_namespace_is_reported(tmp_path):
    chart_policy = "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: allow-all}\nspec: {podSelector: {}, ingress: [{}]}\n"
    p = postrender(tmp_path, KINDS + chart_policy, "namespace shop\nallow agent:metrics\n")
    assert p.returncode == 0
    assert "<stdin>:25:1: warning: NetworkPolicy allow-all in the release namespace is not segc's; the program manages shop, and this policy can allow more than the program says [SEG167]" in p.stderr
    p = postrender(tmp_path, KINDS + chart_policy, "namespace shop\nallow agent:metrics\n", "--namespace", "shop", "--strict")
    assert p.returncode == 1 and "SEG167" in p.stderr
    # In a namespace the program does not manage, it is none of segc's business.
    p = postrender(tmp_path, KINDS.replace("name: agent}", "name: agent, namespace: shop}") + chart_policy, "namespace shop\nallow agent:metrics\n", "--namespace", "other", "--strict")
    assert p.returncode == 0, p.stderr


def test_unreadable_release_is_an_error(tmp_path):
    p = postrender(tmp_path, "a: [\n", "namespace shop\nallow x -> y\n")
    assert p.returncode == 1 and p.stdout == ""
    assert p.stderr.startswith("<stdin>:2:1: error: cannot read the resources") and "[SEG162]" in p.stderr
    p = postrender(tmp_path, "- 1\n", "namespace shop\nallow x -> y\n")
    assert p.returncode == 1 and "expected a Kubernetes object" in p.stderr

# ------------------------------------------------- render mode, property-tested

import re  # noqa: E402

from hypothesis import event, example, given, note  # noqa: E402

from segc import ir  # noqa: E402
from segc.compile import compile_paths  # noqa: E402
from segc.integrations.step import transform  # noqa: E402
from segc.output import stream, to_yaml  # noqa: E402
from segc.seg_eval import SegEvaluator  # noqa: E402
from strategies import cluster, program  # noqa: E402


def _pods_yaml(c) -> str:
    objs = []
    for p in c.pods:
        ports = [{"name": cp.name, "containerPort": cp.port, "protocol": cp.protocol} for cp in p.ports]
        objs.append({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": p.name, "namespace": p.namespace, "labels": dict(p.labels)}, "spec": {"containers": [{"name": "c", "image": "x", "ports": ports}]}})
    return "".join("---\n# a comment the post-renderer keeps\n" + to_yaml(o) for o in objs)


def _sctp_only_cluster():
    from segc.cluster import Cluster, ContainerPort, Namespace, Pod

    c = Cluster()
    c.namespaces["app"] = Namespace("app")
    c.pods.append(Pod("app", "p0", {"app": "backend"}, "10.0.0.5", (ContainerPort(80, "SCTP", "http"),)))
    c.pods.append(Pod("app", "p1", {"app": "frontend"}, "10.0.0.6", ()))
    return c


@given(program(), cluster())
@example("namespace app\nallow frontend -> backend:http\nallow frontend -> backend:http/sctp\n", _sctp_only_cluster())
def test_render_mode_flags_exactly_the_endpoints_that_select_no_rendered_pod(text, c):
    """Oracle: evaluator 1's `selects` on the resolved program and the rendered
    pods. An allow endpoint naming pods of one namespace that has rendered pods
    is flagged (SEG160) iff it selects none of them; a named destination port
    is flagged (SEG161) iff some selected pod does not declare it. And the
    release comes out byte for byte, followed by exactly `segc build`'s policies."""
    rendered = _pods_yaml(c)
    texts = {"prog.seg": text}
    compiled = compile_paths(["prog.seg"], dict(texts))
    step = transform(["prog.seg"], rendered, "<stdin>", texts=dict(texts))
    if not compiled.ok:
        assert not step.ok
        return
    assert step.ok, step.diagnostics
    assert step.output == rendered + stream(compiled.policies)
    ev = SegEvaluator(compiled.program, c)
    lines = text.split("\n")
    has_pods = {p.namespace for p in c.pods}
    expected160, expected161 = set(), set()
    for a in compiled.program.allows:
        if a.span.file != "prog.seg":
            continue
        for side, peer in (("dst", a.dst), ("src", a.src)):
            if isinstance(peer, ir.PodPeer) and isinstance(peer.ns, ir.NsNamed) and peer.ns.name in has_pods:
                selected = [p for p in c.pods if ev.selects(peer, p)]
                if not selected:
                    expected160.add((a.span.line, side))
                elif side == "dst":
                    for port in a.ports or ():
                        if port.name and any(p.named_port(port.name, port.protocol) is None for p in selected):
                            expected161.add((a.span.line, port.name, port.protocol))
    got160, got161 = set(), set()
    for d in step.diagnostics:
        line = lines[d.span.line - 1]
        if d.code == "SEG160":
            arrow = line.find("->")
            got160.add((d.span.line, "dst" if arrow < 0 or d.span.column - 1 > arrow else "src"))
        elif d.code == "SEG161":
            m = re.search(r"named '(.+?)' \((\w+)\)", d.message)
            got161.add((d.span.line, m.group(1), m.group(2)))
    note(f"rendered:\n{rendered}\ndiagnostics: {step.diagnostics}")
    event(f"SEG160 expected: {bool(expected160)}")
    event(f"SEG161 expected: {bool(expected161)}")
    assert got160 == expected160
    assert got161 == expected161
