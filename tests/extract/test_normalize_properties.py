"""Property tests of the normalisers: formats round-trip, checks fail on any corruption."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import simple_icd_10_cm as icd
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.extract.normalize import (
    clean_id,
    find_dates,
    normalize_icd10,
    normalize_name,
    npi_is_valid,
    parse_compact_date,
    parse_date,
    parse_money,
)
from pipeline.extract.vocab import MoneyRules

dates = st.dates(min_value=date(1931, 1, 1), max_value=date(2030, 12, 31))
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
LONG = ["January", "February", "March", "April", "May", "June", "July", "August",
        "September", "October", "November", "December"]  # fmt: skip

FORMATS = [
    lambda d: d.strftime("%m/%d/%Y"),
    lambda d: f"{d.month}/{d.day}/{d.year % 100:02d}",
    lambda d: d.isoformat(),
    lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
    lambda d: f"{d.day:02d}-{MONTHS[d.month - 1]}-{d.year}",
    lambda d: f"{LONG[d.month - 1]} {d.day}, {d.year}",
    lambda d: f"{d.month:02d}-{d.day:02d}-{d.year}",
]


@given(dates, st.integers(min_value=0, max_value=len(FORMATS) - 1))
def test_normalize_parse_date_round_trips_every_format(d: date, fmt: int) -> None:
    assert parse_date(FORMATS[fmt](d)) == d


@given(dates)
def test_normalize_parse_date_dmy_order(d: date) -> None:
    assert parse_date(f"{d.day:02d}.{d.month:02d}.{d.year}", order="DMY") == d


def test_normalize_parse_date_rejects_impossible_dates() -> None:
    assert parse_date("02/30/2026") is None
    assert parse_date("13/01/2026") is None
    assert parse_date("2026-02-29") is None
    assert parse_date("not a date") is None
    assert parse_date("2024-02-29") == date(2024, 2, 29)


@given(st.decimals(min_value=0, max_value=Decimal("9999999.99"), places=2))
def test_normalize_parse_money_round_trips(value: Decimal) -> None:
    assert parse_money(f"${value:,.2f}") == value
    assert parse_money(f"{value:.2f}") == value
    assert parse_money(f"USD {value:,.2f}") == value
    if value:
        assert parse_money(f"({value:,.2f})") == -value


@given(
    st.decimals(min_value=0, max_value=Decimal("9999999.99"), places=2),
    st.sampled_from(["|", "]", "}", "[", "{"]),
)
def test_normalize_parse_money_box_edge_glued_to_the_amount(value: Decimal, edge: str) -> None:
    # a table rule read as a character at the amount's end ("267.37|", "USD 239.14]")
    assert parse_money(f"{value:,.2f}{edge}") == value
    assert parse_money(f"${value:,.2f}{edge}") == value
    if edge != "|":  # a bar before digits stays a misread 1 ("|23.00" is 123.00)
        assert parse_money(f"{edge}{value:.2f}") == value


@given(st.decimals(min_value=0, max_value=Decimal("9999999.99"), places=2), st.sampled_from(".,"))
def test_normalize_parse_money_stop_after_the_cents(value: Decimal, stop: str) -> None:
    # "Total 429.00." ends a sentence; the stop is no part of the amount
    assert parse_money(f"{value:,.2f}{stop}") == value
    assert parse_money(f"${value:.2f}{stop}") == value


def test_normalize_parse_money_stop_needs_whole_cents() -> None:
    assert parse_money("429.0.") is None
    assert parse_money("1,5.") is None


def test_normalize_parse_money_bar_for_a_last_digit_is_still_a_digit() -> None:
    assert parse_money("267.3|") == Decimal("267.31")  # the repair, not the trim
    assert parse_money("|") is None
    assert parse_money("[]") is None


@given(st.decimals(min_value=0, max_value=Decimal("9999999.99"), places=2))
def test_normalize_parse_money_comma_decimal_locale(value: Decimal) -> None:
    rules = MoneyRules(decimal=",", thousands=[".", " "], symbols=["EUR", "€"])
    printed = f"{value:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    assert parse_money(printed, rules=rules) == value


def _with_check_digit(body: str) -> str:
    for d in "0123456789":
        if npi_is_valid(body + d):
            return body + d
    raise AssertionError("no check digit found")


@given(st.text(alphabet="0123456789", min_size=9, max_size=9), st.data())
def test_normalize_npi_single_digit_change_fails(body: str, data: st.DataObject) -> None:
    npi = _with_check_digit(body)
    assert npi_is_valid(npi)
    pos = data.draw(st.integers(min_value=0, max_value=9))
    new = data.draw(st.sampled_from([c for c in "0123456789" if c != npi[pos]]))
    assert not npi_is_valid(npi[:pos] + new + npi[pos + 1 :])


def test_normalize_npi_known_example() -> None:
    assert npi_is_valid("1234567893")
    assert not npi_is_valid("123456789")
    assert not npi_is_valid("12345678a3")


_CODES = [c for c in icd.get_all_codes(with_dots=True) if icd.is_leaf(c)][::97]


@settings(max_examples=200)
@given(st.sampled_from(_CODES))
def test_normalize_icd10_idempotent_on_valid_codes(code: str) -> None:
    once = normalize_icd10(code)
    assert once == code
    assert normalize_icd10(code.replace(".", "")) == code
    assert normalize_icd10(once) == once


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.lOoI", min_size=1, max_size=9))
def test_normalize_icd10_only_outputs_valid_codes(text: str) -> None:
    out = normalize_icd10(text)
    if out is not None:
        assert icd.is_valid_item(out)
        assert normalize_icd10(out) == out
        assert out == out.upper() and (len(out) == 3 or out[3] == ".")


def test_normalize_icd10_repairs_ocr_confusions() -> None:
    assert normalize_icd10("J189") == "J18.9"
    assert normalize_icd10("JI8.9") == "J18.9"
    assert normalize_icd10("R5O.9") == "R50.9"
    assert normalize_icd10("552.501A") == "S52.501A"
    assert normalize_icd10("552.501A", repair_first=False) is None
    assert normalize_icd10("345.909") == "J45.909"
    assert normalize_icd10("737.0") == "Z37.0"  # single live birth, its Z read as 7
    assert normalize_icd10("737.0", repair_first=False) is None
    assert normalize_icd10("99213") is None


def test_normalize_clean_id_removes_spaces_and_edges() -> None:
    assert clean_id(" xyz 123 456: ") == "XYZ123456"
    assert clean_id("#A-77") == "A-77"


@given(dates)
def test_normalize_parse_date_chinese_markers(d: date) -> None:
    assert parse_date(f"{d.year}年{d.month}月{d.day}日", language="zh", order=None) == d
    assert parse_date(d.isoformat(), language="zh", order=None) == d


def test_normalize_parse_money_chinese_symbols() -> None:
    assert parse_money("¥1,234.50", "zh") == Decimal("1234.50")
    assert parse_money("人民币 88.00", "zh") == Decimal("88.00")


def test_normalize_find_dates_with_ocr_spacing_and_specks() -> None:
    # a space OCR set after a separator, a speck after the month's name read as an apostrophe
    assert [d.value for d in find_dates("Policy Effective Date: 2021- 10- 05")] == [
        date(2021, 10, 5)
    ]
    assert [d.value for d in find_dates("Effective Date Feb'15, 2023 -")] == [date(2023, 2, 15)]
    assert parse_date("03/ 04/2026") == date(2026, 3, 4)
    # a range keeps its two dates; numbers with spaced dashes are no date
    assert [d.value for d in find_dates("2025-06-09 - 2025-06-12")] == [
        date(2025, 6, 9),
        date(2025, 6, 12),
    ]
    assert find_dates("Qty 1 - 2 2025") == []
    # with points: a count and a price ("1. 2.00", "1.2.00") are no date; dotted dates are
    assert find_dates("Vitamin B-12 1. 2.00 32.00") == []
    assert find_dates("1.2.00") == []
    assert [d.value for d in find_dates("01.02.2000 and 1.2.2000 and 01.02.25")] == [
        date(2000, 1, 2),
        date(2000, 1, 2),
        date(2025, 1, 2),
    ]


def test_normalize_name_drops_rule_marks_read_as_words() -> None:
    assert normalize_name("_ Bakerhaven Regional Health") == "Bakerhaven Regional Health"
    assert (
        normalize_name("Lake Maryshire | internal Medicine Associates")
        == "Lake Maryshire internal Medicine Associates"
    )
    assert normalize_name("O'Brien-Smith, Jr.") == "O'Brien-Smith, Jr."
    assert normalize_name("| _ ~") is None


def test_normalize_dates_in_form_boxes() -> None:
    """Form date boxes print two-digit parts apart ("MM | DD | YY"); only two-digit parts
    count, so a row's counts and prices are not dates."""
    assert parse_date("07 | 22 | 1968") == date(1968, 7, 22)
    assert parse_date("03 04 26") == date(2026, 3, 4)
    found = find_dates("03 04 26  03 06 26   11   99214   165.00")
    assert [d.value for d in found] == [date(2026, 3, 4), date(2026, 3, 6)]
    assert find_dates("Qty 1 12 50 amount 3 450 00") == []
    assert find_dates("room 13 45 2026") == []


def test_normalize_compact_dates_in_the_language_order() -> None:
    assert parse_compact_date("07221968") == date(1968, 7, 22)
    assert parse_compact_date("030526") == date(2026, 3, 5)
    assert parse_compact_date("22071968", order="DMY") == date(1968, 7, 22)
    assert parse_compact_date("19680722", order="YMD") == date(1968, 7, 22)
    assert parse_compact_date("13452026") is None
    assert parse_compact_date("0722196") is None
    assert parse_compact_date("07-22-68") is None
