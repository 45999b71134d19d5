"""The speed-ups change nothing observable.

* ``_ToIR`` walks lark's tree itself instead of using lark's Transformer
  dispatch: the syntax IR (spans included) and the diagnostics must be those
  lark's Transformer gives.
* ``ir.hash_once`` caches a node's hash: equal nodes still hash equal, and a
  pickle does not carry a hash from another process.
"""

from __future__ import annotations

import pickle

from hypothesis import given
from lark import Transformer

from segc import ir
from segc.diagnostics import Collector
from segc.parser import _parser, _ToIR
from strategies import program


@given(text=program())
def test_tree_walk_builds_what_lark_transformer_builds(text):
    tree = _parser().parse(text)
    mine, theirs = Collector(), Collector()
    walked = _ToIR("p.seg", text, mine).transform(tree)
    reference = Transformer.transform(_ToIR("p.seg", text, theirs), tree)
    # pickle compares every field, spans too (they take no part in ==).
    assert pickle.dumps(walked) == pickle.dumps(reference)
    assert mine.items == theirs.items


def test_tree_walk_reports_token_problems_like_lark_transformer():
    # Every line parses; each has a token-level problem the transformer reports.
    text = "namespace Bad_NS\nallow a -> b:99999\nallow 10.0.0.1/8 -> d\nallow x -> y:abcdefghijklmnopq\n"
    tree = _parser().parse(text)
    mine, theirs = Collector(), Collector()
    walked = _ToIR("p.seg", text, mine).transform(tree)
    reference = Transformer.transform(_ToIR("p.seg", text, theirs), tree)
    assert pickle.dumps(walked) == pickle.dumps(reference)
    assert mine.items == theirs.items and len(mine.items) >= 3


def test_hash_once_keeps_hash_equality_and_stays_out_of_pickles():
    a = ir.PodPeer(ir.NsNamed("app"), ir.Selector.of([ir.Requirement("tier", ir.IN, ("api", "web"))]))
    b = ir.PodPeer(ir.NsNamed("app"), ir.Selector.of([ir.Requirement("tier", ir.IN, ("api", "web"))]))
    assert a is not b and a == b and hash(a) == hash(b)
    assert hash(a) == hash((a.ns, a.pods))  # the value the generated __hash__ gives
    assert "_hash" in a.__dict__
    copy = pickle.loads(pickle.dumps(a))
    assert "_hash" not in copy.__dict__ and copy == a and hash(copy) == hash(a)
    assert {a: 1}[b] == 1
