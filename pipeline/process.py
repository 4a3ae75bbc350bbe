"""One packet from inbox files to a claim: the plain functions the Prefect flow wraps.

`load_resources` loads models once per batch; `process_packet` reads, classifies, splits,
extracts and checks one packet and returns its claim. Nothing here writes files.
"""

from __future__ import annotations

import hashlib
import logging
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from pipeline.assemble import (
    choose_claim_fields,
    completeness_flags,
    confidence_flags,
    decide_status,
    identity_flags,
    reconcile,
)
from pipeline.calibration import CALIBRATOR_FILE, ValueCalibrator, load_value_calibrator
from pipeline.checks.completeness import (
    Checklists,
    check_completeness,
    infer_claim_type,
    load_checklists,
)
from pipeline.classify.pages import PageClassifier, PageLabel, load_page_classifier
from pipeline.classify.separators import split_at_separators
from pipeline.classify.split import DocumentSpan, split_packet
from pipeline.classify.titles import load_titles
from pipeline.config import Settings
from pipeline.document import Page, ReadPacket
from pipeline.errors import ModelNotFoundError
from pipeline.extract import DocumentExtraction, build_nlp, extract_document, merge_diagnoses
from pipeline.extract.confidence import FEATURE_NAMES, Calibrator, ValueEvidence
from pipeline.extract.fields import FAILED_CHECK_CONFIDENCE
from pipeline.extract.icd10cm import load_table as load_icd_table
from pipeline.extract.repeated import find_member, find_repeated, packet_identity, same_name
from pipeline.extract.vocab import load_vocab
from pipeline.fraud.history import ClaimHistory
from pipeline.fraud.registry import RegisteredModel, load_model, score_claim
from pipeline.intake import PacketRead, read_stage
from pipeline.io.ingest import PacketRef
from pipeline.schema import (
    Claim,
    ClaimDocument,
    Diagnosis,
    ExtractedField,
    Flag,
    Fraud,
    LineItem,
    PacketInfo,
    PageRef,
    Source,
)

__all__ = [
    "Resources",
    "PacketResult",
    "load_resources",
    "claim_id_for",
    "process_packet",
    "understand",
    "classify_pages",
    "build_claim",
    "pipeline_version",
    "apply_fraud",
]

log = logging.getLogger(__name__)

PAGE_CLASSIFIER_FILE = "page_classifier.skops"


def pipeline_version() -> str:
    try:
        return version("claim-intake")
    except PackageNotFoundError:
        return "0+unknown"


@dataclass
class Resources:
    """What a batch loads once: settings, the spaCy pipeline, models, checklists."""

    settings: Settings
    nlp: Any
    page_classifier: PageClassifier
    checklists: Checklists
    fraud_model: RegisteredModel | None = None
    value_calibrator: ValueCalibrator | None = None


def load_resources(settings: Settings) -> Resources:
    fraud_model: RegisteredModel | None = None
    if not settings.score_fraud:
        log.info("fraud scoring is off (score_fraud = false); claims are written unscored")
    else:
        try:
            fraud_model = load_model(models_dir=settings.models_dir / "fraud")
        except ModelNotFoundError as exc:
            log.warning("no fraud model: %s; claims are written with fraud band 'unscored'", exc)
    # Read here, on the batch's loading thread, not by the first packet's first diagnosis.
    load_icd_table()
    calibrator = None
    if settings.calibrate_values:
        calibrator = load_value_calibrator(settings.models_dir / CALIBRATOR_FILE)
    return Resources(
        settings=settings,
        nlp=build_nlp(settings.language),
        page_classifier=load_page_classifier(settings.models_dir / PAGE_CLASSIFIER_FILE),
        checklists=load_checklists(settings.checklists),
        fraud_model=fraud_model,
        value_calibrator=calibrator,
    )


def calibrate_extraction(
    extraction: DocumentExtraction, pages: list[Page], calibrator: ValueCalibrator
) -> DocumentExtraction:
    """Replace extraction's raw scores by calibrated probabilities, by kind and page reader."""
    readers = {(p.file, p.page): p.reader for p in pages}

    def reader_of(source: Source | None) -> str:
        return readers.get((source.file, source.page), "ocr") if source else "ocr"

    validated = FEATURE_NAMES.index("validated")

    def field_confidence(name: str, value: ExtractedField) -> float:
        confidence = calibrator.calibrate("field", reader_of(value.source), value.confidence)
        evidence = extraction.evidence.get(f"fields.{name}")
        if evidence is not None and evidence.features[validated] == 0.0:
            # it failed its own check (an NPI's check digit): the calibrator's curve, fitted
            # on values that nearly all pass, must not make it look sure
            confidence = min(confidence, FAILED_CHECK_CONFIDENCE)
        return confidence

    fields = {
        name: value.model_copy(update={"confidence": field_confidence(name, value)})
        if value.value is not None
        else value
        for name, value in extraction.fields.items()
    }
    diagnoses = [
        d.model_copy(
            update={
                "confidence": calibrator.calibrate("diagnosis", reader_of(d.source), d.confidence)
            }
        )
        for d in extraction.diagnoses
    ]
    items = [
        i.model_copy(
            update={
                "confidence": calibrator.calibrate("line_item", reader_of(i.source), i.confidence)
            }
        )
        for i in extraction.line_items
    ]
    return extraction.model_copy(
        update={"fields": fields, "diagnoses": diagnoses, "line_items": items}
    )


def apply_fraud(claim: Claim, resources: Resources, history: ClaimHistory) -> Claim:
    """Score the claim against earlier claims; a high band sends it to an investigator."""
    if resources.fraud_model is None:
        claim.fraud = Fraud()
        claim.flags.append(
            Flag(
                code="FRAUD_UNSCORED",
                severity="info",
                message="no fraud model is installed (models/fraud/CURRENT) or scoring is off "
                "(score_fraud = false); the claim is not scored",
            )
        )
        return claim
    claim.fraud = score_claim(claim, history, resources.fraud_model)
    if claim.fraud.band == "high":
        claim.flags.append(
            Flag(
                code="FRAUD_RISK",
                field="fraud",
                severity="review",
                message=f"fraud score {claim.fraud.score:.2f} is in the high band; refer to investigation",
            )
        )
    claim.status = decide_status(claim.completeness, claim.flags)  # type: ignore[assignment]
    return claim


def claim_id_for(packet_sha: str) -> str:
    """Same packet bytes, same id: a prefix of the packet hash, readable in file names."""
    return "clm-" + hashlib.sha256(f"claim-intake/1:{packet_sha}".encode()).hexdigest()[:24]


@dataclass
class PacketResult:
    """The claims of one packet: one, or one per separator sheet of a batch-scan file."""

    claims: list[Claim]
    pages: int
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def claim(self) -> Claim:
        """The packet's claim when it holds one packet (the usual case)."""
        return self.claims[0]


def classify_pages(read: ReadPacket, classifier: PageClassifier) -> list[PageLabel]:
    """Each page's type: the classifier's scores, weighed by a title heading the page."""
    from pipeline.classify.titles import load_blank_notices, says_blank, weigh_titles

    labels = classifier.label(read.pages)
    labels = weigh_titles(read.pages, labels, read.language, classifier.min_confidence)
    notices = load_blank_notices(read.language)
    for index, page in enumerate(read.pages):
        # A barcode cover sheet is mailroom paper, not a claim document; nor is a sheet
        # printed to say it is empty.
        if (page.barcodes and len(page.words) <= 12) or says_blank(page, notices):
            labels[index] = PageLabel(
                doc_type="other", confidence=0.99, scores=labels[index].scores
            )
    return labels


_READING_NOTES = ("OCR used", "resolution not recorded", "text layer has fewer pages")


def _is_reading_note(warning: str) -> bool:
    """How a page was read (OCR instead of a text layer, an assumed DPI) is worth knowing,
    not worth an adjuster's time; a page that could not be read is."""
    return warning.startswith(_READING_NOTES) or "; OCR used" in warning


_KNOWN_IDENTITY = 0.5
"""How sure one document's identity value must be to be looked for on the others: a find
is a second, independent reading of the same string, so more than even odds will do."""


def _fill_repeated(
    read: ReadPacket,
    spans: list[DocumentSpan],
    extractions: list[DocumentExtraction],
    resources: Resources,
) -> list[DocumentExtraction]:
    """Identity fields a document left missing but prints as the other documents agree."""
    vocab = load_vocab(read.language)
    known = packet_identity(
        [(e.doc_type, e.fields) for e in extractions],
        vocab,
        _KNOWN_IDENTITY,
    )
    if not known:
        return extractions
    out: list[DocumentExtraction] = []
    for span, extraction in zip(spans, extractions, strict=True):
        pages = [read.pages[pos] for pos in span.pages]
        found, evidence = find_repeated(
            span.doc_type, pages, extraction.fields, known, vocab, Calibrator()
        )
        out.append(_with_found(extraction, found, evidence, pages, resources))
    return out


def _with_found(
    extraction: DocumentExtraction,
    found: dict[str, ExtractedField],
    evidence: dict[str, ValueEvidence],
    pages: list[Page],
    resources: Resources,
) -> DocumentExtraction:
    """`extraction` with the fields found after it (raw scores, calibrated here) put in."""
    if not found:
        return extraction
    filled = DocumentExtraction(doc_type=extraction.doc_type, fields=found, evidence=evidence)
    if resources.value_calibrator is not None:
        filled = calibrate_extraction(filled, pages, resources.value_calibrator)
    return extraction.model_copy(
        update={
            "fields": {**extraction.fields, **filled.fields},
            "evidence": {**extraction.evidence, **evidence},
        }
    )


def _card_member(
    read: ReadPacket,
    spans: list[DocumentSpan],
    extractions: list[DocumentExtraction],
    resources: Resources,
) -> list[DocumentExtraction]:
    """A family's card read as the subscriber's, where the claim form names another member
    the card lists: the card's patient is that member's row."""
    forms = [
        e.fields["patient_name"]
        for e in extractions
        if e.doc_type == "claim_form" and e.fields.get("patient_name") is not None
    ]
    named = {str(f.value) for f in forms if f.value is not None and f.confidence >= _KNOWN_IDENTITY}
    if len(named) != 1:
        return extractions
    patient = named.pop()
    vocab = load_vocab(read.language)
    out: list[DocumentExtraction] = []
    for span, extraction in zip(spans, extractions, strict=True):
        held = extraction.fields.get("patient_name")
        if (
            extraction.doc_type != "id_document"
            or held is None
            or held.value is None
            or same_name(str(held.value), patient)
        ):
            out.append(extraction)
            continue
        pages = [read.pages[pos] for pos in span.pages]
        found, evidence = find_member(pages, patient, vocab, Calibrator())
        out.append(_with_found(extraction, found, evidence, pages, resources))
    return out


def build_claim(
    read: ReadPacket,
    labels: list[PageLabel],
    resources: Resources,
    claim_id: str,
) -> Claim:
    """Everything after reading: split, extract, merge, check, flag."""
    settings = resources.settings
    thresholds = settings.review
    spans = split_packet(
        read.pages,
        labels,
        load_vocab(read.language).provider_words,
        load_titles(read.language),
    )
    documents: list[ClaimDocument] = []
    diagnosis_lists: list[list[Diagnosis]] = []
    line_items: list[LineItem] = []
    flags: list[Flag] = []
    extractions: list[DocumentExtraction] = []
    for span in spans:
        pages = [read.pages[pos] for pos in span.pages]
        extraction = extract_document(span.doc_type, pages, resources.nlp)
        if resources.value_calibrator is not None:
            extraction = calibrate_extraction(extraction, pages, resources.value_calibrator)
        extractions.append(extraction)
    extractions = _fill_repeated(read, spans, extractions, resources)
    extractions = _card_member(read, spans, extractions, resources)
    for index, (span, extraction) in enumerate(zip(spans, extractions, strict=True)):
        documents.append(
            ClaimDocument(
                doc_type=span.doc_type,  # type: ignore[arg-type]
                confidence=round(span.confidence, 4),
                pages=[
                    PageRef(file=read.pages[pos].file, page=read.pages[pos].page)
                    for pos in span.pages
                ],
                fields=extraction.fields,
            )
        )
        diagnosis_lists.append(extraction.diagnoses)
        for draft in extraction.line_items:
            line_items.append(LineItem(document=index, **draft.model_dump()))

    for page in read.pages:
        for warning in page.warnings:
            note = _is_reading_note(warning)
            flags.append(
                Flag(
                    code="PAGE_READ_NOTE" if note else "PAGE_READ_PROBLEM",
                    field=None,
                    severity="info" if note else "review",
                    message=f"{page.file} page {page.page}: {warning}",
                )
            )
        if page.blank:
            flags.append(
                Flag(
                    code="BLANK_PAGE",
                    severity="info",
                    message=f"{page.file} page {page.page} is blank",
                )
            )

    diagnoses = merge_diagnoses(diagnosis_lists)
    fields = choose_claim_fields(documents, line_items, thresholds)
    reconciliation, reconcile_flags = reconcile(documents, line_items, fields, thresholds)
    flags.extend(reconcile_flags)
    flags.extend(identity_flags(documents))

    stated = next(
        (d.fields.get("claim_type") for d in documents if d.doc_type == "claim_form"),
        None,
    )
    doc_types = [d.doc_type for d in documents]
    has_admission = any(
        d.fields.get(name) is not None and d.fields[name].value is not None
        for d in documents
        for name in ("admission_date", "discharge_date")
    )
    claim_type = infer_claim_type(
        stated=stated,
        doc_types=doc_types,
        has_admission_dates=has_admission,
        diagnoses=diagnoses,
    )
    if claim_type.value is not None and (stated is None or stated.value is None):
        flags.append(
            Flag(
                code="CLAIM_TYPE_INFERRED",
                field="claim_type",
                severity="info",
                message=f"claim type not ticked on a claim form; inferred as {claim_type.value}",
            )
        )
    completeness = check_completeness(
        claim_type=str(claim_type.value or "outpatient"),
        present_doc_types=set(doc_types),
        fields=fields,
        diagnoses=diagnoses,
        checklists=resources.checklists,
        language=settings.language,
    )
    flags.extend(completeness_flags(completeness))
    flags.extend(confidence_flags(fields, documents, diagnoses, line_items, claim_type, thresholds))
    claim = Claim(
        claim_id=claim_id,
        packet=PacketInfo(
            source=read.source,
            sha256=read.sha256,
            files=[f.name for f in read.files],
            page_count=len(read.pages),
            separator_barcode=next((b for p in read.pages for b in p.barcodes), None),
        ),
        language=settings.language,
        currency=settings.currency,
        claim_type=claim_type,
        documents=documents,
        fields=fields,
        diagnoses=diagnoses,
        line_items=line_items,
        reconciliation=reconciliation,
        completeness=completeness,
        flags=flags,
        pipeline_version=pipeline_version(),
    )
    claim.status = decide_status(completeness, claim.flags)  # type: ignore[assignment]
    return claim


def process_packet(
    ref: PacketRef,
    resources: Resources,
    executor: Executor | None = None,
    inbox: Path | None = None,
    sha256: str | None = None,
) -> PacketResult:
    """Read and understand one packet. Raises UnreadablePacketError subclasses to quarantine it.

    `sha256`: the packet hash if the caller computed it (the batch does, for the ledger).
    """
    return understand(read_stage(ref, resources.settings, executor, inbox, sha256), resources)


def understand(packet: PacketRead, resources: Resources) -> PacketResult:
    """Classify, split, extract and check a read packet: one claim, or one per separator sheet."""
    read, checked, sha = packet.read, packet.checked, packet.sha256
    timings = dict(packet.seconds)
    settings = resources.settings
    start = time.perf_counter()
    parts = split_at_separators(read.pages, settings.reading.barcode_max_words)
    claims: list[Claim] = []
    for number, part in enumerate(parts, start=1):
        part_read = read if len(parts) == 1 else _part_of(read, part.pages)
        labels = classify_pages(part_read, resources.page_classifier)
        claim_id = claim_id_for(sha if len(parts) == 1 else f"{sha}#part{number}")
        claim = build_claim(part_read, labels, resources, claim_id)
        # The number of the packet's own cover sheet; a barcode printed on a document
        # (an invoice's, a label's) is not a separator.
        claim.packet.separator_barcode = part.barcode
        if len(parts) > 1:
            claim.packet.part = number
            claim.packet.parts = len(parts)
        for note in part.notes:
            claim.flags.append(Flag(code="EMPTY_SEPARATOR", severity="info", message=note))
        for rejected in checked.rejected:
            claim.flags.append(
                Flag(
                    code="FILE_REJECTED",
                    field="packet.files",
                    severity="review",
                    message=f"{rejected.name} could not be read and was left out: {rejected.reason}",
                )
            )
        claim.status = decide_status(claim.completeness, claim.flags)  # type: ignore[assignment]
        claim.processed_at = datetime.now(UTC).isoformat(timespec="seconds")
        claims.append(claim)
    timings["understand"] = time.perf_counter() - start
    return PacketResult(claims=claims, pages=len(read.pages), seconds=timings)


def _part_of(read: ReadPacket, pages: list[Page]) -> ReadPacket:
    """One packet of a batch-scan file: its pages, and only the files they come from."""
    names = {page.file for page in pages}
    return read.model_copy(
        update={"pages": pages, "files": [f for f in read.files if f.name in names]}
    )
