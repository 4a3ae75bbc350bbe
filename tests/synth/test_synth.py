"""Tests of the synthetic corpus generator: determinism, honest truth, files that open."""

from __future__ import annotations

import datetime as dt
import io
import random
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest
import simple_icd_10_cm as icd
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from pipeline.errors import ConfigError
from pipeline.synth import build_packet, generate_corpus
from pipeline.synth.degrade import ScanPlan, degrade_page
from pipeline.synth.entities import billing_codes, make_npi, npi_check_digit, npi_is_valid
from pipeline.synth.plan import CHECKLISTS, FRAUD_PATTERNS, plan_packet
from pipeline.synth.vocab import format_date, format_money, vocabulary
from pipeline.truth import Truth

TEST_DPI = 72


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Truth]]:
    out = tmp_path_factory.mktemp("corpus")
    truths = generate_corpus(out, 10, seed=21, profile="mixed", dpi=TEST_DPI)
    return out, truths


def _file_pages(path: Path) -> int:
    data = path.read_bytes()
    if data.startswith(b"%PDF"):
        pdf = pdfium.PdfDocument(data)
        try:
            return len(pdf)
        finally:
            pdf.close()
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return getattr(im, "n_frames", 1)


def _pdf_text(data: bytes) -> str:
    pdf = pdfium.PdfDocument(data)
    try:
        out = []
        for i in range(len(pdf)):
            tp = pdf[i].get_textpage()
            out.append(tp.get_text_range())
            tp.close()
        return "\n".join(out)
    finally:
        pdf.close()


def test_corpus_same_seed_same_bytes(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    generate_corpus(a, 3, seed=5, profile="mixed", dpi=TEST_DPI)
    generate_corpus(b, 3, seed=5, profile="mixed", dpi=TEST_DPI, workers=2)
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b and files_a
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_corpus_packet_independent_of_corpus_size() -> None:
    first = build_packet(9, 2, "scanned", dpi=TEST_DPI)
    plan_packet.cache_clear()
    again = build_packet(9, 2, "scanned", dpi=TEST_DPI)
    assert first.files == again.files
    assert first.truth == again.truth
    assert build_packet(10, 2, "scanned", dpi=TEST_DPI).files != first.files


def test_corpus_writes_inbox_and_truth(corpus: tuple[Path, list[Truth]]) -> None:
    out, truths = corpus
    assert len(truths) == 10
    for t in truths:
        assert (out / "inbox" / t.packet).exists()
        saved = Truth.model_validate_json((out / "truth" / f"{t.packet}.json").read_text())
        assert saved == t


def test_corpus_pages_match_files(corpus: tuple[Path, list[Truth]]) -> None:
    out, truths = corpus
    for t in truths:
        root = out / "inbox" / t.packet
        files = [root] if root.is_file() else sorted(p for p in root.iterdir() if p.is_file())
        names = [p.name for p in files]
        listed = [(p.file, p.page) for p in t.pages]
        expected = [(f.name, i + 1) for f in files for i in range(_file_pages(f))]
        assert listed == expected, t.packet
        assert sorted({p.file for p in t.pages}) == sorted(names)
        # every page belongs to exactly one document, and documents list the same pages
        doc_refs = sorted((str(r["file"]), int(r["page"])) for d in t.documents for r in d.pages)
        assert doc_refs == sorted(listed)
        for p in t.pages:
            assert t.documents[p.document].doc_type == p.doc_type


def test_corpus_truth_codes_are_real(corpus: tuple[Path, list[Truth]]) -> None:
    _, truths = corpus
    known = {(c.code, c.code_system) for c in billing_codes()}
    for t in truths:
        for d in t.diagnoses:
            assert icd.is_valid_item(d.code) and icd.is_leaf(d.code), d.code
            assert d.description == icd.get_description(d.code)
        for doc in t.documents:
            if doc.doc_type == "invoice":
                assert npi_is_valid(str(doc.fields["provider_npi"]))
        for li in t.line_items:
            assert (li.code, li.code_system) in known
            assert t.documents[li.document].doc_type == "invoice"


def test_corpus_totals_add_up_unless_mismatch(corpus: tuple[Path, list[Truth]]) -> None:
    _, truths = corpus
    for t in truths:
        totals = []
        for k, doc in enumerate(t.documents):
            if doc.doc_type != "invoice":
                continue
            items = [li for li in t.line_items if li.document == k]
            assert items
            total = float(doc.fields["total"])  # type: ignore[arg-type]
            totals.append(total)
            line_sum = round(sum(li.amount or 0.0 for li in items), 2)
            if "total_mismatch" not in t.fraud.patterns:
                assert line_sum == pytest.approx(total, abs=0.005), t.packet
        if totals:
            assert t.fields["total_billed"] == pytest.approx(round(sum(totals), 2))
        else:
            assert t.fields["total_billed"] is None


def test_corpus_digital_invoice_text_holds_number(corpus: tuple[Path, list[Truth]]) -> None:
    out, truths = corpus
    checked = 0
    for t in truths:
        for doc in t.documents:
            if doc.doc_type != "invoice":
                continue
            ref = doc.pages[0]
            page = next(p for p in t.pages if (p.file, p.page) == (ref["file"], ref["page"]))
            if page.profile != "digital":
                continue
            root = out / "inbox" / t.packet
            path = root if root.is_file() else root / str(ref["file"])
            text = _pdf_text(path.read_bytes())
            assert str(doc.fields["invoice_number"]) in text
            assert str(doc.fields["provider_npi"]) in text
            checked += 1
    assert checked > 0


def test_corpus_completeness_follows_checklist(corpus: tuple[Path, list[Truth]]) -> None:
    _, truths = corpus
    for t in truths:
        present = {d.doc_type for d in t.documents}
        required = CHECKLISTS[t.claim_type]
        assert t.completeness.missing_documents == [d for d in required if d not in present]
        for f in ("patient_name", "patient_dob", "member_id", "policy_number"):
            assert (f in t.completeness.missing_fields) == (t.fields[f] is None)
        assert ("diagnoses" in t.completeness.missing_fields) == (not t.diagnoses)
        assert t.completeness.complete == (
            not t.completeness.missing_documents and not t.completeness.missing_fields
        )


def test_plan_rates_and_honest_non_fraud() -> None:
    stories = [plan_packet(77, i) for i in range(200)]
    fraud = [s for s in stories if s.fraud_patterns]
    assert 0.12 <= len(fraud) / len(stories) <= 0.30
    assert {p for s in fraud for p in s.fraud_patterns} <= set(FRAUD_PATTERNS)
    incomplete = [
        s
        for s in stories
        if any(d not in s.doc_types for d in CHECKLISTS[s.claim_type])
        or None in s.identities["claim_form"].model_dump().values()
    ]
    assert 0.07 <= len(incomplete) / len(stories) <= 0.25
    for s in stories:
        if s.fraud_patterns:
            continue
        days = [li.service_date for inv in s.invoices for li in inv.lines]
        days += [d for d in (s.visit_date, s.admission_date, s.discharge_date) if d]
        assert s.policy.effective <= min(days)
        assert len({s.identities[d] for d in s.doc_types}) == 1
        for inv in s.invoices:
            assert round(sum(li.amount for li in inv.lines), 2) == inv.printed_total
            for li in inv.lines:
                assert li.unit_price <= 2.0 * li.code.typical_price + 0.01
                if li.code.code.startswith("99"):
                    assert li.quantity == 1
        for d in s.diagnoses:
            if d.code.startswith(("O", "Z3")):
                assert s.patient.sex == "F"
            if d.code in ("C61", "N40.0", "N41.0"):
                assert s.patient.sex == "M"


def test_plan_fraud_patterns_are_visible() -> None:
    stories = [plan_packet(78, i) for i in range(300)]
    seen: set[str] = set()
    for s in stories:
        for p in s.fraud_patterns:
            seen.add(p)
            if p == "inflated_amount":
                assert any(li.unit_price >= 3 * li.code.typical_price for li in s.invoices[0].lines)
            if p == "total_mismatch":
                inv = s.invoices[0]
                assert abs(sum(li.amount for li in inv.lines) - inv.printed_total) >= 1.0
            if p == "implausible_units":
                assert any(
                    li.quantity >= 15 for li in s.invoices[0].lines if li.code.code.startswith("99")
                )
            if p == "service_before_policy":
                assert "claim_form" in s.doc_types
            if p == "identity_mismatch":
                assert len({s.identities[d] for d in s.doc_types}) > 1
                form = s.identities["claim_form"]
                for d in s.doc_types:
                    if s.identities[d].dob != form.dob:  # an id card may not print a DOB
                        assert d in ("invoice", "medical_record", "diagnosis_certificate")
            if p == "duplicate_invoice":
                others = [o for o in stories[: s.index] if o.invoices]
                assert any(o.invoices[0] == s.invoices[0] for o in others)
    assert seen == set(FRAUD_PATTERNS)


def test_entities_npi_known_and_generated() -> None:
    assert npi_check_digit("123456789") == "3"  # CMS's published example 1234567893
    assert npi_is_valid("1234567893") and not npi_is_valid("1234567890")
    rng = random.Random(1)
    assert all(npi_is_valid(make_npi(rng)) for _ in range(200))


@given(st.text(alphabet="0123456789", min_size=9, max_size=9), st.integers(0, 8))
def test_entities_npi_detects_single_digit_errors(base: str, pos: int) -> None:
    npi = base + npi_check_digit(base)
    wrong = str((int(npi[pos]) + 1) % 10)
    assert not npi_is_valid(npi[:pos] + wrong + npi[pos + 1 :])


def test_vocab_formats_dates_and_money() -> None:
    v = vocabulary("en")
    day = dt.date(2026, 3, 2)
    printed = {format_date(day, f, v) for f in v.date_formats}
    assert printed == {"03/02/2026", "2026-03-02", "Mar 2, 2026", "02-Mar-2026", "March 2, 2026"}
    assert {format_money(1234.5, f) for f in v.money_formats} == {
        "$1,234.50",
        "1234.50",
        "USD 1,234.50",
        "1,234.50",
    }
    with pytest.raises(ConfigError, match="valid"):
        vocabulary("xx")


def test_corpus_rejects_unknown_profile(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="digital"):
        generate_corpus(tmp_path, 1, seed=1, profile="photo")  # type: ignore[arg-type]


def test_degrade_rotation_and_names() -> None:
    page = np.full((200, 100), 255, np.uint8)
    page[20:40, 10:90] = 0
    plan = ScanPlan(
        dpi=100,
        rotation=90,
        skew=1.5,
        noise=5.0,
        blur=True,
        jpeg_quality=50,
        faint=False,
        speckle=True,
        border=True,
    )
    out, effects = degrade_page(page, plan, np.random.default_rng(0))
    assert out.shape == (100, 200) and out.dtype == np.uint8
    assert "rotate:90" in effects and "skew:+1.50" in effects and "jpeg:50" in effects
    # content turned clockwise: the dark bar near the top now sits near the right edge
    assert out[:, 150:190].mean() < out[:, 10:50].mean()
