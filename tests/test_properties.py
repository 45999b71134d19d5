"""The central claim: the compiled manifests mean exactly what the program says.

For random programs over the core language and random clusters, evaluator 1
(the .seg meaning, straight from the IR) and evaluator 2 (Kubernetes
NetworkPolicy semantics, on `segc build` output written to YAML and read back)
agree on every probe; and every refusal is a diagnostic, never a crash.
"""

from __future__ import annotations

import yaml
from hypothesis import given, note
from hypothesis import strategies as st

from segc.compile import compile_paths
from segc.k8s_eval import K8sEvaluator, policies_from_objects
from segc.output import stream
from segc.seg_eval import SegEvaluator
from strategies import PROBE_PORTS, cluster, program

REFUSALS = {"SEG060", "SEG061"}


def compile_text(text: str, optimize: bool = True):
    return compile_paths(["prog.seg"], {"prog.seg": text}, optimize=optimize)


def assert_equivalent(text: str, c, optimize: bool = True, refusals=REFUSALS) -> None:
    result = compile_text(text, optimize)
    errors = [d for d in result.diagnostics if d.severity == "error"]
    if errors:
        # Only refusals may stop a generated program: the generator writes valid syntax.
        assert {d.code for d in errors} <= refusals, errors
        return
    reread = policies_from_objects(yaml.load_all(stream(result.policies), Loader=yaml.CSafeLoader))
    seg = SegEvaluator(result.program, c)
    k8s = K8sEvaluator(reread, c)
    endpoints = c.endpoints()
    for src in endpoints:
        for dst in endpoints:
            for port, proto in PROBE_PORTS:
                expected = seg.allowed(src, dst, port, proto)
                if k8s.allowed(src, dst, port, proto) != expected:
                    note(stream(result.policies))
                    note(seg.why(src, dst, port, proto))
                    note(k8s.why(src, dst, port, proto))
                    raise AssertionError(f"{src.key} -> {dst.key} {port}/{proto}: program says {expected}, manifests say {not expected}")


@given(program(), cluster())
def test_manifests_mean_what_the_program_says(text, c):
    note(text)
    assert_equivalent(text, c)


@given(program(), cluster())
def test_unoptimized_manifests_mean_what_the_program_says(text, c):
    note(text)
    assert_equivalent(text, c, optimize=False)


@given(program(), st.randoms(use_true_random=False))
def test_output_is_independent_of_statement_order(text, rnd):
    """Shuffling statements within each namespace block changes no byte."""
    lines = text.splitlines()
    blocks, current = [], []
    for line in lines:
        if line.startswith("namespace ") and current:
            blocks.append(current)
            current = []
        current.append(line)
    blocks.append(current)
    shuffled = []
    for b in blocks:
        head, body = b[:1], b[1:]
        rnd.shuffle(body)
        shuffled += head + body
    a = compile_text(text)
    b = compile_text("\n".join(shuffled) + "\n")
    assert sorted(d.code for d in a.diagnostics if d.severity == "error") == sorted(d.code for d in b.diagnostics if d.severity == "error")
    if a.policies is not None:
        assert stream(a.policies) == stream(b.policies)
