"""Deny wins over every allow: the compiled manifests mean what docs/semantics.md ("Deny") says.

Random programs mixing allows, `deny-all` forms and denies, random clusters:
evaluator 1 on the program (with its denies) and evaluator 2 on the YAML that
`segc build` writes agree on every probe, optimized and not; a refusal is
always an SEG08x (or SEG06x) diagnostic, never a crash.
"""

from __future__ import annotations

from hypothesis import event, given, note
from hypothesis import strategies as st

from segc.output import stream

from strategies import cluster, program_with_denies
from test_properties import assert_equivalent, compile_text

DENY_REFUSALS = {"SEG080", "SEG081", "SEG082", "SEG083", "SEG084", "SEG085"}


def _refused(text: str) -> set[str]:
    result = compile_text(text)
    return {d.code for d in result.diagnostics if d.severity == "error"}


@given(program_with_denies(), cluster())
def test_denies_compile_exactly(text, c):
    note(text)
    codes = _refused(text)
    event("refused " + ",".join(sorted(codes)) if codes else "compiled")
    assert codes <= DENY_REFUSALS | {"SEG060", "SEG061"}, codes
    assert_equivalent(text, c, refusals=DENY_REFUSALS | {"SEG060", "SEG061"})


@given(program_with_denies(), cluster())
def test_unoptimized_denies_compile_exactly(text, c):
    note(text)
    assert_equivalent(text, c, optimize=False, refusals=DENY_REFUSALS | {"SEG060", "SEG061"})


@given(program_with_denies(), st.randoms(use_true_random=False))
def test_deny_output_is_independent_of_statement_order(text, rnd):
    """Shuffling the statements after the first namespace line (none of which
    is a `namespace` line in this generator's head) changes no byte."""
    lines = text.splitlines()
    head, body = lines[:3], lines[3:]
    if any(line.startswith("namespace ") for line in body):
        return  # a namespace line in the body changes what the lines after it mean
    rnd.shuffle(body)
    a = compile_text(text)
    b = compile_text("\n".join(head + body) + "\n")
    assert sorted(d.code for d in a.diagnostics if d.severity == "error") == sorted(d.code for d in b.diagnostics if d.severity == "error")
    if a.policies is not None:
        assert stream(a.policies) == stream(b.policies)
