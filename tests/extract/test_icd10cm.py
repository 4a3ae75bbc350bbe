"""The shipped ICD-10-CM table answers as `simple_icd_10_cm` does, code for code."""

from __future__ import annotations

import pytest
import simple_icd_10_cm as library

from pipeline.extract import icd10cm


def test_icd10cm_table_matches_installed_library() -> None:
    built = icd10cm.build_table()
    shipped = icd10cm.load_table()
    assert shipped.source == built.source, "run `python -m pipeline.extract.icd10cm`"
    assert shipped.codes == built.codes, "run `python -m pipeline.extract.icd10cm`"


@pytest.mark.parametrize(
    "code",
    [
        "J18.9",
        "J189",
        "E11.9",
        "E119",
        "S52.501A",
        "S52501A",
        "I10",
        "A00",
        "A00-A09",
        "1",
        "C7A",
        "C7A.0",
        "Z00.00",
        "J18",
        "J18.",
        "J1",
        "",
        "XYZ",
        "J18.99",
        "j18.9",
        "A00.-A09",
    ],
)
def test_icd10cm_lookups_answer_as_library(code: str) -> None:
    assert icd10cm.is_valid_item(code) == library.is_valid_item(code)
    if library.is_valid_item(code):
        assert icd10cm.get_description(code) == library.get_description(code)
        assert icd10cm.is_leaf(code) == library.is_leaf(code)
    else:
        with pytest.raises(ValueError):
            icd10cm.get_description(code)
        with pytest.raises(ValueError):
            icd10cm.is_leaf(code)


def test_icd10cm_every_code_without_dot_answers_as_library() -> None:
    for code in library.get_all_codes(with_dots=False)[::50]:
        assert icd10cm.is_valid_item(code) == library.is_valid_item(code)
        assert icd10cm.get_description(code) == library.get_description(code)
        assert icd10cm.is_leaf(code) == library.is_leaf(code)
