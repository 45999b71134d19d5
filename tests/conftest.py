"""Hypothesis profiles: `ci` (default, fast), `deep` (SEGC_PROFILE=deep, 10,000 examples)."""

import os
import sys

from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(__file__))

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
settings.register_profile("ci", max_examples=300, **_common)
settings.register_profile("dev", max_examples=100, **_common)
settings.register_profile("deep", max_examples=10_000, **_common)
settings.load_profile(os.environ.get("SEGC_PROFILE", "ci"))
