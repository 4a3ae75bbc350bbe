"""Clinical documents: medical record (visit note / ED note / discharge summary), diagnosis certificate, accident report."""

from __future__ import annotations

import datetime as dt

from reportlab.pdfgen.canvas import Canvas

from pipeline.synth.layouts.common import HEADERS, Ctx, RenderedDoc, draw_header, kv_block
from pipeline.synth.render import FieldStyle, PageSpec, Pen
from pipeline.synth.story import Story
from pipeline.truth import TruthValue

__all__ = ["draw_medical_record", "draw_certificate", "draw_accident_report"]

_FIELD_STYLES: tuple[FieldStyle, ...] = ("beside", "above", "boxed")


def _iso(d: dt.date | None) -> str | None:
    return d.isoformat() if d is not None else None


def _dx_lines(ctx: Ctx, story: Story, style: str) -> list[str]:
    if style == "code-first":
        return [f"{d.code}  {d.description}" for d in story.diagnoses]
    if style == "desc-paren":
        return [f"{d.description} ({d.code})" for d in story.diagnoses]
    return [f"{i + 1}. {d.description} - ICD-10-CM {d.code}" for i, d in enumerate(story.diagnoses)]


def draw_medical_record(ctx: Ctx, story: Story) -> RenderedDoc:
    rng = ctx.rng
    ident = story.identities["medical_record"]
    inpatient = story.admission_date is not None
    ed = story.claim_type == "accident"
    kind = "inpatient" if inpatient else ("ed" if ed else "outpatient")
    title = ctx.title(f"medical_record_{kind}")
    header = rng.choice(HEADERS)
    fstyle = _FIELD_STYLES[rng.randrange(3)]
    dx_style = rng.choice(("code-first", "desc-paren", "numbered"))
    variant = f"{kind}-{fstyle}-{dx_style}"
    items = [
        (ctx.label("patient_name"), ident.name or ""),
        (ctx.label("patient_dob"), ctx.date(ident.dob)),
        (ctx.text("mrn"), f"{rng.randrange(10**7):07d}"),
    ]
    if inpatient:
        items += [
            (ctx.label("admission_date"), ctx.date(story.admission_date)),
            (ctx.label("discharge_date"), ctx.date(story.discharge_date)),
        ]
    else:
        items.append((ctx.label("visit_date"), ctx.date(story.visit_date)))
    items.append((ctx.label("physician"), story.provider.physician))
    complaint = (
        story.accident_description if story.accident_description else ctx.phrase("complaint")
    )
    course = ctx.phrase("ip_course" if inpatient else ("ed_course" if ed else "op_note"))
    plan = ctx.phrase("plan")
    dx_label = ctx.label("diagnosis")
    dx_lines = _dx_lines(ctx, story, dx_style)
    vitals = f"BP {rng.randrange(105, 150)}/{rng.randrange(62, 95)}  HR {rng.randrange(58, 104)}  T {rng.choice(('36.6', '36.9', '37.2', '98.4 F', '99.1 F'))}  SpO2 {rng.randrange(93, 100)}%"

    def paint(c: Canvas) -> None:
        pen = Pen(c, ctx.size, ctx.font, ctx.base)
        m = 48.0
        w = pen.w - 2 * m
        y = draw_header(pen, ctx, header, title, story.provider)
        y = kv_block(pen, m, y, w, items, 2, fstyle) + 10
        sections = [
            (
                ctx.text("chief_complaint") if not inpatient else ctx.text("reason_admission"),
                [complaint],
            ),
            (ctx.text("vitals"), [vitals]),
            (ctx.text("hospital_course") if inpatient else ctx.text("history_exam"), [course]),
            (dx_label, dx_lines),
            (ctx.text("plan_head"), [plan]),
        ]
        for head, paras in sections:
            pen.text(m, y, head.upper() if fstyle == "boxed" else head, bold=True)
            y += ctx.base * 1.5
            for para in paras:
                y = pen.paragraph(m + 10, y, w - 10, para) + 2
            y += ctx.base * 0.8
        pen.text(
            m, y + 30, ctx.text("esigned", name=story.provider.physician), size=ctx.base * 0.85
        )

    fields: dict[str, TruthValue] = {
        "patient_name": ident.name,
        "patient_dob": _iso(ident.dob),
        "admission_date": _iso(story.admission_date) if inpatient else None,
        "discharge_date": _iso(story.discharge_date) if inpatient else None,
        "visit_date": None if inpatient else _iso(story.visit_date),
    }
    return RenderedDoc(
        "medical_record",
        f"medical_record/{variant}",
        [PageSpec(ctx.size, paint)],
        fields,
        diagnoses=[(d.code, d.description) for d in story.diagnoses],
    )


def draw_certificate(ctx: Ctx, story: Story) -> RenderedDoc:
    rng = ctx.rng
    ident = story.identities["diagnosis_certificate"]
    variant = rng.choice(("statement-table", "boxed-form", "letter"))
    title = ctx.title("diagnosis_certificate")
    header = rng.choice(HEADERS)
    physician = story.provider.physician
    onset = story.admission_date or story.visit_date or story.accident_date
    items = [
        (ctx.label("patient_name"), ident.name or ""),
        (ctx.label("patient_dob"), ctx.date(ident.dob)),
        (ctx.text("first_consult"), ctx.date(onset)),
    ]
    statement = ctx.phrase("cert_statement")
    fstyle: FieldStyle = "boxed" if variant == "boxed-form" else rng.choice(("beside", "above"))
    phys_label = ctx.label("physician")

    def paint(c: Canvas) -> None:
        pen = Pen(c, ctx.size, ctx.font, ctx.base)
        m = 54.0
        w = pen.w - 2 * m
        y = draw_header(pen, ctx, header, title, story.provider)
        if variant == "letter":
            y = pen.paragraph(m, y + 6, w, ctx.text("to_whom")) + 6
            y = (
                pen.paragraph(
                    m,
                    y,
                    w,
                    statement
                    + " "
                    + ctx.text(
                        "patient_born",
                        name=ident.name or "__________",
                        dob=ctx.date(ident.dob) or "__________",
                    ),
                )
                + 10
            )
        else:
            y = kv_block(pen, m, y, w, items, 2, fstyle) + 8
            y = pen.paragraph(m, y, w, statement) + 8
        rows = [[d.code, d.description] for d in story.diagnoses]
        if variant == "statement-table":
            y = pen.table(
                m,
                y,
                [90, w - 90],
                [ctx.text("dx_table_code"), ctx.text("dx_table_desc")],
                rows,
                "grid",
            )
        else:
            pen.text(m, y, ctx.text("dx_head"), bold=True)
            y += ctx.base * 1.5
            for code, desc in rows:
                y = pen.paragraph(
                    m + 12, y, w - 12, f"{desc} ({ctx.text('dx_table_code')}: {code})"
                )
        y += 46
        pen.line(m, y, m + 230, y)
        pen.text(m, y + 12, f"{phys_label.rstrip(':')}: {physician}")
        pen.text(m, y + 24, f"NPI {story.provider.npi}", size=ctx.base * 0.85)

    fields: dict[str, TruthValue] = {
        "patient_name": ident.name,
        "patient_dob": _iso(ident.dob),
        "physician_name": physician,
    }
    return RenderedDoc(
        "diagnosis_certificate",
        f"diagnosis_certificate/{variant}/{header}",
        [PageSpec(ctx.size, paint)],
        fields,
        diagnoses=[(d.code, d.description) for d in story.diagnoses],
    )


def draw_accident_report(ctx: Ctx, story: Story) -> RenderedDoc:
    rng = ctx.rng
    ident = story.identities["accident_report"]
    variant = rng.choice(("questionnaire", "boxed-form", "narrative"))
    title = ctx.title("accident_report")
    fstyle: FieldStyle = {"questionnaire": "above", "boxed-form": "boxed", "narrative": "beside"}[
        variant
    ]  # type: ignore[assignment]
    when = rng.choice(("07:40", "12:15", "16:05", "18:30", "21:50", "09:20"))
    items = [
        (ctx.label("patient_name"), ident.name or ""),
        (ctx.label("accident_date"), ctx.date(story.accident_date)),
        (ctx.text("time"), when),
        (ctx.label("accident_place"), story.accident_place or ""),
        (ctx.text("police"), ctx.phrase("yes_no")),
        (ctx.text("work_related"), ctx.phrase("yes_no")),
    ]
    desc = story.accident_description or ""
    header = rng.choice(HEADERS[1:])

    def paint(c: Canvas) -> None:
        pen = Pen(c, ctx.size, ctx.font, ctx.base)
        m = 48.0
        w = pen.w - 2 * m
        y = draw_header(pen, ctx, header, title, None, org_name=story.policy.insurer)
        y = kv_block(pen, m, y, w, items, 2 if variant != "narrative" else 1, fstyle) + 10
        pen.text(m, y, ctx.text("describe_accident"), bold=True)
        y += ctx.base * 1.6
        if variant == "boxed-form":
            pen.rect(m, y - ctx.base, w, ctx.base * 7, width=0.7)
        y = pen.paragraph(m + 6, y + 4, w - 12, desc) + ctx.base * 6
        pen.text(m, y, ctx.text("injuries"), bold=True)
        pen.paragraph(
            m + 6, y + ctx.base * 1.6, w - 12, "; ".join(d.description for d in story.diagnoses[:1])
        )
        pen.line(m, y + 90, m + 220, y + 90)
        pen.text(m, y + 102, ctx.label("signature"), size=ctx.base * 0.8)

    fields: dict[str, TruthValue] = {
        "patient_name": ident.name,
        "accident_date": _iso(story.accident_date),
    }
    return RenderedDoc(
        "accident_report",
        f"accident_report/{variant}/{header}",
        [PageSpec(ctx.size, paint)],
        fields,
    )
