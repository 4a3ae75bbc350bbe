"""How a predicted value is compared with its truth: lenient on form, strict on content.

Strings ignore case and whitespace, names also ignore punctuation such as periods and
the order of a name printed family name first ("HOLLOWAY, DENISE M"), money
compares within half a cent and dates compare exactly. A null on one side only is wrong.
"""

from __future__ import annotations

import math
import re

from pipeline.names import given_name_first

__all__ = ["MONEY_TOLERANCE", "values_equal", "normalise_text", "normalise_name", "code_key"]

MONEY_TOLERANCE = 0.005

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NAME_PUNCT = re.compile(r"[.,;:'\"`´’()]")
_SPACE = re.compile(r"\s+")
_NUMBER = re.compile(r"^[-+]?\d+(\.\d+)?$")

Value = str | float | int | None


def normalise_text(value: str) -> str:
    """Case-folded with every whitespace run removed: OCR spacing inside IDs is not an error."""
    return _SPACE.sub("", value).casefold()


def normalise_name(value: str) -> str:
    """Case-folded, punctuation such as `Jr.` periods dropped, whitespace runs collapsed."""
    return _SPACE.sub(" ", _NAME_PUNCT.sub(" ", value)).strip().casefold()


def code_key(value: str | None) -> str | None:
    """A code (ICD-10, CPT) as compared: upper case, no whitespace; empty counts as null."""
    if value is None:
        return None
    key = _SPACE.sub("", str(value)).upper()
    return key or None


def _as_number(value: Value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    text = value.strip().replace(",", "") if isinstance(value, str) else ""
    for symbol in ("$", "¥", "€", "£"):
        text = text.replace(symbol, "")
    return float(text) if _NUMBER.match(text) else None


def _is_null(value: Value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def values_equal(name: str, predicted: Value, truth: Value) -> bool:
    """Whether `predicted` counts as the right value for field `name` whose truth is `truth`."""
    if _is_null(truth):
        return _is_null(predicted)
    if _is_null(predicted):
        return False
    if isinstance(truth, bool) or isinstance(predicted, bool):
        return predicted == truth
    if isinstance(truth, int | float):
        number = _as_number(predicted)
        return number is not None and abs(number - float(truth)) <= MONEY_TOLERANCE + 1e-9
    truth_text = str(truth).strip()
    predicted_text = str(predicted).strip()
    if _ISO_DATE.match(truth_text):
        return predicted_text == truth_text
    if "name" in name:
        # "HOLLOWAY, DENISE M" as a form prints it is the same name as "DENISE M HOLLOWAY"
        said = {normalise_name(given_name_first(predicted_text)), normalise_name(predicted_text)}
        return bool(
            said & {normalise_name(given_name_first(truth_text)), normalise_name(truth_text)}
        )
    return normalise_text(predicted_text) == normalise_text(truth_text)
