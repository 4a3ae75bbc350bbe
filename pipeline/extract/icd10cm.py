"""The ICD-10-CM code table diagnoses are checked against, loaded from a file shipped as data.

`simple_icd_10_cm` parses its 10 MB XML tabular list when it is imported: 1.5-2.5 s of CPU
in every batch before the first diagnosis could be read, for three facts per code (is it a
code, is it a leaf, its description). Those facts, written from the library once,
load from `pipeline/data/reference/icd10cm.json.gz` in a tenth of that time. The lookups
below answer exactly as the library's `is_valid_item`, `is_leaf` and `get_description` do
(a code with or without its dot); `tests/extract/test_icd10cm.py` checks the file against
the installed library. After a library upgrade: `python -m pipeline.extract.icd10cm`.
"""

from __future__ import annotations

import functools
import gzip
import json
from importlib.metadata import version
from pathlib import Path

from pydantic import BaseModel, ConfigDict

__all__ = ["TABLE_FILE", "IcdTable", "load_table", "is_valid_item", "is_leaf", "get_description"]

TABLE_FILE = Path(__file__).resolve().parent.parent / "data" / "reference" / "icd10cm.json.gz"


class IcdTable(BaseModel):
    """Every ICD-10-CM item (chapter, block, category, code) with [description, is a leaf]."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    codes: dict[str, tuple[str, bool]]


@functools.cache
def load_table(path: Path = TABLE_FILE) -> IcdTable:
    """The shipped table, read once per process on first use."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        raw = json.load(handle)
    # Built by `build_table` and checked by the tests: no validation of 98,000 rows per batch.
    return IcdTable.model_construct(
        source=raw["source"], codes={code: (d, leaf) for code, (d, leaf) in raw["codes"].items()}
    )


def is_valid_item(code: str) -> bool:
    """`code` (with or without its dot) is an ICD-10-CM item."""
    codes = load_table().codes
    return code in codes or (len(code) >= 4 and f"{code[:3]}.{code[3:]}" in codes)


def _entry(code: str) -> tuple[str, bool]:
    """The row of `code`, looked up as the library does: the dotted form first when the
    code has no dot after its third character."""
    if not is_valid_item(code):
        raise ValueError(f'The code "{code}" does not exist.')
    codes = load_table().codes
    if len(code) >= 4 and code[3] != "." and f"{code[:3]}.{code[3:]}" in codes:
        return codes[f"{code[:3]}.{code[3:]}"]
    return codes[code]


def is_leaf(code: str) -> bool:
    """`code` has no children (the only kind a claim can be paid on); ValueError if unknown."""
    return _entry(code)[1]


def get_description(code: str) -> str:
    """The official description of `code`; ValueError if it is not an ICD-10-CM item."""
    return _entry(code)[0]


def build_table() -> IcdTable:
    """The table as the installed `simple_icd_10_cm` answers (takes its seconds to import)."""
    import simple_icd_10_cm as icd

    codes = {
        code: (str(icd.get_description(code)), bool(icd.is_leaf(code)))
        for code in icd.get_all_codes(with_dots=True)
    }
    return IcdTable(source=f"simple_icd_10_cm {version('simple_icd_10_cm')}", codes=codes)


def write_table(path: Path = TABLE_FILE) -> Path:
    """Write `build_table()` to `path`, deterministically (sorted, no gzip timestamp)."""
    table = build_table()
    payload = json.dumps(
        {"source": table.source, "codes": dict(sorted(table.codes.items()))},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")
    path.write_bytes(gzip.compress(payload, compresslevel=9, mtime=0))
    return path


if __name__ == "__main__":
    print(f"wrote {write_table()}")
