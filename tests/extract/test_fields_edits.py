"""The label matcher's edit distance against the textbook dynamic-programming table."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.extract.fields import _within_edits

# Few letters, so random strings share characters and distances stay small.
words = st.text(alphabet="abmnorl1#", max_size=16)


def _table_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        prev = cur
    return prev[-1]


@settings(max_examples=3000, deadline=None)
@given(words, words, st.integers(min_value=1, max_value=6))
def test_fields_within_edits_is_levenshtein_up_to_k(a: str, b: str, k: int) -> None:
    distance = _table_distance(a, b)
    assert _within_edits(a, b, k) == (distance if distance <= k else None)


def test_fields_within_edits_on_misread_labels() -> None:
    assert _within_edits("polcynumber", "policynumber", 2) == 1
    assert _within_edits("patlentnarne", "patientname", 3) == 3  # l for i, rn for m
    assert _within_edits("statementof", "statementno", 1) is None
    assert _within_edits("", "id", 2) == 2
