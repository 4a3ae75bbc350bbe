"""Invoice line items rebuilt from word positions.

A header row (Date, Code, Description, Units, Rate, Amount in any of the vocabulary's
wordings) fixes column x-ranges; following rows are cut into cells by those ranges and
each cell is typed (date, code, money, count). Without a header, a row that carries a
date, a procedure code and an amount is still an item. Columns carry over to later
pages whether or not the header is printed again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from rapidfuzz.distance import Hamming

from pipeline.document import Page
from pipeline.extract.confidence import Calibrator, ValueEvidence, make_evidence
from pipeline.extract.layout import (
    LayoutLine,
    Tok,
    date_in_pieces,
    joined_text,
    merge_split_amounts,
    norm,
    rows_of,
    source_of,
)
from pipeline.extract.models import LineItemDraft
from pipeline.extract.normalize import BOX_EDGES, find_dates, parse_compact_date, parse_money
from pipeline.extract.vocab import LangVocab

__all__ = ["LineItemResult", "Column", "find_header", "code_system_of", "extract_line_items"]

_COLUMN_KINDS = ("service_date", "code", "description", "quantity", "unit_price", "amount")
_CODE_DIGIT_REPAIRS = str.maketrans(
    {"O": "0", "o": "0", "l": "1", "I": "1", "S": "5", "B": "8", "Z": "2", "G": "6"}
)


@dataclass
class LineItemResult:
    items: list[LineItemDraft]
    evidence: list[ValueEvidence]
    code_tokens: set[tuple[int, int, float]]
    """(page, line, x0) of words read as procedure codes: not diagnoses."""
    table_lines: set[int]
    """Lines holding table rows: not places to look for labels."""


@dataclass(frozen=True)
class Column:
    kind: str
    x0: float
    x1: float


@dataclass
class _Item:
    tokens: list[Tok]
    service_date: str | None = None
    code: str | None = None
    code_system: str | None = None
    description: list[str] = field(default_factory=list)
    quantity: float | None = None
    unit_price: Decimal | None = None
    amount: Decimal | None = None
    code_token: Tok | None = None
    code_repaired: bool = False
    key_tokens: list[Tok] = field(default_factory=list)
    """the words that gave the date, the code and the amount: what its confidence rests on"""
    in_table: bool = False


_NDC = re.compile(r"\d{4}-\d{4}-\d{2}|\d{5}-\d{3}-\d{2}|\d{5}-\d{4}-\d{1,2}")
"""A National Drug Code as printed, labeler-product-package (4-4-2, 5-3-2, 5-4-1 or the
11-digit 5-4-2): only with its hyphens, which tell it from any other run of digits."""


def code_system_of(code: str) -> str | None:
    """CPT (99213, 0001F), HCPCS (J1100), revenue code (0450), NDC (00093-5057-98); None
    when not code-shaped."""
    if _NDC.fullmatch(code):
        return "NDC"
    if re.fullmatch(r"\d{5}|\d{4}[FTU]", code):
        return "CPT"
    if re.fullmatch(r"[A-EGHJ-MP-V]\d{4}", code):
        return "HCPCS"  # Level II sections; there is no F, I, N or O section
    if re.fullmatch(r"0\d{3}", code):
        return "REV"
    return None


_CODE_EDGES = ".,;:()[]{}*|!'\"`"  # punctuation, and table rules a reader glues to a cell


def _read_code(text: str) -> tuple[str, str] | None:
    read = _read_code_repaired(text)
    return None if read is None else (read[0], read[1])


def _read_code_repaired(text: str) -> tuple[str, str, bool] | None:
    """The code, its system, and whether OCR look-alikes had to be swapped to read it."""
    raw = text.strip(_CODE_EDGES).upper()
    if not raw:
        return None
    for candidate in (
        raw,
        raw[0] + raw[1:].translate(_CODE_DIGIT_REPAIRS),
        raw.translate(_CODE_DIGIT_REPAIRS),
    ):
        system = code_system_of(candidate)
        if system:
            return candidate, system, candidate != raw
    # CPT with a modifier, "99213-25" or "99213LT"; not seven digits (an Rx number)
    m = re.fullmatch(r"(\d{5})(?:-[A-Z0-9]{2}|[A-Z][A-Z0-9])", raw)
    if m:
        return m.group(1), "CPT", False
    return None


_FIGURE_CELLS = ("quantity", "unit_price", "amount", "other_money")
_OTHER_MONEY = "other_money"
"""Columns of paid, adjusted or owed money beside the charge; a table may have several."""
_OTHER_TEXT = "other_text"
"""Columns of no line-item field (modifier, diagnosis pointer, surgeon); several too."""
_MANY = (_OTHER_MONEY, _OTHER_TEXT)


def _header_vocab(vocab: LangVocab) -> list[tuple[str, str]]:
    pairs = [
        (norm(label), kind) for kind, labels in vocab.table.columns.items() for label in labels
    ]
    return sorted(pairs, key=lambda p: -len(p[0]))


def _misread_header(word: str, table: list[tuple[str, str]]) -> str | None:
    """The column kind of a header word OCR got one letter wrong ("Oty" for "Qty", "ltem"):
    a label of the same length, three letters or more, one letter apart, and only one kind
    that close."""
    if len(word) < 3:
        return None
    kinds = {
        kind for key, kind in table if len(key) == len(word) and Hamming.distance(key, word) == 1
    }
    return kinds.pop() if len(kinds) == 1 else None


_SECOND_CODE = "second_code"
"""A code header after the code's own ("CPT  Procedure  Units"): the service's name where
no description header follows, else nothing ("Rev  CPT/HCPCS  Description")."""
_SECOND_QUANTITY = "second_quantity"
"""A count header after the count's own ("Qty  Unit  Line total"): the unit's price where
no price header follows, else nothing ("Qty  Days  ...  Price")."""


def find_header(row: list[Tok], vocab: LangVocab) -> list[Column] | None:
    """Columns of a table header row, left to right, or None when fewer than 3 kinds match.

    A row of words only (no digits: not a row of the table) may have a header word misread
    by one letter."""
    table = _header_vocab(vocab)
    wordy = not any(ch.isdigit() for t in row for ch in t.text)
    cols: list[Column] = []
    i = 0
    while i < len(row):
        if not row[i].norm:  # a rule or a speck read as "—", ".": no column starts there
            i += 1
            continue
        matched = False
        for n in (3, 2, 1):
            if i + n > len(row):
                continue
            joined = "".join(t.norm for t in row[i : i + n])
            kind = next((k for key, k in table if key == joined), None)
            if kind is None and n == 1 and wordy:
                kind = _misread_header(joined, table)
            if kind == "code" and any(c.kind == "code" for c in cols):
                kind = _SECOND_CODE  # "CPT | Procedure": a description, unless one follows
            elif kind == "quantity" and any(c.kind == "quantity" for c in cols):
                kind = _SECOND_QUANTITY  # "Qty  Unit  Line total": the price, unless one follows
            elif (
                kind == "description"
                and any(c.kind == "code" for c in cols)
                and any(c.kind == "description" for c in cols)
            ):
                # "Item  HCPCS  Description": the first names the line (its number), the
                # one after the code the service
                cols = [
                    Column(_OTHER_TEXT, c.x0, c.x1) if c.kind == "description" else c for c in cols
                ]
            if kind and (kind in _MANY or all(c.kind != kind for c in cols)):
                last = max(j for j in range(i, i + n) if row[j].norm)
                cols.append(Column(kind, row[i].bbox[0], row[last].bbox[2]))
                i += n
                matched = True
                break
        if not matched:
            i += 1
    for provisional, kind in ((_SECOND_CODE, "description"), (_SECOND_QUANTITY, "unit_price")):
        second = next((c for c in cols if c.kind == provisional), None)
        if second is not None:
            cols.remove(second)
            if all(c.kind != kind for c in cols):
                cols.append(Column(kind, second.x0, second.x1))
    # A price column and no amount's: the price is what the line cost, before what the plan
    # and the patient paid (a receipt), or as the header's last word (a lab's one "Fee"
    # column). A header word right of it that was not read as one ("Tota!") is the
    # amount's misread: the row's last figure is then the amount, as without a header.
    price = next((c for c in cols if c.kind == "unit_price"), None)
    if (
        price
        and not any(c.kind == "amount" for c in cols)
        and (
            any(c.kind == _OTHER_MONEY and c.x0 > price.x0 for c in cols)
            or not any(t.norm and t.bbox[0] > price.x1 for t in row)
        )
    ):
        cols = [Column("amount", c.x0, c.x1) if c is price else c for c in cols]
    if len({c.kind for c in cols} - set(_MANY)) < 3 or not any(c.kind == "amount" for c in cols):
        return None
    return sorted(cols, key=lambda c: c.x0)


def _assign(row: list[Tok], cols: list[Column]) -> dict[str, list[Tok]]:
    # text columns flow right up to the next header; numbers sit under their header
    bounds = [
        b.x0 - 0.005 if a.kind == "description" else (a.x1 + b.x0) / 2
        for a, b in zip(cols, cols[1:], strict=False)
    ]
    cells: dict[str, list[Tok]] = {c.kind: [] for c in cols}
    for tok in row:
        idx = sum(tok.xc >= b for b in bounds)
        cells[cols[idx].kind].append(tok)
    return cells


def _is_stop(row: list[Tok], vocab: LangVocab) -> bool:
    keys = {norm(s) for s in vocab.table.stop_labels}
    words = [t.norm for t in row if t.norm]
    for n in (1, 2, 3):
        for i in range(0, max(1, len(words) - n + 1)):
            if "".join(words[i : i + n]) in keys and not any(
                find_dates(t.text, vocab.language) for t in row[:1]
            ):
                return True
    return False


def _money_tokens(row: list[Tok], lang: str) -> list[tuple[Tok, Decimal]]:
    out = []
    for tok in row:
        text = tok.text
        if not any(c.isdigit() for c in text):
            continue
        if not ("." in text or "," in text or "$" in text):
            continue
        if re.match(r"^\$?\(?[.,]\d", text):
            continue  # ".98": the cents of an amount whose whole part OCR lost, not 0.98
        value = parse_money(text, lang)
        if value is not None:
            out.append((tok, value))
    return out


def _quantity(text: str) -> float | None:
    t = text.strip().strip(BOX_EDGES).translate(_CODE_DIGIT_REPAIRS)
    if re.fullmatch(r"\d{1,3}(\.\d{1,2})?", t):
        return float(t)
    return None


def _parse_row(row: list[Tok], cols: list[Column] | None, vocab: LangVocab) -> _Item:
    lang = vocab.language
    item = _Item(tokens=list(row))
    used: set[int] = set()
    text, offsets = joined_text(row)
    for d in find_dates(text, lang)[:1]:
        item.service_date = d.value.isoformat()
        used |= {
            i for i, off in enumerate(offsets) if off < d.end and off + len(row[i].text) > d.start
        }
        item.key_tokens.extend(row[i] for i in sorted(used))
    if item.service_date is None:
        split = date_in_pieces(row, lang)
        if split is not None:
            item.service_date = split[1]
            used |= {row.index(t) for t in split[0]}
            item.key_tokens.extend(split[0])
    cells = _assign(row, cols) if cols else {}
    if item.service_date is None and cells.get("service_date"):
        # a date column filled in without separators, as UB-04 lines print it ("030526")
        cell = cells["service_date"][0]
        compact = parse_compact_date(cell.text, lang)
        if compact is not None:
            item.service_date = compact.isoformat()
            used.add(row.index(cell))
            item.key_tokens.append(cell)
    code_pool = cells.get("code") or row
    figures = {id(t) for kind in _FIGURE_CELLS for t in cells.get(kind, [])}
    first_money = min((t.bbox[0] for t, _ in _money_tokens(row, lang)), default=2.0)
    before_figures = [t for t in row if id(t) not in figures and t.bbox[2] <= first_money]
    for pool in (code_pool, before_figures):
        # a revenue code first, as UB-04 lines print it ("0450 EMERGENCY ROOM 99284"): the
        # procedure code beside it says more, and is no word of the description (only left
        # of the row's figures: "20298" there is an amount that lost its point)
        for tok in pool:
            i = row.index(tok)
            if i in used:
                continue
            read = _read_code_repaired(tok.text)
            if read and (item.code is None or (read[1] in ("CPT", "HCPCS") and not read[2])):
                item.code, item.code_system, item.code_repaired = read
                item.code_token = tok
                item.key_tokens.append(tok)
                used.add(i)
                break
        if item.code_system != "REV":
            break
    money = [(t, v) for t, v in _money_tokens(row, lang) if row.index(t) not in used]
    if cols:
        paid = cells.get(_OTHER_MONEY, [])
        money = [(t, v) for t, v in money if t not in paid]
        amt = [(t, v) for t, v in money if t in cells.get("amount", [])]
        price = [(t, v) for t, v in money if t in cells.get("unit_price", [])]
        if not amt and money:
            amt = money[-1:]
        if amt:
            item.amount = amt[-1][1]
            item.key_tokens.append(amt[-1][0])
            used.add(row.index(amt[-1][0]))
        if price and price[-1][0] is not (amt[-1][0] if amt else None):
            item.unit_price = price[-1][1]
            used.add(row.index(price[-1][0]))
        for tok in cells.get("quantity", []):
            q = _quantity(tok.text)
            if q is not None and row.index(tok) not in used:
                item.quantity = q
                used.add(row.index(tok))
                break
        desc = [t for t in cells.get("description", []) if row.index(t) not in used]
        desc += _overflow(row, desc, used, vocab)
    else:
        if money:
            item.amount = money[-1][1]
            item.key_tokens.append(money[-1][0])
            used.add(row.index(money[-1][0]))
            if len(money) > 1:
                item.unit_price = money[-2][1]
                used.add(row.index(money[-2][0]))
        first_money = min((row.index(t) for t, _ in money), default=len(row))
        for i in range(first_money - 1, -1, -1):
            if i in used:
                continue
            q = _quantity(row[i].text)
            if q is not None:
                item.quantity = q
                used.add(i)
            break
        desc = [t for i, t in enumerate(row) if i not in used and i < first_money]
        if item.code_token is not None:
            # the line's number printed before its code ("2  L1830  Knee immobilizer")
            code_x = item.code_token.bbox[0]
            desc = [t for t in desc if not (t.bbox[2] <= code_x and _LINE_NUMBER.fullmatch(t.text))]
    item.description = _description_words(desc)
    return item


_FILL_LINES = 3
"""Lines a pharmacy receipt's fill may run above its NDC line: its Rx number and price, its
drug's name."""


def _receipt_fills(rows: list[list[Tok]], vocab: LangVocab) -> list[_Item]:
    """The fills of a retail pharmacy receipt, each printed over several lines:

        RX# 6124873                        23.40
        NITROFURANTOIN MONO/MAC 100MG CAP
        NDC 65862-0110-01   QTY 10
        DR E OYELARAN   DAYS 5

    A fill is found by its NDC (only a hyphenated NDC: any other number could be an Rx or a
    store number); its price is the one amount on the lines above it since the last fill,
    its drug the words between, its count what follows a quantity header word.
    """
    quantity_words = {norm(w) for w in vocab.table.columns.get("quantity", [])}
    fills: list[_Item] = []
    start = 0
    for r, row in enumerate(rows):
        found = next(
            ((t, code) for t in row if (code := _read_code(t.text)) and code[1] == "NDC"), None
        )
        if found is None:
            continue
        ndc, (ndc_code, _) = found
        block = rows[max(start, r - _FILL_LINES) : r + 1]
        start = r + 1
        money = [m for line in block for m in _money_tokens(line, vocab.language)]
        if len(money) != 1:
            continue  # no price, or a price and more (a subtotal): not one fill's
        fee_tok, fee = money[0]
        item = _Item(
            tokens=[t for line in block for t in line],
            code=ndc_code,
            code_system="NDC",
            code_token=ndc,
            amount=fee,
            key_tokens=[ndc, fee_tok],
            in_table=True,
        )
        for i, tok in enumerate(row[:-1]):
            if tok.norm in quantity_words:
                item.quantity = _quantity(row[i + 1].text)
                break
        names = [
            line
            for line in block[:-1]
            if fee_tok not in line and sum(c.isalpha() for t in line for c in t.text) >= 4
        ]
        if names:
            item.description = _description_words(names[-1])
        fills.append(item)
    return fills


def _stated_service_date(rows: list[list[Tok]], vocab: LangVocab) -> str | None:
    """The one date a page states after a date-of-service label ("Date of Service:
    09/09/2025"), or None when it states none, or a range, or several."""
    field = vocab.fields.get("service_dates")
    if field is None:
        return None
    labels = sorted({label.casefold() for label in field.labels}, key=len, reverse=True)
    found: set[str] = set()
    for row in rows:
        text, _ = joined_text(row)
        folded = text.casefold()
        for label in labels:
            at = re.search(rf"(?<!\w){re.escape(label)}(?!\w)", folded)
            if at is None:
                continue
            found.update(d.value.isoformat() for d in find_dates(text[at.end() :], vocab.language))
            break
    return found.pop() if len(found) == 1 else None


def _ticked_charges(row: list[Tok], vocab: LangVocab) -> list[_Item] | None:
    """The services a row of a superbill ticks, or None when the row is no such list.

    A superbill prints every service the practice bills, each after a box and with its
    fee ("☐ 99212 Est pt, straightforward 95.00  ☒ 99213 Est pt, low 135.00"); only the
    ticked ones were given. A row is such a list when a box mark stands right before a
    procedure code; each box's entry runs to the next box. A single letter is no box here
    ("X" may be a word): the marks are the checkbox reader's and their printed forms.
    """
    marks = {
        m for m in [*vocab.tick_marks, *vocab.untick_marks] if not (len(m) == 1 and m.isascii())
    }
    starts = [
        i
        for i, tok in enumerate(row[:-1])
        if tok.text in marks and (_read_code(row[i + 1].text) or ("", ""))[1] in ("CPT", "HCPCS")
    ]
    if not starts:
        return None
    ticks = set(vocab.tick_marks)
    found: list[_Item] = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(row)
        entry = row[start:end]
        if entry[0].text not in ticks:
            continue
        code = _read_code_repaired(entry[1].text)
        money = _money_tokens(entry[2:], vocab.language)
        if code is None or not money:
            continue
        fee_tok, fee = money[0]
        words = [t for t in entry[2:] if t.bbox[0] < fee_tok.bbox[0]]
        found.append(
            _Item(
                tokens=list(entry),
                code=code[0],
                code_system=code[1],
                code_repaired=code[2],
                code_token=entry[1],
                description=_description_words(words),
                quantity=1.0,
                amount=fee,
                key_tokens=[entry[0], entry[1], fee_tok],
                in_table=True,
            )
        )
    return found


_LINE_NUMBER = re.compile(r"\d{1,3}[.)]?")
"""A bill's line number ("2", "2.", "2)")."""

_CODE_COLUMN_SLACK = 0.03
"""Page widths the codes of one column's rows may start apart."""


def _aligned_run(undated: list[_Item]) -> list[_Item]:
    """The charges of a table whose header was not read (a shaded header row OCR skipped,
    a bill printed without one): rows with a code, a description, a price and an amount
    that bills a whole count of it, but no date, count only as two or more whose codes
    start in one column. A lone such row is a code and an amount in passing, as an
    address's ZIP code beside a balance can look; a fee schedule (a superbill's list of
    every service with its one fee) has no price and amount to agree."""
    coded = [i for i in undated if i.code_token is not None]
    best: list[_Item] = []
    for item in coded:
        x = item.code_token.bbox[0] if item.code_token else 0.0
        column = [
            i for i in coded if i.code_token and abs(i.code_token.bbox[0] - x) <= _CODE_COLUMN_SLACK
        ]
        if len(column) > len(best):
            best = column
    return best if len(best) >= 2 else []


_WORD_GAP = 1.2
"""Line heights between two words of one description; wider is the gap to another column."""


def _overflow(row: list[Tok], desc: list[Tok], used: set[int], vocab: LangVocab) -> list[Tok]:
    """Words of a description that run on past its header into the next column ("Ambulance
    service advanced life support" under a "Quantity" printed further left): the words that
    follow its last word as one phrase, up to the first number, currency or value read."""
    if not desc:
        return []
    symbols = {s.upper() for s in vocab.money.symbols}
    more: list[Tok] = []
    last = desc[-1]
    for i in range(row.index(last) + 1, len(row)):
        tok = row[i]
        word = tok.text.strip(BOX_EDGES)
        if i in used or not word or any(ch.isdigit() for ch in word) or word.upper() in symbols:
            break
        if tok.bbox[0] - last.bbox[2] > _WORD_GAP * max(tok.height, last.height):
            break  # a gap between columns, not between words
        more.append(tok)
        last = tok
    return more


def _description_words(tokens: list[Tok]) -> list[str]:
    """Words of a description cell without the table rules a reader glues to them."""
    words = (t.text.strip(BOX_EDGES) for t in tokens if t.text != "$")
    return [w for w in words if w]


_LEAD_MARKS = "_=~-—–•*·>«»'‘’`\""
_TRAIL_MARKS = ",;:_=~-—–•*·<«»"
_SPECKS = set(".,:;'‘’`·•_~")
"""What specks on a scan read as between words; a "-", "/", "&" or "+" may be printed."""


def _is_mark(word: str) -> bool:
    """A rule, a speck or a shading pattern read as a word: no letter or digit, or (four
    characters or more) fewer letters and digits than other marks."""
    alnum = sum(ch.isalnum() for ch in word)
    return alnum == 0 or (len(word) >= 4 and alnum < len(word) - alnum)


def _description_text(words: list[str]) -> str | None:
    """The description as printed: marks a scan adds at its ends ("— Injection", "panel -",
    "general.") go, words inside it stay as read."""
    kept = list(words)
    while kept and (_is_mark(kept[0]) or (kept[0].isdigit() and len(kept[0]) >= 5)):
        kept.pop(0)  # a mark, or an Rx or item number printed in a column before it
    while kept and _is_mark(kept[-1]):
        kept.pop()
    kept = [w for w in kept if not set(w) <= _SPECKS]
    if not kept:
        return None
    kept[0] = kept[0].lstrip(_LEAD_MARKS)
    last = kept[-1].rstrip(_TRAIL_MARKS)
    stem = last.rstrip(".")
    if stem != last and (
        sum(ch.isalpha() for ch in stem) > 4 or (stem.isalpha() and stem.isupper())
    ):
        last = stem  # a speck after a word or an acronym; "Inj." or "est." keep their stop
    kept[-1] = last
    return " ".join(w for w in kept if w) or None


def _is_non_charge(item: _Item, vocab: LangVocab) -> bool:
    """A row that pays, credits or carries a balance: a negative amount, or a non-charge
    word in its description (whole words where the language spaces them, anywhere in the
    text where it does not)."""
    if item.amount is not None and item.amount < 0:
        return True
    words = {norm(w) for w in item.description}
    text = norm("".join(item.description))
    return any(
        norm(c) in words if c.isascii() else norm(c) in text for c in vocab.table.non_charge_words
    )


def _is_continuation(
    row: list[Tok], prev: _Item, cols: list[Column] | None, vocab: LangVocab
) -> bool:
    text = " ".join(t.text for t in row)
    if _money_tokens(row, vocab.language) or find_dates(text, vocab.language):
        return False
    if any(_read_code(t.text) for t in row) or sum(c.isalpha() for c in text) < 2:
        return False
    prev_bottom = max(t.bbox[3] for t in prev.tokens)
    height = max(t.height for t in row)
    if row[0].bbox[1] - prev_bottom > 1.5 * height:
        return False
    if cols:
        cells = _assign(row, cols)
        return bool(cells.get("description")) and len(cells["description"]) == len(row)
    return True


_MAX_UNITS = 999
"""Most units one charge line bills; a larger ratio of amount to price is no count."""


def _units(price: Decimal | None, amount: Decimal | None) -> float | None:
    """How many units the amount bills at the price, when that is a whole number."""
    if price is None or amount is None or price <= 0 or amount <= 0:
        return None
    ratio = amount / price
    units = ratio.to_integral_value()
    if abs(ratio - units) * price >= Decimal("0.015") or not 1 <= units <= _MAX_UNITS:
        return None
    return float(units)


def _finish(item: _Item) -> LineItemDraft:
    q = item.quantity
    units = _units(item.unit_price, item.amount)
    if units is not None and q != units:
        # A count is one or two small glyphs, a price and an amount five or more: a fax or
        # a poor scan reads "1" as "4" or "7" where both amounts are right and agree. When
        # they make a whole count, that count stands and the misread one goes.
        q = units
    return LineItemDraft(
        service_date=item.service_date,
        code=item.code,
        code_system=item.code_system,  # type: ignore[arg-type]
        description=_description_text(item.description),
        quantity=q,
        unit_price=float(item.unit_price) if item.unit_price is not None else None,
        amount=float(item.amount) if item.amount is not None else None,
        confidence=0.0,
    )


def extract_line_items(
    pages: list[Page],
    lines: list[LayoutLine],
    vocab: LangVocab,
    calibrator: Calibrator,
) -> LineItemResult:
    """Items in reading order, their evidence, and which words the table used."""
    cols: list[Column] | None = None
    closed = False
    items: list[_Item] = []
    table_lines: set[int] = set()
    for p_idx in range(len(pages)):
        toks = [t for line in lines if line.page_index == p_idx for t in line.tokens]
        rows = [merge_split_amounts(row) for row in rows_of(toks)]
        prev: _Item | None = None
        in_table = False
        page_start = len(items)
        undated: list[_Item] = []  # coded charges found where no header was read
        for row in rows:
            header = find_header(row, vocab)
            if header:
                cols, closed, in_table, prev = header, False, True, None
                table_lines |= {t.line_index for t in row}
                continue
            if closed:
                continue
            ticked = _ticked_charges(row, vocab)
            if ticked is not None:
                # a fee schedule with boxes (a superbill): its ticked services are the charges
                items.extend(ticked)
                table_lines |= {t.line_index for t in row}
                prev = None
                continue
            if (in_table or prev is not None) and _is_stop(row, vocab):
                closed = True
                continue
            if cols is None and not any(_read_code(t.text) for t in row):
                continue
            item = _parse_row(row, cols, vocab)
            if item.code is None and item.amount is not None and _is_non_charge(item, vocab):
                # a payment, an adjustment or a balance brought forward among the charges
                # is no service billed
                table_lines |= {t.line_index for t in row}
                prev = None
                continue
            has_key = item.service_date is not None or item.code is not None
            if item.amount is not None and (has_key or (in_table and item.description)):
                if cols is None and not (item.service_date and item.code):
                    if item.code and item.description and _units(item.unit_price, item.amount):
                        undated.append(item)
                    prev = None
                    continue
                item.in_table = cols is not None
                items.append(item)
                table_lines |= {t.line_index for t in row}
                prev = item
                in_table = in_table or cols is not None
            elif prev is not None and _is_continuation(row, prev, cols, vocab):
                prev.description.extend(_description_words(row))
                prev.tokens.extend(row)
                table_lines |= {t.line_index for t in row}
        if not items[page_start:] and not undated:
            # a retail pharmacy's receipt prints each fill over several lines
            for item in _receipt_fills(rows, vocab):
                items.append(item)
                table_lines |= {t.line_index for t in item.tokens}
        run = _aligned_run(undated)
        if run:
            for item in run:
                table_lines |= {t.line_index for t in item.tokens}
            items[page_start:] = sorted(
                [*items[page_start:], *run], key=lambda i: min(t.bbox[1] for t in i.tokens)
            )
        if any(item.service_date is None for item in items[page_start:]):
            stated = _stated_service_date(rows, vocab)
            for item in items[page_start:]:
                if item.service_date is None and stated is not None:
                    # a superbill or a one-visit bill prints its one date of service once,
                    # above the charges
                    item.service_date = stated
    drafts: list[LineItemDraft] = []
    evidence: list[ValueEvidence] = []
    code_tokens: set[tuple[int, int, float]] = set()
    for item in items:
        draft = _finish(item)
        consistent = 0.5
        if draft.quantity is not None and draft.unit_price is not None and draft.amount is not None:
            consistent = (
                1.0 if abs(draft.quantity * draft.unit_price - draft.amount) < 0.015 else 0.0
            )
        # an item is as sure as the words of its date, code and amount; one without a
        # readable code is a row the adjuster must read, one with a repaired code nearly so
        validated = 1.0 if draft.code and draft.service_date else 0.5 if draft.code else 0.0
        if item.code_repaired:
            validated = min(validated, 0.5)
        features = make_evidence(
            word_confidences=[t.conf for t in item.key_tokens or item.tokens],
            method="table",
            label_match=1.0 if item.in_table else 0.0,
            validated=validated,
            consistent=consistent,
        )
        conf = calibrator.predict(features)
        page_toks = [t for t in item.tokens if t.page_index == item.tokens[0].page_index]
        drafts.append(
            draft.model_copy(update={"confidence": conf, "source": source_of(page_toks, pages)})
        )
        evidence.append(ValueEvidence(method="table", features=features, confidence=conf))
        if item.code_token is not None:
            t = item.code_token
            code_tokens.add((t.page_index, t.line_index, t.bbox[0]))
    return LineItemResult(
        items=drafts, evidence=evidence, code_tokens=code_tokens, table_lines=table_lines
    )
