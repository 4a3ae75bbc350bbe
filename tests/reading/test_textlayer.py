from pathlib import Path

import numpy as np
import pdfplumber
import pytest
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas

from pipeline.document import Line, Page, Word
from pipeline.reading.layout import group_into_lines
from pipeline.reading.textlayer import (
    decide_text_layer,
    read_text_layer,
    text_layer_quality,
    uncovered_ink_fraction,
)


def _form_pdf(path: Path) -> None:
    c = canvas.Canvas(str(path), pagesize=letter)
    c.setFont("Helvetica", 11)
    c.drawString(72, 720, "Patient Name:")
    c.drawString(300, 720, "Maria Lopez")
    c.drawString(72, 700, "Date of Birth: 03/14/1975")
    c.drawString(72, 650, "99213")
    c.drawString(160, 650, "Office visit, established")
    c.drawString(480, 650, "$125.00")
    c.showPage()
    c.save()


def _page_of(texts: list[str]) -> Page:
    words = [
        Word(
            text=t,
            confidence=0.99,
            bbox=(
                0.05 + 0.06 * (i % 12),
                0.05 + 0.03 * (i // 12),
                0.1 + 0.06 * (i % 12),
                0.065 + 0.03 * (i // 12),
            ),
        )
        for i, t in enumerate(texts)
    ]
    return Page(
        file="x.pdf",
        page=1,
        width=612,
        height=792,
        reader="text_layer",
        lines=[Line.from_words([w]) for w in words],
    )


def test_textlayer_reads_words_with_page_fraction_boxes(tmp_path: Path) -> None:
    path = tmp_path / "form.pdf"
    _form_pdf(path)
    with pdfplumber.open(path) as pdf:
        page = read_text_layer(pdf.pages[0], "form.pdf", 1)
    assert page.reader == "text_layer" and (page.width, page.height) == (612, 792)
    words = {w.text: w for w in page.words}
    name = words["Patient"]
    assert all(0.0 <= v <= 1.0 for w in page.words for v in w.bbox)
    assert name.bbox[0] == pytest.approx(72 / 612, abs=0.002)
    # y from the top: the baseline at 720 pt from the bottom is ~72 pt from the top.
    assert name.bbox[1] == pytest.approx((792 - 720 - 9) / 792, abs=0.01)
    assert name.confidence == pytest.approx(0.99)


def test_textlayer_lines_split_label_value_and_columns(tmp_path: Path) -> None:
    path = tmp_path / "form.pdf"
    _form_pdf(path)
    with pdfplumber.open(path) as pdf:
        page = read_text_layer(pdf.pages[0], "form.pdf", 1)
    texts = [line.text for line in page.lines]
    assert texts == [
        "Patient Name:",
        "Maria Lopez",
        "Date of Birth: 03/14/1975",
        "99213",
        "Office visit, established",
        "$125.00",
    ]


def test_textlayer_group_into_lines_keeps_rows_apart() -> None:
    upper = [
        Word(text="b", confidence=1, bbox=(0.2, 0.1, 0.25, 0.12)),
        Word(text="a", confidence=1, bbox=(0.1, 0.1, 0.15, 0.12)),
    ]
    lower = [Word(text="c", confidence=1, bbox=(0.1, 0.125, 0.15, 0.145))]
    lines = group_into_lines(upper + lower, aspect=1.0, gap_factor=3.0)
    assert [line.text for line in lines] == ["a b", "c"]


def test_textlayer_group_into_lines_does_not_chain_a_dense_form_into_one_row() -> None:
    """A UB-04's top (pdfplumber's boxes, points on a 612 x 792 page): an address at 10 pt
    spacing beside 6 pt box labels and 9 pt values that each overlap the next row a little.
    A row grown to the union of its words took the address's two lines as one."""

    def word(text: str, x: float, top: float, bottom: float) -> Word:
        return Word(
            text=text, confidence=1, bbox=(x / 612, top / 792, (x + 30) / 612, bottom / 792)
        )

    words = [
        word("PAT.", 308, 19.2, 25.2),
        word("PC77120345", 360, 18.7, 27.7),
        word("ST", 30, 24.7, 33.7),
        word("BRIGID", 64, 24.7, 33.7),
        word("0111", 480, 28.7, 37.7),
        word("MED.", 307, 31.2, 37.2),
        word("00482291", 400, 30.7, 39.7),
        word("450", 30, 34.7, 43.7),
        word("HARBOR", 64, 34.7, 43.7),
    ]
    lines = group_into_lines(words, aspect=792 / 612, gap_factor=3.0)
    texts = [line.text for line in lines]
    assert "ST BRIGID" in texts and "450 HARBOR" in texts


def test_textlayer_quality_real_vs_garbage() -> None:
    real = _page_of(
        [
            "Patient",
            "Name:",
            "John",
            "Smith",
            "Date",
            "of",
            "Birth",
            "01/02/1980",
            "Total",
            "$125.00",
            "J18.9",
            "Office",
            "visit",
        ]
    )
    cid = _page_of(["(cid:12)(cid:7)(cid:44)"] * 12)
    soup = _page_of(["xqzrtk", "bvnmlk", "tHqZr", "plkjhgf", "ÆË¼¸", "ÐÑ¾½", "wrtxz", "qqqqqqq"])
    assert text_layer_quality(real) > 0.9
    assert text_layer_quality(cid) < 0.1
    assert text_layer_quality(soup) < 0.4
    assert text_layer_quality(_page_of([])) == 0.0
    assert decide_text_layer(real).use_text_layer
    assert not decide_text_layer(cid).use_text_layer
    assert not decide_text_layer(soup).use_text_layer


def test_textlayer_empty_layer_on_inked_page_goes_to_ocr() -> None:
    image = np.full((200, 150), 255, np.uint8)
    image[40:160, 20:130:4] = 0  # lots of ink, no words
    decision = decide_text_layer(_page_of([]), image)
    assert not decision.use_text_layer and "0 words" in decision.reason
    blank = decide_text_layer(_page_of([]), np.full((200, 150), 255, np.uint8))
    assert blank.use_text_layer


def test_textlayer_header_over_scanned_image_goes_to_ocr() -> None:
    page = _page_of(
        ["Scanned", "by", "Mailroom", "fax", "header", "page"]
    )  # boxes in the top strip
    image = np.full((400, 300), 255, np.uint8)
    image[10:25, 15:280] = 0  # the header itself
    image[100:380:6, 30:270] = 0  # an image of a full page of text under no words
    share, outside = uncovered_ink_fraction(page, image)
    assert share > 0.01 and outside > 0.5
    assert not decide_text_layer(page, image).use_text_layer


def test_textlayer_unknown_language_is_named() -> None:
    with pytest.raises(ValueError, match="'xx'.*known"):
        text_layer_quality(_page_of(["a"]), language="xx")


@pytest.mark.parametrize(("turn", "upright"), [(90, 270), (270, 90)])
def test_textlayer_rotated_page_reads_lines_along_the_text(
    tmp_path: Path, turn: int, upright: int
) -> None:
    from pypdf import PdfWriter

    plain = tmp_path / "form.pdf"
    _form_pdf(plain)
    writer = PdfWriter(clone_from=plain)
    writer.pages[0].rotate(turn)
    turned = tmp_path / "turned.pdf"
    with turned.open("wb") as fh:
        writer.write(fh)
    with pdfplumber.open(turned) as pdf:
        page = read_text_layer(pdf.pages[0], "turned.pdf", 1)
    assert page.rotation == upright
    assert [line.text for line in page.lines][:3] == [
        "Patient Name:",
        "Maria Lopez",
        "Date of Birth: 03/14/1975",
    ]
    # Boxes are in the displayed (landscape) page: a tall, thin box per line.
    x0, y0, x1, y1 = page.lines[0].bbox
    assert (y1 - y0) > (x1 - x0)


def test_textlayer_vector_rules_do_not_force_ocr() -> None:
    page = _page_of(["Invoice", "Total", "$125.00", "Office", "visit", "99213"])
    image = np.full((400, 300), 255, np.uint8)
    image[100:380:10, 10:290] = 0  # table rules drawn as vectors, no words under them
    assert not decide_text_layer(page, image, image_area=None).use_text_layer
    assert decide_text_layer(page, image, image_area=0.0).use_text_layer
    assert not decide_text_layer(page, image, image_area=0.95).use_text_layer


def test_textlayer_image_area_of_scanned_pdf(tmp_path: Path) -> None:
    from PIL import Image

    scan = tmp_path / "scan.png"
    Image.new("L", (850, 1100), 200).save(scan)
    path = tmp_path / "scan.pdf"
    c = canvas.Canvas(str(path), pagesize=letter)
    c.drawImage(str(scan), 0, 0, width=612, height=792)
    c.drawString(10, 780, "Scanned by mailroom")
    c.showPage()
    c.drawString(72, 700, "Digital page")
    c.showPage()
    c.save()
    from pipeline.reading.textlayer import image_area_fraction

    with pdfplumber.open(path) as pdf:
        assert image_area_fraction(pdf.pages[0]) == pytest.approx(1.0, abs=0.01)
        assert image_area_fraction(pdf.pages[1]) == 0.0


def test_textlayer_faint_scan_without_words_goes_to_ocr() -> None:
    image = np.full((200, 150), 235, np.uint8)
    image[40:160:6, 20:130] = 185  # light toner: lighter than a fixed ink threshold
    assert not decide_text_layer(_page_of([]), image).use_text_layer
    white = np.full((200, 150), 255, np.uint8)
    # No ink at all, but a page-sized image: still OCR (it may be a very light scan).
    assert not decide_text_layer(_page_of([]), white, image_area=1.0).use_text_layer


def _unlike_page(path: Path) -> None:
    """Chars out of the ordinary: colours, a CJK font, a text rise, a rotated string, marked
    content, a media box that does not start at 0 (page 2)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    c = canvas.Canvas(str(path), pagesize=letter)
    c.setFillColorRGB(0.8, 0.1, 0.1)
    c.setFont("Helvetica-Bold", 14)
    c.drawString(72, 720, "Invoice No: INV-2024-0042")
    c.setFillColorCMYK(0, 0, 0, 1)
    c.setFont("STSong-Light", 12)
    c.drawString(72, 690, "发票 病历 诊断证明书")
    text = c.beginText(72, 660)
    text.setFont("Times-Roman", 10)
    text.setRise(3)
    text.textLine("Amount due $1,250.00")
    c.drawText(text)
    c.saveState()
    c.translate(500, 300)
    c.rotate(90)
    c.drawString(0, 0, "Printed sideways")
    c.restoreState()
    c.showPage()
    c.setPageSize((500, 400))
    c.drawString(40, 300, "Second page")
    c.showPage()
    c.save()


def test_textlayer_fast_chars_are_pdfplumbers_own(tmp_path: Path) -> None:
    """`fast_chars` skips pdfplumber's generic conversion of chars; every dict it builds must
    still be the one pdfplumber builds, so a pdfplumber or pdfminer.six upgrade that changes
    them fails here, not in the claims."""
    from pypdf import PdfWriter

    from pipeline.reading.textlayer import _char_object, fast_chars

    form, unlike = tmp_path / "form.pdf", tmp_path / "unlike.pdf"
    _form_pdf(form)
    _unlike_page(unlike)
    writer = PdfWriter(clone_from=unlike)
    writer.pages[1].mediabox.lower_left = (20, 30)
    writer.pages[0].rotate(90)
    shifted = tmp_path / "shifted.pdf"
    with shifted.open("wb") as fh:
        writer.write(fh)
    built = 0
    for path in (form, unlike, shifted):
        with pdfplumber.open(path) as plain, pdfplumber.open(path) as fast:
            for ours, theirs in zip(plain.pages, fast.pages, strict=True):
                page = fast_chars(theirs)
                assert page.chars == ours.chars and ours.chars
                assert page.rects == ours.rects and page.curves == ours.curves
                assert page.extract_words() == ours.extract_words()
                mb_x0, mb_top = (float(v) for v in ours.mediabox[:2])
                built += sum(
                    1
                    for obj in _layout_chars(ours.layout)
                    if _char_object(ours, obj, mb_x0, mb_top) is not None
                )
    assert built > 100  # the fast path ran, it did not hand every char back to pdfplumber


def _layout_chars(container):
    from pdfminer.layout import LTChar, LTContainer

    for obj in container:
        if isinstance(obj, LTContainer):
            yield from _layout_chars(obj)
        elif isinstance(obj, LTChar):
            yield obj


def test_textlayer_checkbox_glyphs_of_symbol_fonts_read_as_boxes(tmp_path: Path) -> None:
    # a form's boxes drawn in ZapfDingbats: its text layer holds the codes "n", "o", "4"
    path = tmp_path / "boxes.pdf"
    c = canvas.Canvas(str(path), pagesize=letter)
    c.setFont("ZapfDingbats", 11)
    c.drawString(72, 720, "■")
    c.drawString(200, 720, "❏")
    c.drawString(330, 720, "✔")
    c.setFont("Helvetica", 11)
    c.drawString(86, 720, "Critical Illness")
    c.drawString(214, 720, "Accident")
    c.drawString(344, 720, "Outpatient n")
    c.showPage()
    c.save()
    with pdfplumber.open(path) as pdf:
        assert [ch["text"] for ch in pdf.pages[0].chars[:3]] == ["n", "o", "4"]
        page = read_text_layer(pdf.pages[0], "boxes.pdf", 1)
    words = [w.text for line in page.lines for w in line.words]
    assert words == ["■", "Critical", "Illness", "❏", "Accident", "✔", "Outpatient", "n"]
