"""The pre-commit hooks (.pre-commit-hooks.yaml), run by the real pre-commit
through `pre-commit try-repo`: it installs this repository into a virtualenv of
its own, as a user's pre-commit would, and runs the hooks on a user's repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PRE_COMMIT = shutil.which("pre-commit", path=os.path.dirname(sys.executable)) or shutil.which("pre-commit")

UGLY = "namespace  shop\ndeny-all\nallow dns\nallow frontend->backend:8080\n"
PRETTY = "namespace shop\ndeny-all\nallow dns\nallow frontend -> backend:8080\n"


def test_hooks_file_names_both_hooks():
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"segc-fmt", "segc-check"}
    assert all(h["language"] == "python" and h["files"] == r"\.seg$" for h in hooks.values())


@pytest.fixture(scope="module")
def user_repo(tmp_path_factory):
    assert PRE_COMMIT, "pre-commit is a test dependency (pip install -e '.[test]')"
    repo = tmp_path_factory.mktemp("user-repo")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path_factory.mktemp("pre-commit-home")), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=env)
    return repo, env


def try_repo(repo: Path, env: dict, hook: str, *files: str) -> subprocess.CompletedProcess:
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)
    return subprocess.run([PRE_COMMIT, "try-repo", str(ROOT), hook, "--files", *files], cwd=repo, env=env, capture_output=True, text=True, timeout=900)


def test_segc_fmt_hook_reformats_and_fails_then_passes(user_repo):
    repo, env = user_repo
    (repo / "shop.seg").write_text(UGLY)
    first = try_repo(repo, env, "segc-fmt", "shop.seg")
    assert first.returncode == 1, first.stdout + first.stderr
    assert "files were modified by this hook" in first.stdout
    assert (repo / "shop.seg").read_text() == PRETTY
    second = try_repo(repo, env, "segc-fmt", "shop.seg")
    assert second.returncode == 0, second.stdout + second.stderr


def test_segc_check_hook_fails_on_errors_with_file_line_col(user_repo):
    repo, env = user_repo
    (repo / "good.seg").write_text(PRETTY)
    (repo / "bad.seg").write_text("namespace shop\nallow frontend -> backend:99999\n")
    # Each file is its own program: two files defining the same group are fine.
    (repo / "other.seg").write_text("namespace other\ngroup g = {tier=api}\nallow g -> backend:80\n")
    (repo / "more.seg").write_text("namespace more\ngroup g = {tier=api}\nallow g -> backend:80\n")
    ok = try_repo(repo, env, "segc-check", "good.seg", "other.seg", "more.seg")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = try_repo(repo, env, "segc-check", "good.seg", "bad.seg")
    assert bad.returncode == 1
    assert "bad.seg:2:27: error: port 99999 is outside 1-65535 [SEG030]" in bad.stdout
