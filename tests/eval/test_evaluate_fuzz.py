"""evaluate() never raises, whatever is deleted from or scrambled in a claim file."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.eval import claim_from_truth, evaluate
from tests.eval.builders import build_truth, write_run

TRUTH = build_truth()
PERFECT = json.loads(claim_from_truth(TRUTH).model_dump_json())


def _paths(node: object, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


PATHS = _paths(PERFECT)
JUNK = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=5),
    st.just([]),
    st.just({}),
)


def _mutate(claim: dict, path: tuple, junk: object, delete: bool) -> None:
    node = claim
    for key in path[:-1]:
        node = node[key]
    if delete and isinstance(node, dict):
        del node[path[-1]]
    else:
        node[path[-1]] = junk


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), JUNK, st.booleans()), min_size=1, max_size=3))
def test_evaluate_fuzz_never_raises(mutations):
    claim = json.loads(json.dumps(PERFECT))
    for path, junk, delete in mutations:
        try:
            _mutate(claim, path, junk, delete)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced this path
    with tempfile.TemporaryDirectory() as tmp:
        out, truth_dir = write_run(Path(tmp), [TRUTH], [json.dumps(claim, allow_nan=True)])
        report = evaluate(out, truth_dir)
    assert report.claims_scored + report.claim_errors == 1
    assert report.claims_scored + report.missing == 1
