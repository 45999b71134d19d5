"""Kustomize with the real `kubectl kustomize` (kustomize 5.5 in kubectl
1.32.3, kustomize 5.6 in kubectl 1.33.9, both fetched by tests/tools):

* `segc build -o DIR` is a ready base;
* the SegcGenerator and SegcTransformer legacy exec plugins, installed by
  `segc kustomize-plugin install`, run under `--enable-alpha-plugins`;

and each output is compared, object by object, with `segc build`.
"""

from __future__ import annotations

import os
import textwrap

import pytest

from tools.k8s import built, docs, k8s_tools, policies, run, segc_cmd  # noqa: F401 (fixture)

PROGRAM = """\
namespace shop
deny-all
allow dns
allow frontend -> backend:http
allow backend -> postgres:5432
"""

DEPLOYMENTS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend, namespace: shop}
spec:
  selector: {matchLabels: {app: frontend}}
  template:
    metadata: {labels: {app: frontend}}
    spec: {containers: [{name: web, image: nginx}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: backend, namespace: shop}
spec:
  selector: {matchLabels: {app: backend}}
  template:
    metadata: {labels: {app: backend}}
    spec: {containers: [{name: api, image: api, ports: [{name: http, containerPort: 8000}]}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: postgres, namespace: shop}
spec:
  selector: {matchLabels: {app: postgres}}
  serviceName: postgres
  template:
    metadata: {labels: {app: postgres}}
    spec: {containers: [{name: pg, image: postgres}]}
"""

KUBECTLS = ["helm3", "helm4"]  # the layer each kubectl comes from


def _write(path, text: str) -> None:
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(textwrap.dedent(text))


@pytest.fixture(scope="module")
def plugin_home(tmp_path_factory) -> str:
    home = str(tmp_path_factory.mktemp("kustomize-plugins"))
    p = run([*segc_cmd(), "kustomize-plugin", "install", home])
    assert p.returncode == 0, p.stderr
    return home


def kustomize(tools, layer: str, directory, plugin_home: str | None = None):
    env = dict(os.environ)
    cmd = [tools[layer]["kubectl"], "kustomize", str(directory)]
    if plugin_home:
        env["KUSTOMIZE_PLUGIN_HOME"] = plugin_home
        cmd.append("--enable-alpha-plugins")
    return run(cmd, env=env)


@pytest.mark.parametrize("layer", KUBECTLS)
def test_build_output_is_a_kustomize_base(k8s_tools, layer, tmp_path):
    _write(tmp_path / "shop.seg", PROGRAM)
    p = run([*segc_cmd(), "build", "shop.seg", "-o", "base"], cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    k = kustomize(k8s_tools, layer, tmp_path / "base")
    assert k.returncode == 0, k.stderr
    assert policies(docs(k.stdout)) == built("shop.seg", cwd=tmp_path)
    # An overlay can use it as a base, next to the application.
    _write(tmp_path / "overlay" / "kustomization.yaml", "resources: [../base, app.yaml]\n")
    _write(tmp_path / "overlay" / "app.yaml", DEPLOYMENTS)
    k = kustomize(k8s_tools, layer, tmp_path / "overlay")
    assert k.returncode == 0, k.stderr
    objs = docs(k.stdout)
    assert policies(objs) == built("shop.seg", cwd=tmp_path)
    assert sorted(o["metadata"]["name"] for o in objs if o["kind"] != "NetworkPolicy") == ["backend", "frontend", "postgres"]


def test_empty_program_is_an_empty_base(k8s_tools, tmp_path):
    _write(tmp_path / "empty.seg", "namespace shop\n")
    assert run([*segc_cmd(), "build", "empty.seg", "-o", "base"], cwd=tmp_path).returncode == 0
    k = kustomize(k8s_tools, "helm4", tmp_path / "base")
    assert k.returncode == 0, k.stderr
    assert docs(k.stdout) == []


def test_install_writes_the_plugin_layout(plugin_home):
    for kind in ("SegcGenerator", "SegcTransformer"):
        path = os.path.join(plugin_home, "segc.io", "v1", kind.lower(), kind)
        assert os.access(path, os.X_OK), path


def test_install_again_is_fine_but_never_overwrites_a_user_file(tmp_path):
    home = tmp_path / "plugins"
    assert run([*segc_cmd(), "kustomize-plugin", "install", str(home)]).returncode == 0
    assert run([*segc_cmd(), "kustomize-plugin", "install", str(home)]).returncode == 0
    mine = home / "segc.io" / "v1" / "segctransformer" / "SegcTransformer"
    mine.write_text("#!/bin/sh\necho mine\n")
    p = run([*segc_cmd(), "kustomize-plugin", "install", str(home)])
    assert p.returncode == 1
    assert "was not installed by segc" in p.stderr and "Traceback" not in p.stderr
    assert mine.read_text() == "#!/bin/sh\necho mine\n"


def _app(tmp_path, plugin: str, config: str, program: str = PROGRAM, extra: str = ""):
    app = tmp_path / "app"
    _write(app / "shop.seg", program)
    _write(app / "deployments.yaml", DEPLOYMENTS)
    _write(app / "segc.yaml", config)
    _write(app / "kustomization.yaml", f"resources: [deployments.yaml]\n{plugin}: [segc.yaml]\n{extra}")
    return app


GENERATOR = """\
apiVersion: segc.io/v1
kind: SegcGenerator
metadata: {name: policies}
files: [shop.seg]
"""

TRANSFORMER = """\
apiVersion: segc.io/v1
kind: SegcTransformer
metadata: {name: policies}
files: [shop.seg]
"""


@pytest.mark.parametrize("layer", KUBECTLS)
@pytest.mark.parametrize("plugin,config", [("generators", GENERATOR), ("transformers", TRANSFORMER)])
def test_plugin_adds_exactly_the_built_policies(k8s_tools, plugin_home, layer, plugin, config, tmp_path):
    app = _app(tmp_path, plugin, config)
    # Run from elsewhere: the plugin finds shop.seg next to the kustomization.
    k = kustomize(k8s_tools, layer, app, plugin_home)
    assert k.returncode == 0, k.stderr
    assert "warning" not in k.stderr
    objs = docs(k.stdout)
    assert policies(objs) == built("shop.seg", cwd=app)
    apps = {o["metadata"]["name"]: o for o in objs if o["kind"] != "NetworkPolicy"}
    assert apps == {d["metadata"]["name"]: d for d in docs(DEPLOYMENTS)}


def test_generator_error_names_the_file_line_and_column(k8s_tools, plugin_home, tmp_path):
    app = _app(tmp_path, "generators", GENERATOR, program=PROGRAM.replace("5432", "99999"))
    k = kustomize(k8s_tools, "helm4", app, plugin_home)
    assert k.returncode != 0
    assert f"{app / 'shop.seg'}:5:27: error: port 99999 is outside 1-65535 [SEG030]" in k.stderr
    assert "Traceback" not in k.stderr


def test_generator_config_error(k8s_tools, plugin_home, tmp_path):
    app = _app(tmp_path, "generators", GENERATOR.replace("files: [shop.seg]", "file: shop.seg"))
    k = kustomize(k8s_tools, "helm4", app, plugin_home)
    assert k.returncode != 0
    assert "SegcGenerator 'policies': unknown field(s) file" in k.stderr and "[SEG164]" in k.stderr


@pytest.mark.parametrize("extra,why", [("namespace: other\n", "namespace: other"), ("commonLabels: {team: x}\n", "commonLabels"), ("labels: [{pairs: {team: x}, includeSelectors: true}]\n", "includeSelectors")])
def test_generator_refuses_a_kustomization_that_would_rewrite_its_policies(k8s_tools, plugin_home, tmp_path, extra, why):
    # Kustomize applies these to generated objects; `commonLabels` would add
    # team=x to the kube-dns selector of `allow dns`, for one.
    app = _app(tmp_path, "generators", GENERATOR, extra=extra)
    k = kustomize(k8s_tools, "helm4", app, plugin_home)
    assert k.returncode != 0
    assert "[SEG166]" in k.stderr and why in k.stderr


def test_generator_accepts_the_namespace_it_writes_to_and_plain_labels(k8s_tools, plugin_home, tmp_path):
    app = _app(tmp_path, "generators", GENERATOR, extra="namespace: shop\nlabels: [{pairs: {team: x}}]\n")
    k = kustomize(k8s_tools, "helm4", app, plugin_home)
    assert k.returncode == 0, k.stderr
    got = policies(docs(k.stdout))
    for p in got:
        assert p["metadata"]["labels"].pop("team") == "x"
    assert got == built("shop.seg", cwd=app)


def test_transformer_runs_after_the_kustomization_rewrites(k8s_tools, plugin_home, tmp_path):
    app = _app(tmp_path, "transformers", TRANSFORMER, extra="commonLabels: {team: x}\n")
    k = kustomize(k8s_tools, "helm4", app, plugin_home)
    assert k.returncode == 0, k.stderr
    objs = docs(k.stdout)
    assert policies(objs) == built("shop.seg", cwd=app)
    assert all(o["metadata"]["labels"]["team"] == "x" for o in objs if o["kind"] != "NetworkPolicy")


def test_transformer_warns_about_a_label_typo_and_strict_fails(k8s_tools, plugin_home, tmp_path):
    app = _app(tmp_path, "transformers", TRANSFORMER, program=PROGRAM.replace("-> backend:http", "-> backnd:http"))
    k = kustomize(k8s_tools, "helm4", app, plugin_home)
    # Kustomize shows a plugin's standard error only when it fails, so the
    # warning is seen when the transformer runs alone (as Kustomize runs it) ...
    assert k.returncode == 0, k.stderr
    assert policies(docs(k.stdout)) == built("shop.seg", cwd=app)
    p = run([*segc_cmd(), "kustomize-plugin", "transform", "segc.yaml"], cwd=app, input=DEPLOYMENTS)
    assert p.returncode == 0, p.stderr
    assert f"{app / 'shop.seg'}:4:19: warning: no rendered pod template in namespace shop matches app=backnd [SEG160]" in p.stderr
    assert "did you mean app=backend? (Deployment shop/backend)" in p.stderr
    assert p.stdout.startswith(DEPLOYMENTS)
    # ... and `strict: true` makes it an error Kustomize reports.
    _write(app / "segc.yaml", TRANSFORMER + "strict: true\n")
    k = kustomize(k8s_tools, "helm4", app, plugin_home)
    assert k.returncode != 0
    assert f"{app / 'shop.seg'}:4:19: error: no rendered pod template in namespace shop matches app=backnd [SEG160]" in k.stderr


def test_transformer_refuses_a_policy_that_is_already_there(k8s_tools, plugin_home, tmp_path):
    app = _app(tmp_path, "transformers", TRANSFORMER)
    assert run([*segc_cmd(), "build", "shop.seg", "-o", "base"], cwd=app).returncode == 0
    _write(app / "kustomization.yaml", "resources: [deployments.yaml, base]\ntransformers: [segc.yaml]\n")
    k = kustomize(k8s_tools, "helm4", app, plugin_home)
    assert k.returncode != 0
    assert "the resources already contain NetworkPolicy shop/" in k.stderr and "[SEG163]" in k.stderr
