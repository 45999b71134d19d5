"""The fast YAML emitter writes exactly what PyYAML writes, or declines.

``to_yaml`` uses ``fast_yaml`` and falls back to PyYAML (``pyyaml_dump``)
when the fast emitter is unsure. These properties compare the two on random
documents shaped like NetworkPolicies and on random strings, including the
tricky ones (number-like, YAML 1.1 booleans and nulls, indicators, unicode,
empty), and check that YAML readers get the same objects back.
"""

from __future__ import annotations

import yaml
from hypothesis import given, note
from hypothesis import strategies as st

from segc.compile import compile_paths
from segc.output import _Unsure, fast_yaml, pyyaml_dump, stream, to_yaml
from strategies import program

TRICKY = [
    "", "~", "null", "Null", "NULL", "yes", "No", "ON", "off", "y", "n", "true", "False", "=", "<<",
    "0", "1", "-1", "+1", "0x1f", "0o17", "017", "1e3", "1_000", "1.5", ".5", "-.5", ".inf", "-.Inf", ".nan", "NaN",
    "2001-12-14", "2001-12-14t21:59:43.10-05:00", "12:30:45", "1:20", "190:20:30",
    "-", "--", "---", "---x", "...", "-x", ".x", "/x", "_x", "x-", "x.", "a:b", "a: b", ":a", "a:", "?a", "? a",
    "#a", "a#b", "a #b", "a,b", "[a]", "{a}", "&a", "*a", "!a", "|a", ">a", "'a'", '"a"', "%a", "@a", "`a`",
    " a", "a ", "a  b", "a\tb", "\t", "é", "日本", "😀", "\u0085", "\u00a0", "\u2028", "\ufeff", "a\\b",
    "a\nb", "a\nb\n", "a\n\nb\n", "\n", "a\n ", " a\nb\n", "a \nb\n", "x" * 130, "k" * 128, "k" * 127,
]
ALPHABET = st.sampled_from(list("abAB09-_./: #'\"\\{}[],&*!|>%@`?=~+\t\n é😀\u0085"))
strings = st.one_of(st.sampled_from(TRICKY), st.text(ALPHABET, max_size=12), st.text(max_size=8), st.from_regex(r"[a-z0-9][-a-z0-9_.]{0,20}", fullmatch=True))
scalars = st.one_of(strings, st.integers(-5, 70000))
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(strings, inner, max_size=4)),
    max_leaves=20,
)


def _fast_or_none(doc):
    try:
        return fast_yaml(doc)
    except _Unsure:
        return None


@given(doc=st.dictionaries(strings, documents, min_size=1, max_size=5))
def test_fast_emitter_writes_what_pyyaml_writes(doc):
    fast = _fast_or_none(doc)
    if fast is not None:
        note(fast)
        assert fast == pyyaml_dump(doc)
    assert yaml.safe_load(to_yaml(doc)) == doc


@given(key=strings, value=strings)
def test_every_string_as_key_and_value(key, value):
    for doc in ({key: value}, {"k": [value, {key: value}]}, {"a": {"b": [{"c": value}]}}):
        fast = _fast_or_none(doc)
        if fast is not None:
            assert fast == pyyaml_dump(doc), doc
        assert yaml.safe_load(to_yaml(doc)) == doc


def test_tricky_strings_that_stay_on_the_fast_path_are_quoted_as_pyyaml_quotes_them():
    on_fast_path = 0
    for s in TRICKY:
        doc = {"metadata": {"labels": {"k": s}}, "spec": [{"port": s}]}
        fast = _fast_or_none(doc)
        if fast is not None:
            on_fast_path += 1
            assert fast == pyyaml_dump(doc), s
    assert on_fast_path >= 30  # the common quoting cases are handled, not all declined


@given(text=program())
def test_compiled_policies_take_the_fast_path(text):
    result = compile_paths(["p.seg"], {"p.seg": text})
    if not result.ok:
        return
    for obj in result.policies:
        assert fast_yaml(obj) == pyyaml_dump(obj)
    assert stream(result.policies) == "".join("---\n" + pyyaml_dump(p) for p in result.policies)


def _policies(text: str) -> list[dict]:
    result = compile_paths(["p.seg"], {"p.seg": text})
    assert result.ok, result.diagnostics
    return result.policies


def test_written_files_get_the_usual_mode_and_keep_a_changed_one(tmp_path):
    """New manifests are created as open() creates files (0666 less the umask),
    not private; a manifest segc rewrites keeps the mode its owner gave it."""
    import os
    import stat

    from segc.output import write_dir

    out = tmp_path / "out"
    old = os.umask(0o027)
    try:
        write_dir(_policies("namespace shop\nallow web -> api:80\n"), str(out))
        assert (out / "kustomization.yaml").exists() and (out / "shop.api-ingress.yaml").exists()
        for p in out.iterdir():
            assert stat.S_IMODE(p.stat().st_mode) == 0o640, p
        target = out / "shop.api-ingress.yaml"
        os.chmod(target, 0o604)
        write_dir(_policies("namespace shop\nallow web -> api:81\n"), str(out))
        assert "81" in target.read_text()
        assert stat.S_IMODE(target.stat().st_mode) == 0o604
        assert not [p for p in out.iterdir() if p.name.startswith(".segc-")]
    finally:
        os.umask(old)


def test_a_file_that_appears_between_the_check_and_the_write_is_left_alone(tmp_path, monkeypatch):
    """The folder is checked, then written: a user file created in between is
    refused, not overwritten."""
    import os

    import pytest

    import segc.output
    from segc.output import OutputError, write_dir

    out = tmp_path / "out"
    mine = out / "shop.api-ingress.yaml"
    listdir = os.listdir

    def listing_then_the_user_writes(path):
        names = listdir(path)
        if path == str(out) and not mine.exists():
            mine.write_text("# my own file\n")
        return names

    policies = _policies("namespace shop\nallow web -> api:80\n")
    monkeypatch.setattr(segc.output.os, "listdir", listing_then_the_user_writes)
    with pytest.raises(OutputError, match="was not written by segc"):
        write_dir(policies, str(out))
    assert mine.read_text() == "# my own file\n"
