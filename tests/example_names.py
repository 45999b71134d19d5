"""The .seg examples, found one way for every test: a folder examples/NAME
holding NAME.seg (its program) and NAME/expected (its reviewed output).
examples/helm is a Helm chart with its own tests (tests/test_helm.py)."""

from __future__ import annotations

from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"

NAMES = sorted(p.name for p in EXAMPLES_DIR.iterdir() if (p / f"{p.name}.seg").is_file())
