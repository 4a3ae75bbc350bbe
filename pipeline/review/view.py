"""What the claim page shows: every value as a row beside the page it was read on.

Why a view model: the template should only lay things out; which values are doubtful
(below the `[review]` thresholds), which box belongs to which row and in what order pages
appear are decisions, made and tested here.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from pipeline.assemble import ReviewThresholds
from pipeline.document import DOC_TYPES
from pipeline.schema import CLAIM_TYPES, Claim, ExtractedField, Source

__all__ = ["ValueRow", "Box", "PageView", "Section", "ClaimView", "claim_view", "anchor"]


class _View(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ValueRow(_View):
    path: str
    anchor: str
    label: str
    value: str
    raw: str
    confidence: float | None
    low: bool
    missing: bool
    flagged: bool
    source_page: str | None = None
    editable: bool = True


class Box(_View):
    anchor: str
    label: str
    low: bool
    left: float
    top: float
    width: float
    height: float


class PageView(_View):
    file_index: int
    file: str
    page: int
    document: int | None
    doc_type: str | None
    anchor: str
    boxes: list[Box]


class Section(_View):
    title: str
    anchor: str
    rows: list[ValueRow]
    document: int | None = None
    doc_type: str | None = None
    doc_confidence: float | None = None
    doc_low: bool = False


class ClaimView(_View):
    sections: list[Section]
    pages: list[PageView]
    low_count: int
    doc_types: tuple[str, ...] = DOC_TYPES
    claim_types: tuple[str, ...] = CLAIM_TYPES


def anchor(path: str) -> str:
    return "row-" + "".join(c if c.isalnum() else "-" for c in path)


def _page_anchor(file_index: int, page: int) -> str:
    return f"page-{file_index}-{page}"


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _show(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def claim_view(claim: Claim, thresholds: ReviewThresholds) -> ClaimView:
    files = list(claim.packet.files)
    flagged = {f.field for f in claim.flags if f.field and f.severity in ("review", "error")}
    boxes: dict[tuple[str, int], list[Box]] = {}
    low_count = 0

    def row(
        path: str,
        label: str,
        value: object,
        confidence: float | None,
        source: Source | None,
        threshold: float,
        editable: bool = True,
    ) -> ValueRow:
        nonlocal low_count
        missing = value is None
        low = (not missing) and confidence is not None and confidence < threshold
        low_count += low
        where = None
        if source is not None:
            where = f"{source.file} p.{source.page}" if len(files) > 1 else f"p.{source.page}"
            x0, y0, x1, y1 = source.bbox
            boxes.setdefault((source.file, source.page), []).append(
                Box(
                    anchor=anchor(path),
                    label=label,
                    low=low,
                    left=round(x0 * 100, 3),
                    top=round(y0 * 100, 3),
                    width=round(max(x1 - x0, 0.004) * 100, 3),
                    height=round(max(y1 - y0, 0.004) * 100, 3),
                )
            )
        return ValueRow(
            path=path,
            anchor=anchor(path),
            label=label,
            value=_show(value),
            raw="" if value is None else str(value),
            confidence=confidence,
            low=low,
            missing=missing,
            flagged=path in flagged,
            source_page=where,
            editable=editable,
        )

    def field_row(path: str, name: str, f: ExtractedField) -> ValueRow:
        return row(path, _label(name), f.value, f.confidence, f.source, thresholds.field_confidence)

    claim_rows = [
        row(
            "claim_type",
            "Claim type",
            claim.claim_type.value,
            claim.claim_type.confidence,
            claim.claim_type.source,
            thresholds.claim_type_confidence,
        )
    ]
    claim_rows += [field_row(f"fields.{name}", name, f) for name, f in claim.fields]
    sections = [Section(title="Claim", anchor="section-claim", rows=claim_rows)]

    dx_rows = [
        row(
            f"diagnoses[{i}]",
            dx.code + ("" if dx.valid else " (not billable)"),
            f"{dx.code} {dx.description or ''}".strip(),
            dx.confidence,
            dx.source,
            thresholds.diagnosis_confidence,
        )
        for i, dx in enumerate(claim.diagnoses)
    ]
    for i, dx in enumerate(claim.diagnoses):
        dx_rows[i].raw = dx.code
        if not dx.valid:
            dx_rows[i].flagged = True
    sections.append(Section(title="Diagnoses", anchor="section-diagnoses", rows=dx_rows))

    for index, doc in enumerate(claim.documents):
        rows = [
            field_row(f"documents[{index}].fields.{name}", name, f)
            for name, f in sorted(doc.fields.items())
        ]
        items = [(i, item) for i, item in enumerate(claim.line_items) if item.document == index]
        for i, item in items:
            text = " · ".join(
                p
                for p in (
                    item.service_date,
                    item.code,
                    item.description,
                    f"× {item.quantity:g}" if item.quantity is not None else None,
                )
                if p
            )
            r = row(
                f"line_items[{i}].amount",
                f"Line {i + 1}: {text}" if text else f"Line {i + 1}",
                item.amount,
                item.confidence,
                item.source,
                thresholds.line_item_confidence,
            )
            rows.append(r)
        sections.append(
            Section(
                title=f"Document {index + 1}: {_label(doc.doc_type)}",
                anchor=f"doc-{index}",
                rows=rows,
                document=index,
                doc_type=doc.doc_type,
                doc_confidence=doc.confidence,
                doc_low=doc.confidence < thresholds.page_confidence,
            )
        )

    page_doc: dict[tuple[str, int], tuple[int, str]] = {}
    for index, doc in enumerate(claim.documents):
        for ref in doc.pages:
            page_doc[(ref.file, ref.page)] = (index, doc.doc_type)
    ordered = sorted(
        page_doc,
        key=lambda key: (files.index(key[0]) if key[0] in files else len(files), key[1]),
    )
    for key in boxes:
        if key not in page_doc and key[0] in files:
            ordered.append(key)
    pages = []
    for file, page in ordered:
        if file not in files:
            continue
        doc_index, doc_type = page_doc.get((file, page), (None, None))
        pages.append(
            PageView(
                file_index=files.index(file),
                file=file,
                page=page,
                document=doc_index,
                doc_type=doc_type,
                anchor=_page_anchor(files.index(file), page),
                boxes=boxes.get((file, page), []),
            )
        )
    return ClaimView(sections=sections, pages=pages, low_count=low_count)
