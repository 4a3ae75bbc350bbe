"""Pure normalisers for printed values: dates, money, NPI, ICD-10 codes, identifiers.

They take one printed string (possibly OCR-noisy) and return a canonical value or None;
they never guess. Locale rules (month names, money punctuation) come from the language's
vocabulary file, so the same code reads "March 2, 2026" and "2026年3月2日".
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from pipeline.errors import ConfigError
from pipeline.extract import icd10cm as icd
from pipeline.extract.vocab import MoneyRules, load_vocab

__all__ = [
    "BOX_EDGES",
    "DateMatch",
    "parse_date",
    "parse_compact_date",
    "find_dates",
    "parse_money",
    "find_money",
    "npi_is_valid",
    "normalize_icd10",
    "icd10_is_billable",
    "clean_id",
    "normalize_name",
    "OCR_DIGIT_REPAIRS",
]

DATE_ORDERS = ("MDY", "DMY", "YMD")
# Letters Tesseract prints where a digit was meant, and the digit meant.
OCR_DIGIT_REPAIRS: dict[str, str] = {
    "O": "0", "o": "0", "D": "0", "Q": "0",
    "l": "1", "I": "1", "|": "1", "i": "1",
    "S": "5", "s": "5", "B": "8", "Z": "2", "z": "2",
}  # fmt: skip
_LETTER_FOR_DIGIT = {"0": "O", "1": "I", "5": "S", "8": "B", "2": "Z"}
_DIGIT_FOR_LETTER = {"O": "0", "I": "1", "L": "1", "S": "5", "B": "8", "Z": "2", "D": "0"}
# A code's first character is a letter; OCR also prints a J as 3 ("345.909" for J45.909)
# and a Z as 7 ("737.0" for Z37.0, on a noisy scan).
_FIRST_LETTER_FOR_DIGIT = {**_LETTER_FOR_DIGIT, "3": "J", "7": "Z"}
_PIVOT_TWO_DIGIT_YEAR = 30  # 00-30 -> 20xx, 31-99 -> 19xx: claim dates are recent, DOBs older


@dataclass(frozen=True)
class DateMatch:
    value: date
    start: int
    end: int


def _year(text: str) -> int:
    y = int(text)
    if len(text) == 2:
        return 2000 + y if y <= _PIVOT_TWO_DIGIT_YEAR else 1900 + y
    return y


def _make_date(y: int, m: int, d: int) -> date | None:
    if not 1800 <= y <= 2200:
        return None
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _month_alternation(months: dict[str, int]) -> str:
    names = sorted(months, key=len, reverse=True)
    return "|".join(re.escape(n) for n in names) if names else r"(?!x)x"


def _date_patterns(language: str) -> list[tuple[re.Pattern[str], str]]:
    rules = load_vocab(language).date
    mon = _month_alternation(rules.months)
    sep = r"[/\-.]"
    # OCR may set a space after a separator ("2021- 10- 05") or read a speck after the
    # month's name as an apostrophe ("Feb'15, 2023")
    pats: list[tuple[str, str]] = [
        (rf"(?P<y>\d{{4}})(?P<s>{sep}) ?(?P<m>\d{{1,2}})(?P=s) ?(?P<d>\d{{1,2}})", "ymd"),
        (r"(?P<a>\d{1,2})(?P<s>[/\-]) ?(?P<b>\d{1,2})(?P=s) ?(?P<c>\d{4}|\d{2})", "abc"),
        # with points, a short date has two digits a part ("01.02.25"): "1. 2.00" is a
        # count and a price, "12.5.25" no printed date
        (r"(?P<a>\d{1,2})(?P<s>\.)(?P<b>\d{1,2})\.(?P<c>\d{4})", "abc"),
        (r"(?P<a>\d{2})(?P<s>\.)(?P<b>\d{2})\.(?P<c>\d{2})", "abc"),
        # a form's date boxes, "MM | DD | YY" filled in as "07 | 22 | 1968" or "03 04 26":
        # two-digit parts only, so counts and prices in a row are not read as dates
        (r"(?P<a>\d{2})(?P<s> ?\| ?| )(?P<b>\d{2})(?P=s)(?P<c>\d{4}|\d{2})", "abc"),
        (rf"(?P<mon>{mon})[.'’]?\s*(?P<d>\d{{1,2}})(?:st|nd|rd|th)?[,.]{{0,2}}\s*(?P<y>\d{{4}})", "mon_d_y"),
        (rf"(?P<d>\d{{1,2}})(?:st|nd|rd|th)?[\s\-/.]*(?P<mon>{mon})\.?[\s\-/.,]*(?P<y>\d{{4}}|\d{{2}})", "d_mon_y"),
        (r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})", "compact"),
    ]  # fmt: skip
    if rules.markers is not None:
        mk = rules.markers
        pats.insert(
            0,
            (
                rf"(?P<y>\d{{4}})\s*{re.escape(mk.year)}\s*(?P<m>\d{{1,2}})\s*"
                rf"{re.escape(mk.month)}\s*(?P<d>\d{{1,2}})\s*{re.escape(mk.day)}?",
                "ymd",
            ),
        )
    flags = re.IGNORECASE
    return [(re.compile(rf"(?<![\w]){p}(?![\w])", flags), kind) for p, kind in pats]


_PATTERN_CACHE: dict[str, list[tuple[re.Pattern[str], str]]] = {}


def _patterns(language: str) -> list[tuple[re.Pattern[str], str]]:
    if language not in _PATTERN_CACHE:
        _PATTERN_CACHE[language] = _date_patterns(language)
    return _PATTERN_CACHE[language]


def _resolve(m: re.Match[str], kind: str, order: str, months: dict[str, int]) -> date | None:
    g = m.groupdict()
    if kind in ("ymd", "compact"):
        return _make_date(int(g["y"]), int(g["m"]), int(g["d"]))
    if kind in ("mon_d_y", "d_mon_y"):
        month = months.get(g["mon"].lower())
        return None if month is None else _make_date(_year(g["y"]), month, int(g["d"]))
    a, b, c = int(g["a"]), int(g["b"]), g["c"]
    if order == "DMY":
        return _make_date(_year(c), b, a)
    if order == "YMD":  # a YMD locale never prints day/month/year with a 2-digit first part
        return None
    return _make_date(_year(c), a, b)


def _check_order(order: str) -> None:
    if order not in DATE_ORDERS:
        raise ConfigError(f"date order must be one of {DATE_ORDERS}, got {order!r}")


def find_dates(text: str, language: str = "en", order: str | None = None) -> list[DateMatch]:
    """Every real calendar date printed in `text`, left to right, without overlaps."""
    order = order or load_vocab(language).date.order
    _check_order(order)
    months = load_vocab(language).date.months
    found: list[DateMatch] = []
    taken: list[tuple[int, int]] = []
    # the clean text first, then OCR look-alikes repaired (same length, so spans still fit)
    for variant in dict.fromkeys((text, _repair_digits(text))):
        for pattern, kind in _patterns(language):
            if kind == "compact":
                continue  # 20260302 is too easy to confuse with ids inside free text
            for m in pattern.finditer(variant):
                if any(m.start() < e and s < m.end() for s, e in taken):
                    continue
                value = _resolve(m, kind, order, months)
                if value is not None:
                    found.append(DateMatch(value, m.start(), m.end()))
                    taken.append((m.start(), m.end()))
    return sorted(found, key=lambda d: d.start)


def parse_compact_date(text: str, language: str = "en", order: str | None = None) -> date | None:
    """A date printed without separators in the language's order, as forms fill date boxes:
    MDY "07221968" or "030526", DMY "22071968", YMD "19680722". Only for a value a date
    label announces: in free text six or eight digits are as often an id."""
    order = order or load_vocab(language).date.order
    _check_order(order)
    digits = text.strip().strip(":;,()[]").strip()
    if not digits.isdigit() or len(digits) not in (6, 8):
        return None
    year_digits = len(digits) - 4
    if order == "YMD":
        y, m, d = digits[:year_digits], digits[year_digits:-2], digits[-2:]
    elif order == "DMY":
        d, m, y = digits[:2], digits[2:4], digits[4:]
    else:
        m, d, y = digits[:2], digits[2:4], digits[4:]
    return _make_date(_year(y), int(m), int(d))


def _repair_digits(text: str) -> str:
    """Swap letters OCR confuses with digits, but only where they touch a digit."""
    chars = list(text)
    for i, ch in enumerate(chars):
        if ch in OCR_DIGIT_REPAIRS:
            near = chars[max(0, i - 1) : i] + chars[i + 1 : i + 2]
            if any(c.isdigit() for c in near):
                chars[i] = OCR_DIGIT_REPAIRS[ch]
    return "".join(chars)


def parse_date(text: str, language: str = "en", order: str | None = "MDY") -> date | None:
    """The date `text` prints as a whole (surrounding punctuation allowed), or None.

    `order` decides 03/02/2026 (MDY: March 2; DMY: 3 February); None takes the
    language's own order. Impossible dates (02/30/2026) are None, not a neighbour.
    """
    order = order or load_vocab(language).date.order
    _check_order(order)
    months = load_vocab(language).date.months
    stripped = text.strip().strip(":;,()[]").strip()
    for candidate in dict.fromkeys((stripped, _repair_digits(stripped))):
        for pattern, kind in _patterns(language):
            m = pattern.fullmatch(candidate)
            if m is not None:
                value = _resolve(m, kind, order, months)
                if value is not None:
                    return value
    return None


def _money_regex(rules: MoneyRules) -> re.Pattern[str]:
    dec = re.escape(rules.decimal)
    thou = "".join(re.escape(t) for t in rules.thousands if t != rules.decimal)
    grouped = rf"\d{{1,3}}(?:[{thou}]\d{{3}})+" if thou else r"(?!x)x"
    return re.compile(rf"(?:{grouped}|\d+)(?:{dec}\d{{1,2}})?|{dec}\d{{1,2}}")


BOX_EDGES = "|[]{}"
"""A table rule or box edge OCR glues to a word ("267.37|", "USD 239.14]", "2}"): never part
of the value."""


def parse_money(text: str, language: str = "en", rules: MoneyRules | None = None) -> Decimal | None:
    """The amount `text` prints, to the cent, or None; "(12.00)" and "12.00-" are negative.

    A box edge read at either end is dropped only when the amount does not read with it:
    "267.3|" is 267.31 (a 1 read as a bar), "267.37|" is 267.37.
    """
    rules = rules or load_vocab(language).money
    value = _parse_money(text, rules)
    if value is None:
        trimmed = text.strip().strip(BOX_EDGES)
        if trimmed and trimmed != text.strip():
            value = _parse_money(trimmed, rules)
        if value is None and trimmed[-1:] in (".", ",") and _CENTS_AT_END.search(trimmed[:-1]):
            # a sentence's full stop or a comma after whole cents ("Total 429.00.")
            value = _parse_money(trimmed[:-1], rules)
    return value


_CENTS_AT_END = re.compile(r"\d[.,]\d\d$")


def _parse_money(text: str, rules: MoneyRules) -> Decimal | None:
    s = text.strip().strip(":;")
    negative = False
    if s.startswith("(") and s.endswith(")"):
        negative, s = True, s[1:-1].strip()
    for suffix in rules.negative_suffixes:
        if s.upper().endswith(suffix.upper()) and len(s) > len(suffix):
            negative, s = True, s[: -len(suffix)].strip()
            break
    if s.startswith("-"):
        negative, s = True, s[1:].strip()
    for symbol in sorted(rules.symbols, key=len, reverse=True):
        if s.upper().startswith(symbol.upper()):
            s = s[len(symbol) :].strip()
            break
        if s.upper().endswith(symbol.upper()):
            s = s[: -len(symbol)].strip()
            break
    if s.startswith("-"):
        negative, s = True, s[1:].strip()
    pattern = _money_regex(rules)
    for candidate in dict.fromkeys((s, _repair_digits(s))):
        if not pattern.fullmatch(candidate):
            continue
        digits = candidate
        for t in rules.thousands:
            if t != rules.decimal:
                digits = digits.replace(t, "")
        digits = digits.replace(rules.decimal, ".")
        try:
            value = Decimal(digits).quantize(Decimal("0.01"))
        except InvalidOperation:
            continue
        return -value if negative else value
    return None


def find_money(text: str, language: str = "en") -> list[Decimal]:
    """Amounts printed in `text` as separate tokens, left to right (for totals on a line)."""
    values: list[Decimal] = []
    for token in text.split():
        value = parse_money(token, language)
        if value is not None:
            values.append(value)
    return values


def npi_is_valid(npi: str) -> bool:
    """True for a 10-digit NPI whose check digit is right (Luhn over 80840 + first 9 digits)."""
    if len(npi) != 10 or not npi.isdigit():
        return False
    digits = [int(c) for c in "80840" + npi[:9]]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10 == int(npi[9])


_ICD_SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?$")
_ICD_OUT = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")


def _icd_valid(code: str) -> bool:
    return bool(_ICD_OUT.match(code)) and icd.is_valid_item(code)


def _dotted(compact: str) -> str:
    return compact if len(compact) <= 3 else f"{compact[:3]}.{compact[3:]}"


def normalize_icd10(text: str, *, repair_first: bool = True) -> str | None:
    """The ICD-10-CM code `text` prints, upper case with the dot, or None.

    OCR repairs (O/0, I/l/1, S/5, B/8, Z/2) are tried only where the printed character
    cannot be right, and a repaired code is kept only if ICD-10-CM knows it. With
    `repair_first=False` a leading digit is not turned into a letter (free text, where
    "52501" is more likely a zip code than S25.01).
    """
    s = text.strip().upper().strip(".,;:()[]")
    s = s.replace(" ", "")
    has_dot = "." in s
    if has_dot and s.count(".") != 1:
        return None
    if has_dot and s.index(".") != 3:
        return None
    compact = s.replace(".", "")
    if not 3 <= len(compact) <= 7 or not compact.isalnum():
        return None
    options: list[list[str]] = []
    for i, ch in enumerate(compact):
        if i == 0:
            alt = _FIRST_LETTER_FOR_DIGIT.get(ch) if repair_first else None
            options.append([ch] if ch.isalpha() else ([alt] if alt else []))
        elif i == 1:
            options.append(
                [ch]
                if ch.isdigit()
                else ([_DIGIT_FOR_LETTER[ch]] if ch in _DIGIT_FOR_LETTER else [])
            )
        else:
            alts = [ch]
            if ch in _DIGIT_FOR_LETTER:
                alts.append(_DIGIT_FOR_LETTER[ch])
            elif ch in _LETTER_FOR_DIGIT and i == 6:
                alts.append(_LETTER_FOR_DIGIT[ch])  # 7th character extensions are letters
            options.append(alts)
    if any(not o for o in options):
        return None
    best: tuple[int, str] | None = None
    for combo in itertools.islice(itertools.product(*options), 256):
        code = _dotted("".join(combo))
        if not _ICD_SHAPE.match(code) or not _icd_valid(code):
            continue
        repairs = sum(a != b for a, b in zip(combo, compact, strict=True))
        if best is None or repairs < best[0]:
            best = (repairs, code)
    return None if best is None else best[1]


def icd10_is_billable(code: str) -> bool:
    """A valid code with no children: the only kind a claim can be paid on."""
    return _icd_valid(code) and icd.is_leaf(code)


def clean_id(text: str) -> str | None:
    """Member ids, policy and invoice numbers: upper case, no spaces, no edge punctuation."""
    s = re.sub(r"\s+", "", text).upper().strip(".,;:#()[]*")
    s = re.sub(r"^(?:NO[.:#]|#)+", "", s)  # "ID No.M7705" read as one word
    return s or None


_RULE_MARKS = frozenset("|_~")
"""What OCR makes of a form's rules and box edges: a word of these alone is no part of a name."""


def normalize_name(text: str) -> str | None:
    """A name as printed, with whitespace collapsed and edge punctuation removed, and a
    number sign joined to its number.

    Words that are only rule marks go ("_ Bakerhaven Regional Health", "Lake Maryshire |
    Internal Medicine Associates": a box edge or underline read as a word).
    """
    words = [w for w in text.split() if not set(w) <= _RULE_MARKS]
    s = " ".join(words).strip(" :;,*#|_~")
    # a store's number OCR set apart from its sign: "BLUEBONNET PHARMACY # 22" is "#22"
    s = re.sub(r"(?<=\s)#\s+(?=\d)", "#", s)
    return s or None
