"""Invoices and itemized bills: provider block, identifiers, a line-item table that may span pages."""

from __future__ import annotations

import random

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from pipeline.synth.layouts.common import Ctx, RenderedDoc, draw_header, kv_block, new_ctx
from pipeline.synth.render import FieldStyle, PageSpec, Pen, TableStyle, fit_words, font_families
from pipeline.synth.story import Identity, InvoiceContent
from pipeline.synth.vocab import Vocabulary, format_date
from pipeline.truth import TruthLineItem, TruthValue

__all__ = ["draw_invoice"]

# variant -> (header style, field style, table style, prints unit price)
_VARIANTS: dict[str, tuple[str, FieldStyle, TableStyle, bool]] = {
    "letterhead-ruled": ("letterhead", "beside", "ruled", True),
    "boxed-grid": ("right", "boxed", "grid", True),
    "plain-columns": ("centered", "beside", "plain", False),
    "banner-zebra": ("banner", "above", "zebra", True),
    "statement-grid": ("letterhead", "above", "grid", False),
}


def draw_invoice(vocab: Vocabulary, inv: InvoiceContent, ident: Identity) -> RenderedDoc:
    """Draw `inv`; its look comes from `inv.layout_seed`, so duplicates are identical."""
    rng = random.Random(inv.layout_seed)
    ctx = new_ctx(rng, vocab)
    names = sorted(_VARIANTS)
    variant = names[rng.randrange(len(names))]
    header, fstyle, tstyle, unit_col = _VARIANTS[variant]
    if variant == "plain-columns" and rng.random() < 0.6:
        ctx.font = next((f for f in font_families() if f.name == "Courier"), ctx.font)
    prov = inv.provider
    lab = {
        k: ctx.label(k)
        for k in (
            "invoice_number",
            "invoice_date",
            "total",
            "npi",
            "tax_id",
            "account",
            "patient_name",
            "patient_dob",
            "member_id",
            "col_date",
            "col_code",
            "col_desc",
            "col_units",
            "col_unit_price",
            "col_amount",
            "page",
        )
    }
    title = ctx.title("invoice")
    short = ("%m/%d/%Y", "%Y-%m-%d", "%d-%b-%Y")
    table_fmt = (
        ctx.date_fmt if "%B" not in ctx.date_fmt and rng.random() < 0.6 else rng.choice(short)
    )
    remit = ctx.phrase("remit")
    always_page_numbers = rng.random() < 0.4
    header_row = [
        lab["col_date"],
        lab["col_code"],
        lab["col_desc"],
        lab["col_units"],
        *([lab["col_unit_price"]] if unit_col else []),
        lab["col_amount"],
    ]
    info = [
        (lab["invoice_number"], inv.number),
        (lab["invoice_date"], ctx.date(inv.date)),
        (lab["patient_name"], ident.name or ""),
        (lab["patient_dob"], ctx.date(ident.dob)),
        (lab["member_id"], ident.member_id or ""),
        (lab["account"], inv.account),
        (lab["npi"], prov.npi),
        (lab["tax_id"], prov.tax_id),
    ]
    if rng.random() < 0.5:
        info = info[:2] + info[6:] + info[2:6]
    cols = 2 if fstyle != "above" else rng.choice((2, 3))
    w_page, h_page = ctx.size
    m = 42.0
    avail = w_page - 2 * m
    fracs = [0.12, 0.08, 0.0, 0.06, *([0.12] if unit_col else []), 0.13]
    cell_w = [
        max(
            frac * avail,
            pdfmetrics.stringWidth(head, ctx.font.bold, ctx.base) + 10,
            max((pdfmetrics.stringWidth(v, ctx.font.regular, ctx.base) for v in col), default=0.0)
            + 10,
        )
        for frac, head, col in zip(
            fracs, header_row, _columns(inv, ctx, table_fmt, unit_col), strict=True
        )
    ]
    fixed = [*cell_w[:2], 0.0, *cell_w[3:]]
    fixed[2] = avail - sum(fixed)
    descs = [
        fit_words(li.code.description, ctx.font.regular, ctx.base, fixed[2] - 8) for li in inv.lines
    ]
    rows = [
        [
            format_date(li.service_date, table_fmt, vocab),
            li.code.code,
            desc,
            str(li.quantity),
            *([ctx.money(li.unit_price)] if unit_col else []),
            ctx.money(li.amount),
        ]
        for li, desc in zip(inv.lines, descs, strict=True)
    ]
    row_h = ctx.base * 1.7
    first_top = 150 + (len(info) + cols - 1) // cols * ctx.base * (
        2.8 if fstyle != "beside" else 1.7
    )
    per_first = max(4, int((h_page - first_top - 130) // row_h))
    per_next = max(8, int((h_page - 120 - 110) // row_h))
    chunks: list[list[list[str]]] = [rows[:per_first]]
    rest = rows[per_first:]
    while rest:
        chunks.append(rest[:per_next])
        rest = rest[per_next:]
    n_pages = len(chunks)
    total_label = lab["total"]
    total_txt = ctx.money(inv.printed_total)
    money_cols = frozenset({3, 4, 5} if unit_col else {3, 4})

    def painter(page_no: int, chunk: list[list[str]]):
        def paint(c: Canvas) -> None:
            pen = Pen(c, ctx.size, ctx.font, ctx.base)
            if page_no == 0:
                y = draw_header(pen, ctx, header, title, prov)
                y = kv_block(pen, m, y, avail, info, cols, fstyle) + 8
            else:
                pen.text(m, 50, prov.name, bold=True)
                pen.text(w_page - m, 50, f"{lab['invoice_number']} {inv.number}", align="right")
                pen.text(
                    m,
                    64,
                    f"{lab['patient_name'].rstrip(':')}: {ident.name or ''}",
                    size=ctx.base * 0.9,
                )
                y = 90.0
            y = pen.table(m, y, fixed, header_row, chunk, tstyle, right_cols=money_cols)
            if page_no == n_pages - 1:
                y += ctx.base * 2
                tx = m + avail
                pen.text(tx - 110, y, total_label, bold=True, align="right")
                pen.text(tx - 3, y, total_txt, bold=True, align="right")
                if tstyle in ("grid", "ruled"):
                    pen.rect(tx - 100, y - ctx.base * 1.2, 100, ctx.base * 1.8, width=0.8)
                pen.paragraph(m, y + 40, avail, remit, size=ctx.base * 0.85)
            elif tstyle != "plain":
                pen.text(
                    m + avail,
                    y + ctx.base * 1.6,
                    ctx.text("continued"),
                    size=ctx.base * 0.8,
                    align="right",
                )
            if n_pages > 1 or always_page_numbers:
                pen.text(
                    w_page / 2,
                    h_page - 30,
                    lab["page"].format(n=page_no + 1, total=n_pages),
                    size=ctx.base * 0.8,
                    align="center",
                )

        return paint

    pages = [PageSpec(ctx.size, painter(i, ch)) for i, ch in enumerate(chunks)]
    fields: dict[str, TruthValue] = {
        "invoice_number": inv.number,
        "invoice_date": inv.date.isoformat(),
        "provider_name": prov.name,
        "provider_npi": prov.npi,
        "total": round(inv.printed_total, 2),
        "patient_name": ident.name,
        "patient_dob": ident.dob.isoformat() if ident.dob else None,
        "member_id": ident.member_id,
    }
    items = [
        TruthLineItem(
            document=0,
            service_date=li.service_date.isoformat(),
            code=li.code.code,
            code_system=li.code.code_system,
            description=desc,
            quantity=float(li.quantity),
            unit_price=round(li.unit_price, 2) if unit_col else None,
            amount=round(li.amount, 2),
        )
        for li, desc in zip(inv.lines, descs, strict=True)
    ]
    return RenderedDoc("invoice", f"invoice/{variant}", pages, fields, line_items=items)


def _columns(inv: InvoiceContent, ctx: Ctx, table_fmt: str, unit_col: bool) -> list[list[str]]:
    """The printed text of every non-description column, to size the columns before drawing."""
    cols = [
        [format_date(li.service_date, table_fmt, ctx.vocab) for li in inv.lines],
        [li.code.code for li in inv.lines],
        [],
        [str(li.quantity) for li in inv.lines],
    ]
    if unit_col:
        cols.append([ctx.money(li.unit_price) for li in inv.lines])
    cols.append([ctx.money(li.amount) for li in inv.lines])
    return cols
