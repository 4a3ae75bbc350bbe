"""Fit the shipped OCR confidence table, and measure OCR word accuracy, on generated pages.

Pages of claim-like text are drawn with PIL at a known DPI, degraded like real scans
(noise, blur, faint toner, low resolution, skew, rotation, dark borders), read by Tesseract
and aligned word by word with the truth (difflib), so every (raw confidence, correct)
pair is known. Reproducible: `python -m pipeline.reading.calibrate --pages 12 --seed 7`.
"""

from __future__ import annotations

import argparse
import difflib
import random
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pipeline.reading.ocr import ConfidenceCalibrator, ocr_image

__all__ = [
    "DEGRADATIONS",
    "FONT_CANDIDATES",
    "synthetic_page",
    "degrade",
    "align_words",
    "word_errors",
    "collect_pairs",
    "CALIBRATION_KINDS",
    "reliability",
    "ablation",
    "timing",
    "main",
]

FONT_CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
)

_VOCABULARY = [
    "patient",
    "name",
    "date",
    "of",
    "birth",
    "member",
    "policy",
    "number",
    "claim",
    "form",
    "provider",
    "invoice",
    "total",
    "amount",
    "due",
    "service",
    "description",
    "quantity",
    "unit",
    "price",
    "diagnosis",
    "hospital",
    "clinic",
    "physician",
    "signature",
    "address",
    "phone",
    "insurance",
    "group",
    "account",
    "statement",
    "visit",
    "office",
    "consultation",
    "laboratory",
    "radiology",
    "emergency",
    "admission",
    "discharge",
    "outpatient",
    "inpatient",
    "accident",
    "report",
    "certificate",
    "medical",
    "record",
    "history",
    "treatment",
    "prescription",
    "pharmacy",
    "balance",
    "payment",
    "charges",
    "procedure",
]


def _token(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.55:
        word = rng.choice(_VOCABULARY)
        return word.capitalize() if rng.random() < 0.3 else word
    if roll < 0.65:
        return f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{rng.randint(1950, 2026)}"
    if roll < 0.75:
        return f"${rng.randint(10, 9999)}.{rng.randint(0, 99):02d}"
    if roll < 0.82:
        return f"{rng.choice('ABCDEFGHJKLMNRSTZ')}{rng.randint(0, 99):02d}.{rng.randint(0, 9)}"
    if roll < 0.9:
        return str(rng.randint(10000, 99999))
    return rng.choice(["Name:", "Date:", "Total:", "ID:", "No.", "Amount:"])


def _font(path: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if Path(path).is_file():
        return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


def synthetic_page(
    seed: int, dpi: int = 300, lines: int = 22, font_pt: float = 11.0, words_per_line: int = 7
) -> tuple[np.ndarray, list[str]]:
    """A Letter page of random claim-like text (grayscale uint8) and its lines of truth."""
    rng = random.Random(seed)
    width, height = int(8.5 * dpi), int(11 * dpi)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    font = _font(rng.choice(FONT_CANDIDATES), int(font_pt * dpi / 72))
    margin = int(0.9 * dpi)
    step = int(font_pt * dpi / 72 * 2.0)
    truth: list[str] = []
    y = margin
    for _ in range(lines):
        if y > height - margin:
            break
        text = " ".join(_token(rng) for _ in range(rng.randint(3, words_per_line)))
        draw.text((margin, y), text, fill=0, font=font)
        truth.append(text)
        y += step
    return np.asarray(image, dtype=np.uint8).copy(), truth


DEGRADATIONS: tuple[str, ...] = (
    "clean",
    "noise",
    "faint",
    "blur",
    "skew",
    "rotate90",
    "rotate180",
    "lowres",
    "border",
    "combo",
)


def degrade(image: np.ndarray, kind: str, rng: random.Random) -> tuple[np.ndarray, float]:
    """A degraded copy of a 300-DPI page and its DPI afterwards."""
    out = image.copy()
    dpi = 300.0
    if kind == "clean":
        pass
    elif kind == "noise":
        speckle = np.random.default_rng(rng.randint(0, 2**31)).random(out.shape)
        out[speckle < 0.04] = 0
        out[speckle > 0.96] = 255
    elif kind == "faint":
        out = (190 + out.astype(np.float32) * (65 / 255)).astype(np.uint8)
        out = cv2.GaussianBlur(out, (3, 3), 0)
    elif kind == "blur":
        out = cv2.GaussianBlur(out, (5, 5), 1.4)
    elif kind == "skew":
        angle = rng.choice([-1, 1]) * rng.uniform(2.0, 5.0)
        h, w = out.shape
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        out = cv2.warpAffine(out, matrix, (w, h), borderValue=255)
    elif kind == "rotate90":
        out = cv2.rotate(out, cv2.ROTATE_90_COUNTERCLOCKWISE)
    elif kind == "rotate180":
        out = cv2.rotate(out, cv2.ROTATE_180)
    elif kind == "lowres":
        out = cv2.resize(out, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
        dpi = 150.0
    elif kind == "border":
        pad = int(0.25 * 300)
        out = out.copy()
        out[:, :pad] = 20
        out[:pad, :] = 20
    elif kind == "combo":
        # A tired office scanner: 200 DPI, light toner, a few degrees of skew, speckle, a
        # quarter turn, and a dark edge.
        out, _ = degrade(out, "skew", rng)
        out, _ = degrade(out, "faint", rng)
        out = cv2.resize(out, None, fx=2 / 3, fy=2 / 3, interpolation=cv2.INTER_AREA)
        dpi = 200.0
        speckle = np.random.default_rng(rng.randint(0, 2**31)).random(out.shape)
        out[speckle < 0.01] = 90
        out[:, :30] = 30
        out = cv2.rotate(out, rng.choice([cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180]))
    else:
        raise ValueError(f"degradation must be one of {DEGRADATIONS}, got {kind!r}")
    return out, dpi


def align_words(truth: list[str], read: list[str]) -> list[bool]:
    """For each read word, whether difflib aligns it to an identical truth word."""
    matcher = difflib.SequenceMatcher(a=truth, b=read, autojunk=False)
    correct = [False] * len(read)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            correct[block.b + k] = True
    return correct


def word_errors(truth: list[str], read: list[str]) -> int:
    """Word-level edit distance (substitutions + insertions + deletions), via difflib opcodes."""
    matcher = difflib.SequenceMatcher(a=truth, b=read, autojunk=False)
    errors = 0
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            errors += max(i2 - i1, j2 - j1)
    return errors


CALIBRATION_KINDS: tuple[str, ...] = ("clean", "noise", "faint", "blur", "lowres", "combo", "skew")


def collect_pairs(
    pages: int, seed: int, kinds: tuple[str, ...] = CALIBRATION_KINDS
) -> tuple[list[float], list[bool]]:
    """(raw confidence, correct) for every word read on `pages` generated pages.

    Pages go through the production path (`preprocess`, then `ocr_best`), in small print
    (7-11 pt) so that poor reads are well represented.
    """
    from pipeline.reading.ocr import ocr_best
    from pipeline.reading.preprocess import preprocess

    identity = ConfidenceCalibrator().fit([0.0, 100.0], [False, True])  # raw values are kept
    rng = random.Random(seed)
    raws: list[float] = []
    correct: list[bool] = []
    for index in range(pages):
        image, truth_lines = synthetic_page(
            seed * 1000 + index, font_pt=rng.choice([7.0, 8.0, 9.0, 11.0])
        )
        kind = kinds[index % len(kinds)]
        degraded, dpi = degrade(image, kind, rng)
        cleaned = preprocess(degraded, dpi)
        read = ocr_best(cleaned.image, "eng", calibrator=identity)
        words = [w for line in read.lines for w in line.words]
        truth_words = " ".join(truth_lines).split()
        flags = align_words(truth_words, [w.text for w in words])
        raws.extend(float(w.raw_confidence or 0.0) for w in words)
        correct.extend(flags)
    return raws, correct


def reliability(
    raws: list[float], correct: list[bool], calibrator: ConfidenceCalibrator, bins: int = 10
) -> tuple[float, list[tuple[float, float, int]]]:
    """Expected calibration error and (mean predicted, accuracy, count) per confidence bin."""
    predicted = calibrator.predict(raws)
    truth = np.asarray(correct, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    table: list[tuple[float, float, int]] = []
    ece = 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (predicted >= low) & ((predicted < high) | (high == 1.0))
        count = int(inside.sum())
        if count == 0:
            continue
        mean_p, accuracy = float(predicted[inside].mean()), float(truth[inside].mean())
        ece += count / len(truth) * abs(mean_p - accuracy)
        table.append((round(mean_p, 3), round(accuracy, 3), count))
    return round(ece, 4), table


ABLATION_KINDS: tuple[str, ...] = (
    "rotate90",
    "rotate180",
    "skew",
    "noise",
    "faint",
    "border",
    "lowres",
    "blur",
    "combo",
)


def ablation(
    seeds: int, seed: int, kinds: tuple[str, ...] = ABLATION_KINDS
) -> dict[str, tuple[int, int, int]]:
    """Per degradation: (truth words, word errors of raw Tesseract, word errors after clean-up).

    Raw is Tesseract as most pipelines call it (psm 3, the image as scanned); clean-up is
    `preprocess` with default settings followed by `ocr_best`.
    """
    from pipeline.reading.ocr import load_default_calibrator, ocr_best
    from pipeline.reading.preprocess import preprocess

    calibrator = load_default_calibrator("eng")
    rng = random.Random(seed)
    results: dict[str, tuple[int, int, int]] = {}
    for kind in kinds:
        total = raw_errors = clean_errors = 0
        for index in range(seeds):
            image, truth_lines = synthetic_page(seed * 100 + index, font_pt=rng.choice([9.0, 10.0]))
            truth = " ".join(truth_lines).split()
            degraded, dpi = degrade(image, kind, rng)
            raw = ocr_image(degraded, "eng", psm=3, calibrator=calibrator)
            cleaned = preprocess(degraded, dpi)
            best = ocr_best(cleaned.image, "eng", calibrator=calibrator)
            total += len(truth)
            raw_errors += word_errors(truth, [w.text for ln in raw.lines for w in ln.words])
            clean_errors += word_errors(truth, [w.text for ln in best.lines for w in ln.words])
        results[kind] = (total, raw_errors, clean_errors)
    return results


def timing(pages: int, seed: int) -> dict[str, float]:
    """Mean seconds per 300-DPI Letter page for Tesseract (psm 3) single-threaded vs OpenMP default."""
    import os
    import time

    from pipeline.reading.ocr import load_default_calibrator

    calibrator = load_default_calibrator("eng")
    images = [synthetic_page(seed + i)[0] for i in range(pages)]
    saved = os.environ.pop("OMP_THREAD_LIMIT", None)
    results: dict[str, float] = {}
    try:
        for label, threads in (("OMP_THREAD_LIMIT=1", 1), ("default threads", None)):
            started = time.perf_counter()
            for image in images:
                ocr_image(image, "eng", psm=3, calibrator=calibrator, threads=threads)
            results[label] = (time.perf_counter() - started) / pages
    finally:
        if saved is not None:
            os.environ["OMP_THREAD_LIMIT"] = saved
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "data" / "calibration_eng.json"
    )
    parser.add_argument(
        "--ablation", action="store_true", help="measure word errors raw vs after clean-up instead"
    )
    parser.add_argument(
        "--timing", action="store_true", help="seconds per page, one OCR thread vs default"
    )
    parser.add_argument(
        "--reliability",
        action="store_true",
        help="score the shipped table on fresh pages (use another --seed than the fit)",
    )
    args = parser.parse_args(argv)
    if args.reliability:
        from pipeline.reading.ocr import load_default_calibrator

        raws, correct = collect_pairs(args.pages, args.seed)
        ece, table = reliability(raws, correct, load_default_calibrator("eng"))
        print(f"{len(raws)} words, accuracy {np.mean(correct):.3f}, ECE {ece}")
        for mean_p, accuracy, count in table:
            print(f"  predicted {mean_p:.3f}  observed {accuracy:.3f}  n={count}")
        return
    if args.timing:
        for label, seconds in timing(args.pages, args.seed).items():
            print(f"{label:<20} {seconds:.2f} s/page")
        return
    if args.ablation:
        results = ablation(args.pages, args.seed)
        print(f"{'degradation':<12} {'words':>6} {'raw WER':>8} {'clean WER':>9}")
        for kind, (total, raw, clean) in results.items():
            print(f"{kind:<12} {total:>6} {raw / total:>8.3f} {clean / total:>9.3f}")
        total = sum(r[0] for r in results.values())
        raw = sum(r[1] for r in results.values())
        clean = sum(r[2] for r in results.values())
        reduction = 1 - clean / raw if raw else 0.0
        print(
            f"{'all':<12} {total:>6} {raw / total:>8.3f} {clean / total:>9.3f}  "
            f"({reduction:.0%} fewer word errors)"
        )
        return
    raws, correct = collect_pairs(args.pages, args.seed)
    calibrator = ConfidenceCalibrator().fit(raws, correct)
    args.out.write_text(calibrator.to_json() + "\n", encoding="utf-8")
    print(f"{len(raws)} words, accuracy {np.mean(correct):.3f}, table -> {args.out}")


if __name__ == "__main__":
    main()
