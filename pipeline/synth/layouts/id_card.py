"""The member's insurance ID card, drawn card-size on a page (a copy) with its box recorded for photos."""

from __future__ import annotations

from reportlab.pdfgen.canvas import Canvas

from pipeline.synth.layouts.common import Ctx, RenderedDoc
from pipeline.synth.render import PageSpec, Pen
from pipeline.synth.story import Story
from pipeline.truth import TruthValue

__all__ = ["draw_id_card", "CARD_W", "CARD_H"]

CARD_W, CARD_H = 3.375 * 72, 2.125 * 72


def draw_id_card(ctx: Ctx, story: Story) -> RenderedDoc:
    rng = ctx.rng
    ident = story.identities["id_document"]
    variant = rng.choice(("band-top", "stripe-left", "plain-grid"))
    show_dob = rng.random() < 0.5
    show_policy = rng.random() < 0.6
    both_sides = rng.random() < 0.5
    name_upper = rng.random() < 0.3
    name = (ident.name.upper() if name_upper else ident.name) if ident.name else None
    ox = rng.choice((54.0, 72.0, 150.0))
    oy = rng.choice((60.0, 90.0, 140.0))
    lab = {k: ctx.label(k) for k in ("member_id", "policy_number", "patient_dob", "plan", "group")}
    name_label = ctx.phrase("card_name")
    pol = story.policy
    back_text = ctx.phrase("card_back")
    card_font_size = ctx.base * 0.8

    def card(pen: Pen, x: float, y: float) -> None:
        b = card_font_size
        pen.rect(x, y, CARD_W, CARD_H, width=1.0)
        if variant == "band-top":
            pen.rect(x, y, CARD_W, 30, width=0, fill=0.3)
            pen.c.setFillGray(1.0)
            pen.c.setFont(pen.font.bold, b * 1.35)
            pen.c.drawString(x + 8, pen.h - (y + 20), pol.insurer)
            pen.c.setFillGray(0.0)
            ty = y + 46
        elif variant == "stripe-left":
            pen.rect(x, y, 14, CARD_H, width=0, fill=0.45)
            pen.text(x + 22, y + 18, pol.insurer, size=b * 1.3, bold=True)
            ty = y + 36
        else:
            pen.text(x + 8, y + 18, pol.insurer, size=b * 1.3, bold=True)
            pen.line(x + 6, y + 24, x + CARD_W - 6, y + 24, width=0.6)
            ty = y + 40
        lx = x + (22 if variant == "stripe-left" else 8)
        rows = [(name_label, name or ""), (lab["member_id"], ident.member_id or "")]
        if show_policy:
            rows.append((lab["policy_number"], ident.policy_number or ""))
        if show_dob:
            rows.append((lab["patient_dob"], ctx.date(ident.dob)))
        rows.append((lab["plan"], f"{pol.plan}   {lab['group']} {pol.group}"))
        for label, value in rows:
            pen.text(lx, ty, label.rstrip(":"), size=b * 0.8, gray=0.35)
            pen.text(lx + 78, ty, value, size=b, bold=label == name_label)
            ty += b * 1.75
        pen.text(x + CARD_W - 8, y + CARD_H - 8, ctx.text("rx_bin"), size=b * 0.7, align="right")

    def back(pen: Pen, x: float, y: float) -> None:
        b = card_font_size
        pen.rect(x, y, CARD_W, CARD_H, width=1.0)
        pen.paragraph(x + 8, y + 18, CARD_W - 16, back_text, size=b * 0.85)
        pen.text(x + 8, y + 70, ctx.text("member_services", phone=rng_phone), size=b * 0.85)
        pen.text(x + 8, y + 84, ctx.text("providers_note"), size=b * 0.75)

    rng_phone = f"{rng.randrange(200, 999)}-{rng.randrange(10000):04d}"

    def paint(c: Canvas) -> None:
        pen = Pen(c, ctx.size, ctx.font, ctx.base)
        card(pen, ox, oy)
        if both_sides:
            if ox + 2 * CARD_W + 20 < pen.w:
                back(pen, ox + CARD_W + 20, oy)
            else:
                back(pen, ox, oy + CARD_H + 24)

    fields: dict[str, TruthValue] = {
        "patient_name": name,
        "member_id": ident.member_id,
        "policy_number": ident.policy_number if show_policy else None,
        "patient_dob": ident.dob.isoformat() if show_dob and ident.dob else None,
    }
    spec = PageSpec(ctx.size, paint, kind="card", card_box=(ox, oy, ox + CARD_W, oy + CARD_H))
    return RenderedDoc("id_document", f"id_document/{variant}", [spec], fields)
