"""Hand-built pages for tests: lines of words with boxes, as a reader would give them."""

from __future__ import annotations

from pipeline.document import Line, Page, Word


def make_page(
    lines: list[str], file: str = "packet.pdf", page: int = 1, confidence: float = 0.99
) -> Page:
    built = []
    for row, text in enumerate(lines):
        words = []
        x = 0.08
        y = 0.05 + row * 0.03
        for token in text.split():
            width = 0.012 * len(token)
            words.append(
                Word(text=token, confidence=confidence, bbox=(x, y, min(1.0, x + width), y + 0.02))
            )
            x += width + 0.01
        if words:
            built.append(Line.from_words(words))
    return Page(file=file, page=page, width=612, height=792, reader="text_layer", lines=built)


def text_pdf(lines: list[str]) -> bytes:
    """A one-page digital PDF with `lines` in Courier 10, top to bottom."""
    import io

    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter, invariant=1)
    y = 740
    for line in lines:
        pdf.setFont("Courier", 10)
        pdf.drawString(50, y, line)
        y -= 22
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
