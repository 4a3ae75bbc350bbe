"""Train the page classifier on a synthetic corpus read by the real reading layer.

`make models` runs `python -m pipeline.classify.train`: it writes a fresh corpus, reads
every page exactly as `claim-intake run` would (text layer or OCR), trains on one split,
measures on the other, then refits on all pages and saves the model with its card.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import random
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from pipeline.classify.pages import PageClassifier, save_page_classifier
from pipeline.document import Line, Page, Word
from pipeline.io.ingest import discover_packets, open_packet
from pipeline.reading.ocr import init_ocr_worker
from pipeline.reading.reader import ReadingConfig, read_packet
from pipeline.truth import Truth

__all__ = ["LabelledPage", "read_corpus_pages", "ocr_noise", "train_page_classifier", "main"]


class LabelledPage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page: Page
    doc_type: str
    profile: str
    packet: str


def read_corpus_pages(corpus: Path, workers: int = 2) -> list[LabelledPage]:
    """Every page of a synth corpus, read by the pipeline's reader, with its true type.

    Reading (OCR) is the slow part, so the result is kept in `corpus/read_pages.jsonl`
    and reused while the corpus's truth files are older than it.
    """
    cache = corpus / "read_pages.jsonl"
    truth_files = sorted((corpus / "truth").glob("*.json"))
    if cache.is_file() and all(p.stat().st_mtime <= cache.stat().st_mtime for p in truth_files):
        with cache.open() as handle:
            return [LabelledPage.model_validate_json(line) for line in handle if line.strip()]
    labelled = _read_corpus_pages(corpus, workers)
    with cache.open("w") as handle:
        for item in labelled:
            handle.write(item.model_dump_json() + "\n")
    return labelled


def _read_corpus_pages(corpus: Path, workers: int) -> list[LabelledPage]:
    truths = {
        t.packet: t
        for t in (
            Truth.model_validate_json(p.read_text())
            for p in sorted((corpus / "truth").glob("*.json"))
        )
    }
    labelled: list[LabelledPage] = []
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=init_ocr_worker) as pool:
        for ref in discover_packets(corpus / "inbox"):
            truth = truths.get(ref.name)
            if truth is None:
                continue
            read = read_packet(ref, open_packet(ref), ReadingConfig(), executor=pool)
            by_ref = {(p.file, p.page): p for p in truth.pages}
            for page in read.pages:
                truth_page = by_ref.get((page.file, page.page))
                if truth_page is None:
                    continue
                labelled.append(
                    LabelledPage(
                        page=page,
                        doc_type=truth_page.doc_type,
                        profile=truth_page.profile,
                        packet=ref.name,
                    )
                )
    return labelled


_CONFUSIONS = {
    "0": "O",
    "O": "0",
    "1": "l",
    "l": "1",
    "5": "S",
    "S": "5",
    "8": "B",
    "e": "c",
    "m": "rn",
}


def ocr_noise(page: Page, rng: random.Random, rate: float = 0.04) -> Page:
    """A copy of a clean page with OCR-like damage: confusions, dropped and split words."""
    lines = []
    for line in page.lines:
        words = []
        for word in line.words:
            if rng.random() < rate / 2:
                continue
            text = "".join(
                _CONFUSIONS.get(ch, ch) if rng.random() < rate else ch for ch in word.text
            )
            confidence = max(0.05, min(1.0, word.confidence - rng.random() * 0.3))
            words.append(Word(text=text or word.text, confidence=confidence, bbox=word.bbox))
        if words:
            lines.append(Line.from_words(words))
    return page.model_copy(update={"lines": lines, "reader": "ocr"})


def _packet_split(labelled: list[LabelledPage], seed: int) -> tuple[set[str], set[str]]:
    packets = sorted({p.packet for p in labelled})
    random.Random(seed).shuffle(packets)
    cut = max(1, int(len(packets) * 0.75))
    return set(packets[:cut]), set(packets[cut:])


PHRASES_DIR = Path(__file__).resolve().parents[1] / "data" / "classify"


def phrase_pages(
    language: str = "en", per_type: int = 40, seed: int = 0
) -> tuple[list[Page], list[str]]:
    """Pseudo-pages made of phrases real documents of each type print (data/classify/<lang>.yaml)."""
    import yaml

    path = PHRASES_DIR / f"{language}.yaml"
    phrases: dict[str, list[str]] = yaml.safe_load(path.read_text())
    rng = random.Random(seed)
    pages: list[Page] = []
    labels: list[str] = []
    for doc_type, options in sorted(phrases.items()):
        for index in range(per_type):
            chosen = rng.sample(options, k=min(len(options), rng.randint(4, 10)))
            lines = []
            for row, text in enumerate(chosen):
                x, y = 0.08 + rng.random() * 0.3, 0.06 + row * (0.85 / max(1, len(chosen)))
                words, cursor = [], x
                for token in text.split():
                    width = 0.011 * len(token)
                    words.append(
                        Word(
                            text=token,
                            confidence=0.97,
                            bbox=(cursor, y, min(1.0, cursor + width), y + 0.015),
                        )
                    )
                    cursor += width + 0.008
                lines.append(Line.from_words(words))
            pages.append(
                Page(
                    file=f"phrases-{doc_type}",
                    page=index + 1,
                    width=612,
                    height=792,
                    reader="text_layer",
                    lines=lines,
                )
            )
            labels.append(doc_type)
    return pages, labels


def _augment(pages: list[LabelledPage], seed: int) -> tuple[list[Page], list[str]]:
    rng = random.Random(seed)
    x: list[Page] = []
    y: list[str] = []
    for item in pages:
        x.append(item.page)
        y.append(item.doc_type)
        if item.profile == "digital" and item.page.words:
            x.append(ocr_noise(item.page, rng))
            y.append(item.doc_type)
    return x, y


class TrainingReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str
    trained_at: str
    corpus_seed: int
    packets: int
    pages: int
    class_counts: dict[str, int]
    heldout_pages: int
    heldout_accuracy: float
    heldout_accuracy_digital: float | None
    heldout_accuracy_scanned: float | None
    data_sha256: str


def _accuracy(model: PageClassifier, items: list[LabelledPage]) -> float | None:
    if not items:
        return None
    predicted = model.predict([i.page for i in items])
    return float(sum(p == i.doc_type for p, i in zip(predicted, items, strict=True)) / len(items))


def train_page_classifier(
    labelled: list[LabelledPage], seed: int
) -> tuple[PageClassifier, TrainingReport]:
    train_packets, test_packets = _packet_split(labelled, seed)
    train = [p for p in labelled if p.packet in train_packets]
    test = [p for p in labelled if p.packet in test_packets]
    x, y = _augment(train, seed)
    extra_x, extra_y = phrase_pages(seed=seed)
    probe = PageClassifier().fit(x + extra_x, y + extra_y)
    overall = _accuracy(probe, test) or 0.0
    digital = _accuracy(probe, [t for t in test if t.profile == "digital"])
    scanned = _accuracy(probe, [t for t in test if t.profile == "scanned"])
    x_all, y_all = _augment(labelled, seed)
    model = PageClassifier().fit(x_all + extra_x, y_all + extra_y)
    digest = hashlib.sha256(
        "\n".join(f"{p.packet}|{p.page.file}|{p.page.page}|{p.doc_type}" for p in labelled).encode()
    ).hexdigest()
    report = TrainingReport(
        version=datetime.now(UTC).strftime("%Y.%m.%d"),
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        corpus_seed=seed,
        packets=len({p.packet for p in labelled}),
        pages=len(labelled),
        class_counts=dict(sorted(Counter(p.doc_type for p in labelled).items())),
        heldout_pages=len(test),
        heldout_accuracy=round(overall, 4),
        heldout_accuracy_digital=None if digital is None else round(digital, 4),
        heldout_accuracy_scanned=None if scanned is None else round(scanned, 4),
        data_sha256=digest,
    )
    return model, report


def write_card(report: TrainingReport, path: Path) -> Path:
    lines = [
        "# Page classifier",
        "",
        "Logistic regression over word (1-2)-grams, character (3-5)-grams and eight layout",
        "features of a page (`pipeline/classify/pages.py`). Pages below 0.45 probability are",
        "labelled `other`. Saved with skops; loaded with a trusted-type allow-list.",
        "",
        "## Data",
        "",
        f"- synthetic corpus `claim-intake synth --seed {report.corpus_seed}`: {report.packets} packets, "
        f"{report.pages} pages, read by the pipeline's own reader (text layer or Tesseract)",
        "- digital pages are also added once with simulated OCR damage",
        "- plus 40 pseudo-pages per type made of phrases real documents print",
        "  (`pipeline/data/classify/en.yaml`: CMS-1500, UB-04, itemized bills, ID cards, APS, ...)",
        f"- class counts: {json.dumps(report.class_counts)}",
        f"- data sha256: `{report.data_sha256}`",
        "",
        "## Metrics (held-out 25 % of packets, model fitted on the other 75 %)",
        "",
        f"- pages: {report.heldout_pages}",
        f"- accuracy: {report.heldout_accuracy:.4f}",
        f"- accuracy, digital pages: {report.heldout_accuracy_digital}",
        f"- accuracy, scanned pages: {report.heldout_accuracy_scanned}",
        "",
        "The shipped model is then refitted on all pages.",
        "",
        "## Limits",
        "",
        "Trained on synthetic US-English documents only; real layouts outside that variety",
        "may land in `other` or get a low confidence, which sends the document to review.",
        "",
        f"Version {report.version}, trained {report.trained_at}.",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="train the page classifier")
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--packets", type=int, default=160)
    parser.add_argument("--seed", type=int, default=1001)
    parser.add_argument("--models", type=Path, default=Path("models"))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    from pipeline.synth import generate_corpus

    if not (args.corpus / "truth").is_dir():
        generate_corpus(
            args.corpus, packets=args.packets, seed=args.seed, profile="mixed", workers=args.workers
        )
    labelled = read_corpus_pages(args.corpus, workers=args.workers)
    model, report = train_page_classifier(labelled, seed=args.seed)
    args.models.mkdir(parents=True, exist_ok=True)
    save_page_classifier(model, args.models / "page_classifier.skops")
    (args.models / "page_classifier.card.json").write_text(report.model_dump_json(indent=2) + "\n")
    write_card(report, args.models / "page_classifier.card.md")
    print(report.model_dump_json(indent=2))


if __name__ == "__main__":
    main()
