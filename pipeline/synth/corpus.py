"""Assemble synthetic packets into inbox files and their ground truth; `generate_corpus` is the entry point.

`build_packet` is pure (story -> file bytes + Truth); only `generate_corpus` touches the disk.
Packet i depends on (seed, i) alone, so the same seed gives byte-identical files at any N.
"""

from __future__ import annotations

import io
import random
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pypdfium2 as pdfium
from PIL import Image
from reportlab.lib.pagesizes import LETTER
from reportlab.pdfgen.canvas import Canvas

from pipeline.errors import ConfigError
from pipeline.synth.degrade import ScanPlan, degrade_page, photograph_card, plan_scan
from pipeline.synth.layouts.claim_form import draw_claim_form
from pipeline.synth.layouts.clinical import (
    draw_accident_report,
    draw_certificate,
    draw_medical_record,
)
from pipeline.synth.layouts.common import RenderedDoc, new_ctx
from pipeline.synth.layouts.id_card import draw_id_card
from pipeline.synth.layouts.invoice import draw_invoice
from pipeline.synth.plan import CHECKLISTS, REQUIRED_FIELDS, derive_seed, plan_packet
from pipeline.synth.render import PageSpec, Pen, draw_barcode, font_families, pdf_bytes
from pipeline.synth.story import Story
from pipeline.synth.vocab import Vocabulary, vocabulary
from pipeline.truth import (
    Truth,
    TruthCompleteness,
    TruthDiagnosis,
    TruthDocument,
    TruthFraud,
    TruthLineItem,
    TruthPage,
    TruthValue,
)

__all__ = ["CorpusProfile", "generate_corpus", "build_packet", "PacketFiles"]

CorpusProfile = Literal["digital", "scanned", "mixed"]
_PROFILES = ("digital", "scanned", "mixed")
FileKind = Literal["pdf", "image_pdf", "tiff_g4", "tiff_lzw", "png", "jpg", "photo"]
SEPARATOR_RATE = 0.1
_FIXED_TIME = time.gmtime(1767225600)  # 2026-01-01; Pillow stamps "now" into PDFs otherwise
_FIELD_PRIORITY = (
    "claim_form",
    "id_document",
    "invoice",
    "medical_record",
    "diagnosis_certificate",
    "accident_report",
)


@dataclass
class PacketFiles:
    """One packet ready to write: (relative path, bytes) pairs and its truth."""

    name: str
    files: list[tuple[str, bytes]]
    truth: Truth


@dataclass
class _Sheet:
    doc: int
    pos: int
    spec: PageSpec


@dataclass
class _File:
    name: str
    kind: FileKind
    sheets: list[_Sheet]


def _render_docs(story: Story, seed: int, vocab: Vocabulary) -> list[RenderedDoc]:
    docs: list[RenderedDoc] = []
    for k, doc_type in enumerate(story.doc_types):
        if doc_type == "invoice":
            for inv in story.invoices:
                docs.append(draw_invoice(vocab, inv, story.identities["invoice"]))
            continue
        ctx = new_ctx(random.Random(derive_seed(seed, story.index, f"layout/{k}")), vocab)
        draw = {
            "claim_form": draw_claim_form,
            "id_document": draw_id_card,
            "medical_record": draw_medical_record,
            "diagnosis_certificate": draw_certificate,
            "accident_report": draw_accident_report,
        }[doc_type]
        docs.append(draw(ctx, story))
    return docs


def _separator(story: Story, rng: random.Random) -> RenderedDoc:
    kind: Literal["code128", "qr"] = rng.choice(("code128", "qr"))
    value = story.packet_number
    caption = rng.random() < 0.7

    def paint(c: Canvas) -> None:
        w, h = LETTER
        if kind == "qr":
            draw_barcode(c, "qr", value, w / 2 - 90, h / 2 - 40, 180)
        else:
            draw_barcode(c, "code128", value, w / 2 - 130, h / 2, 80)
        if caption:
            Pen(c, LETTER, font_families()[0], 10).text(w / 2, h / 2 + 80, value, align="center")

    return RenderedDoc("other", f"separator/{kind}", [PageSpec(LETTER, paint)], {})


def _arrange(
    story: Story, docs: list[RenderedDoc], profile: CorpusProfile, rng: random.Random, has_sep: bool
) -> tuple[str, list[_File]]:
    """Decide the packet's shape: one file or a folder, page order, and each file's format."""
    name = f"pkt-{story.index:04d}"
    mode = profile
    if profile == "mixed":
        mode = rng.choices(("digital", "scanned", "both"), weights=(40, 35, 25))[0]  # type: ignore[assignment]
    sheets_by_doc = [[_Sheet(i, j, s) for j, s in enumerate(d.pages)] for i, d in enumerate(docs)]
    sep_sheets = sheets_by_doc[0] if has_sep else []
    body = sheets_by_doc[1:] if has_sep else sheets_by_doc
    single = rng.random() < 0.5
    if single and mode != "both":
        flat = [s for group in body for s in group]
        if rng.random() < 0.6:
            rng.shuffle(flat)
        if mode == "digital":
            return name + ".pdf", [_File(name + ".pdf", "pdf", sep_sheets + flat)]
        kind: FileKind = rng.choice(("image_pdf", "image_pdf", "tiff_g4", "tiff_lzw"))
        ext = ".pdf" if kind == "image_pdf" else rng.choice((".tif", ".tiff"))
        return name + ext, [_File(name + ext, kind, sep_sheets + flat)]
    naming = rng.choice(("scan_{:03d}", "{:02d}_document", "doc{:02d}", "IMG_{:04d}"))
    start = rng.randrange(1, 40) if naming.startswith("IMG") else 1
    files: list[_File] = []
    if rng.random() < 0.5:
        body = list(body)
        rng.shuffle(body)
    groups = ([sep_sheets] if sep_sheets else []) + body
    counter = start
    for group in groups:
        scanned = mode == "scanned" or (mode == "both" and rng.random() < 0.5)
        if group[0].spec.kind == "card" and mode != "digital" and rng.random() < 0.5:
            files.append(_File(naming.format(counter) + ".jpg", "photo", group))
            counter += 1
            continue
        if not scanned:
            files.append(_File(naming.format(counter) + ".pdf", "pdf", group))
            counter += 1
            continue
        kind = rng.choice(("image_pdf", "tiff_lzw", "tiff_g4", "png", "jpg"))
        if kind in ("png", "jpg"):
            for sheet in group:
                files.append(_File(naming.format(counter) + "." + kind, kind, [sheet]))
                counter += 1
        else:
            ext = ".pdf" if kind == "image_pdf" else ".tif"
            files.append(_File(naming.format(counter) + ext, kind, group))
            counter += 1
    return name, files


def _raster(specs: Sequence[PageSpec], dpi: int) -> list[np.ndarray]:
    """Render pages to uint8 grayscale arrays with pdfium."""
    pdf = pdfium.PdfDocument(pdf_bytes(specs))
    try:
        out = []
        for i in range(len(pdf)):
            page = pdf[i]
            bitmap = page.render(scale=dpi / 72.0, grayscale=True)
            arr = np.array(bitmap.to_pil().convert("L"))
            bitmap.close()
            page.close()
            out.append(arr)
        return out
    finally:
        pdf.close()


def _encode(
    file: _File, story_seed: int, dpi_override: int | None
) -> tuple[bytes, list[TruthPage]]:
    """Render one file's bytes; returns them with the file's truth pages (doc index filled)."""
    rng = random.Random(derive_seed(story_seed, 0, "scan/" + file.name))
    nrng = np.random.default_rng(derive_seed(story_seed, 1, "scan/" + file.name))
    specs = [s.spec for s in file.sheets]
    if file.kind == "pdf":
        digital = [
            TruthPage(
                file=file.name, page=i + 1, doc_type="other", document=s.doc, profile="digital"
            )
            for i, s in enumerate(file.sheets)
        ]
        return pdf_bytes(specs), digital
    if file.kind == "photo":
        spec = file.sheets[0].spec
        dpi = dpi_override or 300
        arr = _raster([spec], dpi)[0]
        x0, y0, x1, y1 = (
            int(v * dpi / 72.0) for v in spec.card_box or (0, 0, spec.size[0], spec.size[1])
        )
        card = np.repeat(arr[y0:y1, x0:x1, None], 3, axis=2)
        photo, effects = photograph_card(card, rng, nrng)
        buf = io.BytesIO()
        Image.fromarray(photo, "RGB").save(
            buf, "JPEG", quality=85, optimize=False, progressive=False
        )
        page = TruthPage(
            file=file.name,
            page=1,
            doc_type="other",
            document=file.sheets[0].doc,
            profile="scanned",
            dpi=None,
            degradations=effects,
        )
        return buf.getvalue(), [page]
    dpi = dpi_override or rng.choice((150, 200, 200, 240, 300))
    clean = _raster(specs, dpi)
    images: list[Image.Image] = []
    pages: list[TruthPage] = []
    for i, (arr, sheet) in enumerate(zip(clean, file.sheets, strict=True)):
        plan: ScanPlan = plan_scan(rng, dpi)
        if file.kind == "tiff_g4":
            plan = plan.model_copy(
                update={"jpeg_quality": None, "noise": min(plan.noise, 4.0), "faint": False}
            )
        out, effects = degrade_page(arr, plan, nrng)
        img = Image.fromarray(out, "L")
        if file.kind == "tiff_g4":
            img = img.point(lambda v: 255 if v > 150 else 0).convert("1", dither=Image.Dither.NONE)
            effects = [*effects, "binarized"]
        images.append(img)
        pages.append(
            TruthPage(
                file=file.name,
                page=i + 1,
                doc_type="other",
                document=sheet.doc,
                profile="scanned",
                rotation=plan.rotation,
                dpi=dpi,
                degradations=effects,
            )
        )
    buf = io.BytesIO()
    if file.kind == "image_pdf":
        images[0].save(
            buf,
            "PDF",
            save_all=True,
            append_images=images[1:],
            resolution=float(dpi),
            creationDate=_FIXED_TIME,
            modDate=_FIXED_TIME,
        )
    elif file.kind in ("tiff_g4", "tiff_lzw"):
        comp = "group4" if file.kind == "tiff_g4" else "tiff_lzw"
        images[0].save(
            buf, "TIFF", save_all=True, append_images=images[1:], compression=comp, dpi=(dpi, dpi)
        )
    elif file.kind == "png":
        images[0].save(buf, "PNG", dpi=(dpi, dpi), optimize=False)
    else:
        images[0].save(buf, "JPEG", quality=80, dpi=(dpi, dpi), optimize=False, progressive=False)
    return buf.getvalue(), pages


def _claim_fields(docs: list[RenderedDoc], story: Story) -> dict[str, TruthValue]:
    fields: dict[str, TruthValue] = {}
    for key in ("patient_name", "patient_dob", "member_id", "policy_number"):
        fields[key] = None
        for dt_name in _FIELD_PRIORITY:
            value = next(
                (d.fields.get(key) for d in docs if d.doc_type == dt_name and d.fields.get(key)),
                None,
            )
            if value:
                fields[key] = value
                break
    days = [li.service_date for d in docs for li in d.line_items if li.service_date]
    for d in docs:
        if d.doc_type == "medical_record":
            days += [
                v
                for k in ("visit_date", "admission_date", "discharge_date")
                if isinstance(v := d.fields.get(k), str)
            ]
    fields["service_date_from"] = min(days) if days else None
    fields["service_date_to"] = max(days) if days else None
    totals = [d.fields["total"] for d in docs if d.doc_type == "invoice"]
    fields["total_billed"] = (
        round(sum(float(t) for t in totals if t is not None), 2) if totals else None
    )
    return fields


def build_packet(
    seed: int,
    index: int,
    profile: CorpusProfile = "mixed",
    language: str = "en",
    dpi: int | None = None,
) -> PacketFiles:
    """Plan, draw, scan and describe packet `index`; touches no files. `dpi` forces one resolution (tests)."""
    if profile not in _PROFILES:
        raise ConfigError(f"synth profile {profile!r} is not known; valid: {list(_PROFILES)}")
    vocab = vocabulary(language)
    story = plan_packet(seed, index, language)
    rng = random.Random(derive_seed(seed, index, "arrange"))
    docs = _render_docs(story, seed, vocab)
    has_sep = profile != "digital" and rng.random() < SEPARATOR_RATE
    if has_sep:
        docs = [_separator(story, rng), *docs]
    name, files = _arrange(story, docs, profile, rng, has_sep)
    files.sort(key=lambda f: f.name)
    out_files: list[tuple[str, bytes]] = []
    pages: list[TruthPage] = []
    file_seed = derive_seed(seed, index, "files")
    for f in files:
        data, fpages = _encode(f, file_seed, dpi)
        for p in fpages:
            d = docs[p.document]
            pages.append(
                p.model_copy(
                    update={"doc_type": d.doc_type, "separator": d.layout.startswith("separator/")}
                )
            )
        out_files.append((f.name, data))
    placed: list[list[tuple[int, dict[str, str | int]]]] = [[] for _ in docs]
    for f in files:
        for i, s in enumerate(f.sheets):
            placed[s.doc].append((s.pos, {"file": f.name, "page": i + 1}))
    truth_docs = [
        TruthDocument(
            doc_type=d.doc_type,
            layout=d.layout,
            pages=[ref for _, ref in sorted(placed[k], key=lambda t: t[0])],
            fields=d.fields,
        )
        for k, d in enumerate(docs)
    ]
    line_items = [
        li.model_copy(update={"document": k}) for k, d in enumerate(docs) for li in d.line_items
    ]
    diagnoses: list[TruthDiagnosis] = []
    for d in docs:
        for code, desc in d.diagnoses:
            if all(x.code != code for x in diagnoses):
                diagnoses.append(TruthDiagnosis(code=code, description=desc))
    fields = _claim_fields(docs, story)
    present = {d.doc_type for d in docs}
    required = CHECKLISTS[story.claim_type]
    missing_docs = [t for t in required if t not in present]
    missing_fields = [
        f
        for f in REQUIRED_FIELDS
        if fields.get(f) is None
        and not (f == "total_billed" and story.claim_type == "critical_illness")
    ]
    if not diagnoses:
        missing_fields.append("diagnoses")
    truth = Truth(
        packet=name,
        seed=seed,
        profile=profile,
        language=language,
        claim_type=story.claim_type,
        claim_type_stated=story.claim_type_stated,
        pages=pages,
        documents=truth_docs,
        fields=fields,
        diagnoses=diagnoses,
        line_items=[TruthLineItem.model_validate(li.model_dump()) for li in line_items],
        completeness=TruthCompleteness(
            checklist=story.claim_type,
            complete=not missing_docs and not missing_fields,
            missing_documents=missing_docs,  # type: ignore[arg-type]
            missing_fields=missing_fields,
        ),
        fraud=TruthFraud(
            label=1 if story.fraud_patterns else 0, patterns=list(story.fraud_patterns)
        ),
        separator_barcode=story.packet_number if has_sep else None,
    )
    if not (len(files) == 1 and files[0].name == name):
        out_files = [(f"{name}/{fname}", data) for fname, data in out_files]
    return PacketFiles(name=name, files=out_files, truth=truth)


def _build(args: tuple[int, int, CorpusProfile, str, int | None]) -> PacketFiles:
    return build_packet(*args)


def generate_corpus(
    out_dir: Path,
    packets: int,
    seed: int,
    profile: CorpusProfile = "mixed",
    workers: int = 1,
    language: str = "en",
    dpi: int | None = None,
) -> list[Truth]:
    """Write `packets` packets to `out_dir/inbox/` and their truth to `out_dir/truth/<packet>.json`."""
    if packets < 0:
        raise ConfigError(f"packets must be >= 0, got {packets}")
    if profile not in _PROFILES:
        raise ConfigError(f"synth profile {profile!r} is not known; valid: {list(_PROFILES)}")
    vocabulary(language)
    inbox, truth_dir = out_dir / "inbox", out_dir / "truth"
    inbox.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(seed, i, profile, language, dpi) for i in range(packets)]
    truths: list[Truth] = []

    def write(pf: PacketFiles) -> None:
        for rel, data in pf.files:
            path = inbox / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        (truth_dir / f"{pf.name}.json").write_text(
            pf.truth.model_dump_json(indent=2) + "\n", encoding="utf-8"
        )
        truths.append(pf.truth)

    if workers > 1 and packets > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for pf in pool.map(_build, jobs, chunksize=2):
                write(pf)
    else:
        for job in jobs:
            write(_build(job))
    return truths
