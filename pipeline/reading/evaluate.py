"""Score the reading stage against synthetic ground truth, page by page.

For each page of a `synth` folder (inbox/ + truth/): did the reader pick the right path
(text layer for digital pages, OCR for scans), turn scans upright, find the separator
barcode; and do the documents' text fields appear verbatim in the text read. Run:
`python -m pipeline.reading.evaluate sample_docs --workers 2`.
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from pipeline.io.ingest import discover_packets, open_packet
from pipeline.reading.ocr import init_ocr_worker
from pipeline.reading.reader import ReadingConfig, read_packet
from pipeline.truth import Truth

__all__ = ["ReadingScore", "score_reading", "main"]

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class ReadingScore(BaseModel):
    model_config = ConfigDict(extra="forbid")

    packets: int = 0
    pages: int = 0
    reader_correct: int = 0
    scans: int = 0
    rotation_correct: int = 0
    separators: int = 0
    barcodes_found: int = 0
    field_strings: dict[str, list[int]] = Field(
        default_factory=dict, description="profile -> [found verbatim, total]"
    )
    seconds: float = 0.0
    misses: list[str] = Field(
        default_factory=list, description="packet/file/page and what was wrong"
    )


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def score_reading(
    root: Path, config: ReadingConfig | None = None, executor: Executor | None = None
) -> ReadingScore:
    config = config or ReadingConfig()
    score = ReadingScore()
    for ref in discover_packets(root / "inbox"):
        truth = Truth.model_validate_json(
            (root / "truth" / f"{ref.name}.json").read_text(encoding="utf-8")
        )
        started = time.perf_counter()
        read = read_packet(ref, open_packet(ref), config, executor=executor)
        score.seconds += time.perf_counter() - started
        score.packets += 1
        truth_pages = {(p.file, p.page): p for p in truth.pages}
        read_pages = {(p.file, p.page): p for p in read.pages}
        for page in read.pages:
            expected = truth_pages.get((page.file, page.page))
            if expected is None:
                score.misses.append(f"{ref.name}/{page.file}#{page.page}: not in truth")
                continue
            score.pages += 1
            where = f"{ref.name}/{page.file}#{page.page}"
            if expected.separator:
                score.separators += 1
                if truth.separator_barcode in page.barcodes:
                    score.barcodes_found += 1
                else:
                    score.misses.append(f"{where}: separator barcode not read")
                score.reader_correct += page.reader != "none"
                continue
            wanted = "text_layer" if expected.profile == "digital" else "ocr"
            if page.reader == wanted:
                score.reader_correct += 1
            else:
                score.misses.append(f"{where}: read by {page.reader}, expected {wanted}")
            if expected.profile == "scanned":
                score.scans += 1
                # Truth records how the page was turned; either sense of the turn is accepted.
                turns = {expected.rotation % 360, (360 - expected.rotation) % 360}
                if page.rotation in turns:
                    score.rotation_correct += 1
                else:
                    score.misses.append(
                        f"{where}: turned {page.rotation}, truth rotation {expected.rotation}"
                    )
        for doc in truth.documents:
            keys = [(str(p["file"]), int(p["page"])) for p in doc.pages]
            text = _norm(" ".join(read_pages[k].text for k in keys if k in read_pages))
            profile = truth_pages[keys[0]].profile if keys and keys[0] in truth_pages else "?"
            tally = score.field_strings.setdefault(profile, [0, 0])
            for name, value in doc.fields.items():
                if not isinstance(value, str) or len(value) < 3 or _ISO_DATE.fullmatch(value):
                    continue
                tally[1] += 1
                if _norm(value) in text:
                    tally[0] += 1
                else:
                    score.misses.append(f"{ref.name}: field {name} not found verbatim")
    return score


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", type=Path, help="a synth folder with inbox/ and truth/")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.workers, mp_context=context, initializer=init_ocr_worker) as pool:
        score = score_reading(args.root, executor=pool)
    for miss in score.misses:
        print("  miss:", miss)
    fields = {k: f"{a}/{b}" for k, (a, b) in score.field_strings.items()}
    print(
        f"packets {score.packets}, pages {score.pages}: reader choice "
        f"{score.reader_correct}/{score.pages}, scans upright {score.rotation_correct}/{score.scans}, "
        f"barcodes {score.barcodes_found}/{score.separators}, field strings {fields}, "
        f"{score.seconds:.1f} s wall ({score.seconds / max(score.pages, 1):.2f} s/page)"
    )


if __name__ == "__main__":
    main()
