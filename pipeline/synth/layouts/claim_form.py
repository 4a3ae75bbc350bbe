"""The insurer's claim form: claimant block, claim-type checkboxes, optional diagnosis, signature."""

from __future__ import annotations

from reportlab.pdfgen.canvas import Canvas

from pipeline.synth.layouts.common import HEADERS, Ctx, RenderedDoc, draw_header, kv_block
from pipeline.synth.render import FieldStyle, PageSpec, Pen
from pipeline.synth.story import Story
from pipeline.truth import TruthValue

__all__ = ["draw_claim_form"]

_VARIANTS = ("boxed-grid", "two-column", "underlined")


def draw_claim_form(ctx: Ctx, story: Story) -> RenderedDoc:
    rng = ctx.rng
    variant = _VARIANTS[rng.randrange(len(_VARIANTS))]
    style: FieldStyle = {"boxed-grid": "boxed", "two-column": "beside", "underlined": "above"}[
        variant
    ]  # type: ignore[assignment]
    header = rng.choice(HEADERS[1:])
    ident = story.identities["claim_form"]
    p = story.patient
    title = ctx.title("claim_form")
    labels = {
        k: ctx.label(k)
        for k in (
            "patient_name",
            "patient_dob",
            "member_id",
            "policy_number",
            "policy_effective_date",
            "sex",
            "address",
            "phone",
            "claim_type",
            "diagnosis",
            "signature",
            "provider",
            "group",
        )
    }
    certify = ctx.phrase("certify")
    dob_txt = ctx.date(ident.dob)
    eff_txt = ctx.date(story.policy.effective)
    sig_date = ctx.date(
        max(
            d
            for d in (
                story.discharge_date,
                story.visit_date,
                story.accident_date,
                story.admission_date,
            )
            if d is not None
        )
    )
    checkbox_order = list(ctx.vocab.claim_type_names)
    if rng.random() < 0.3:
        rng.shuffle(checkbox_order)
    show_group = rng.random() < 0.5
    dx = story.diagnoses if story.claim_form_shows_dx else []
    cols = 2 if variant != "underlined" else rng.choice((2, 3))

    def paint(c: Canvas) -> None:
        pen = Pen(c, ctx.size, ctx.font, ctx.base)
        y = draw_header(pen, ctx, header, title, None, org_name=story.policy.insurer)
        m = 42.0
        w = pen.w - 2 * m
        pen.text(m, y, ctx.text("part_patient"), bold=True)
        y += ctx.base * 1.8
        items = [
            (labels["patient_name"], ident.name or ""),
            (labels["patient_dob"], dob_txt),
            (labels["sex"], ctx.text("female") if p.sex == "F" else ctx.text("male")),
            (labels["member_id"], ident.member_id or ""),
            (labels["policy_number"], ident.policy_number or ""),
            (labels["policy_effective_date"], eff_txt),
        ]
        if show_group:
            items.append((labels["group"], story.policy.group))
        items.append((labels["address"], f"{p.street}, {p.city}, {p.state} {p.zip}"))
        y = kv_block(pen, m, y, w, items, cols, style) + 10
        pen.text(m, y, ctx.text("part_claim_type") + labels["claim_type"].rstrip(":"), bold=True)
        y += ctx.base * 2
        x = m
        for ct in checkbox_order:
            x = pen.checkbox(
                x,
                y,
                story.claim_type_stated and ct == story.claim_type,
                ctx.vocab.claim_type_names[ct],
            )
        y += ctx.base * 2.6
        pen.text(m, y, ctx.text("part_treatment"), bold=True)
        y += ctx.base * 1.8
        treat = [(labels["provider"], story.provider.name)]
        if story.accident_date is not None:
            treat.append((ctx.label("accident_date"), ctx.date(story.accident_date)))
        if dx:
            treat.append((labels["diagnosis"], ", ".join(d.code for d in dx)))
        y = kv_block(pen, m, y, w, treat, 1 if style == "beside" else 2, style) + 14
        y = pen.paragraph(m, y, w, certify)
        y += 30
        pen.line(m, y, m + 220, y)
        pen.text(m, y + 11, labels["signature"], size=ctx.base * 0.8)
        pen.text(m + 260, y - 3, sig_date)
        pen.line(m + 255, y, m + 400, y)
        pen.text(m + 260, y + 11, ctx.text("date"), size=ctx.base * 0.8)

    fields: dict[str, TruthValue] = {
        "patient_name": ident.name,
        "patient_dob": ident.dob.isoformat() if ident.dob else None,
        "member_id": ident.member_id,
        "policy_number": ident.policy_number,
        "policy_effective_date": story.policy.effective.isoformat(),
        "claim_type": story.claim_type if story.claim_type_stated else None,
    }
    return RenderedDoc(
        doc_type="claim_form",
        layout=f"claim_form/{variant}/{header}",
        pages=[PageSpec(ctx.size, paint)],
        fields=fields,
        diagnoses=[(d.code, d.description) for d in dx],
    )
