"""Throughput and memory benchmark: the pipeline against plain Tesseract on the same pages.

    .venv/bin/python bench/bench.py --scanned DIR --digital DIR --workers 2 --results bench/results.md

DIR is a `claim-intake synth` folder (its `inbox/` is used) or an inbox itself. Steps:
(a) the raw limit: page images of the scanned corpus exported to PNG at 300 DPI (not
timed), then one `tesseract` process per worker with OMP_THREAD_LIMIT=1; (b) the pipeline:
`claim-intake run` on each corpus, wall time, pages/s from the claim files, peak RSS of its
process tree polled from /proc every 0.2 s; (c) pipeline/raw on scans, and per-packet time
outside the read stage when the run's batch summary exposes per-packet timings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

__all__ = [
    "RawResult",
    "PipelineResult",
    "MachineInfo",
    "RssPoller",
    "find_inbox",
    "export_page_images",
    "raw_tesseract",
    "tree_rss_kb",
    "run_pipeline",
    "machine_info",
    "render_markdown",
    "write_results",
    "main",
]

REPO = Path(__file__).resolve().parent.parent
PACKET_SUFFIXES = {".pdf", ".tif", ".tiff", ".png", ".jpg", ".jpeg"}
POLL_SECONDS = 0.2


@dataclass
class RawResult:
    """Plain Tesseract over exported page images: the ceiling the pipeline's OCR can reach."""

    pages: int
    failures: int
    seconds: float
    workers: int

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds if self.seconds > 0 else 0.0


@dataclass
class PipelineResult:
    corpus: str
    packets: int
    claims: int
    quarantined: int
    pages: int
    seconds: float
    peak_rss_mb: float
    returncode: int
    workers: int
    overhead_per_packet_s: float | None = None
    flow_seconds: float | None = None
    note: str = ""

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds if self.seconds > 0 else 0.0

    @property
    def flow_pages_per_second(self) -> float | None:
        """Pages per second of the batch itself, without the CLI's and Prefect's start-up."""
        if not self.flow_seconds:
            return None
        return self.pages / self.flow_seconds


@dataclass
class MachineInfo:
    date: str
    nproc: int
    memory_mb: int
    cpu: str
    python: str
    commit: str
    tesseract: str


def find_inbox(corpus: Path) -> Path:
    """`corpus/inbox` for a synth folder, else `corpus` itself."""
    inbox = corpus / "inbox"
    return inbox if inbox.is_dir() else corpus


def _packet_files(inbox: Path) -> list[Path]:
    return sorted(
        p for p in inbox.rglob("*") if p.is_file() and p.suffix.lower() in PACKET_SUFFIXES
    )


def export_page_images(inbox: Path, dest: Path, dpi: int = 300) -> list[Path]:
    """Every page of every packet file as a PNG: PDFs rendered at `dpi`, TIFF frames and images as they are."""
    import pypdfium2
    from PIL import Image, ImageSequence

    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for index, path in enumerate(_packet_files(inbox)):
        stem = f"{index:04d}-{path.stem}"
        if path.suffix.lower() == ".pdf":
            pdf = pypdfium2.PdfDocument(path)
            try:
                for number in range(len(pdf)):
                    page = pdf[number]
                    image = page.render(scale=dpi / 72).to_pil()
                    target = dest / f"{stem}-p{number + 1:03d}.png"
                    image.save(target, dpi=(dpi, dpi))
                    written.append(target)
                    page.close()
            finally:
                pdf.close()
            continue
        with Image.open(path) as image:
            for number, frame in enumerate(ImageSequence.Iterator(image)):
                target = dest / f"{stem}-p{number + 1:03d}.png"
                frame.convert("RGB" if frame.mode not in ("1", "L", "RGB") else frame.mode).save(
                    target
                )
                written.append(target)
    return written


def _tesseract_env() -> dict[str, str]:
    return {**os.environ, "OMP_THREAD_LIMIT": "1"}


def raw_tesseract(images: list[Path], workers: int, lang: str = "eng") -> RawResult:
    """Time plain `tesseract IMAGE stdout` over `images`, `workers` processes at a time."""
    env = _tesseract_env()

    def one(image: Path) -> int:
        done = subprocess.run(
            ["tesseract", str(image), "stdout", "-l", lang],
            env=env,
            capture_output=True,
            check=False,
        )
        return done.returncode

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        codes = list(pool.map(one, images))
    seconds = time.perf_counter() - started
    failures = sum(1 for c in codes if c != 0)
    return RawResult(
        pages=len(images) - failures, failures=failures, seconds=seconds, workers=workers
    )


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name sits in parentheses and may hold spaces: split after the last ')'
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return 0


def tree_rss_kb(pid: int) -> int:
    """Resident memory of `pid` and all its descendants, in kB (0 once it has exited)."""
    children = _children_map()
    total, stack, seen = 0, [pid], set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        total += _rss_kb(current)
        stack.extend(children.get(current, []))
    return total


@dataclass
class RssPoller:
    """Polls the RSS of a process tree in a thread; `peak_kb` is the largest sum seen."""

    pid: int
    interval: float = POLL_SECONDS
    peak_kb: int = 0
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, tree_rss_kb(self.pid))
            self.samples += 1
            self._stop.wait(self.interval)

    def start(self) -> RssPoller:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> int:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.peak_kb


@contextmanager
def polling(pid: int, interval: float = POLL_SECONDS) -> Iterator[RssPoller]:
    poller = RssPoller(pid, interval).start()
    try:
        yield poller
    finally:
        poller.stop()


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def _count_pages(out: Path) -> tuple[int, int]:
    """(claims, pages) from the claim files' packet.page_count; unreadable files are skipped."""
    claims = pages = 0
    for path in sorted((out / "claims").glob("*.json")):
        data = _read_json(path)
        if isinstance(data, dict) and isinstance(data.get("packet"), dict):
            count = data["packet"].get("page_count")
            if isinstance(count, int):
                claims += 1
                pages += count
    return claims, pages


def _overhead_per_packet(out: Path) -> float | None:
    """Mean per-packet seconds outside the `read` stage (OCR lives there), from the batch summary."""
    spent: list[float] = []
    for summary in sorted((out / "batches").glob("*/summary.json")):
        data = _read_json(summary)
        outcomes = data.get("outcomes") if isinstance(data, dict) else None
        for outcome in outcomes if isinstance(outcomes, list) else []:
            seconds = outcome.get("seconds") if isinstance(outcome, dict) else None
            if isinstance(seconds, dict) and "read" in seconds:
                spent.append(sum(float(v) for k, v in seconds.items() if k != "read"))
    return sum(spent) / len(spent) if spent else None


def _flow_seconds(out: Path) -> float | None:
    """The batch's own duration from its summary (the flow's start to its end)."""
    total = 0.0
    found = False
    for summary in sorted((out / "batches").glob("*/summary.json")):
        data = _read_json(summary)
        if isinstance(data, dict) and isinstance(data.get("seconds"), int | float):
            total += float(data["seconds"])
            found = True
    return total if found else None


def run_pipeline(
    corpus_name: str, inbox: Path, workers: int, exe: Path, out: Path
) -> PipelineResult:
    """Run `claim-intake run INBOX --out OUT --workers N` once, timing it and polling its memory."""
    packets = sum(1 for p in inbox.iterdir() if p.is_dir() or p.suffix.lower() in PACKET_SUFFIXES)
    command = [str(exe), "run", str(inbox), "--out", str(out), "--workers", str(workers)]
    env = {**_tesseract_env(), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    with polling(process.pid) as poller:
        _, stderr = process.communicate()
    seconds = time.perf_counter() - started
    claims, pages = _count_pages(out)
    quarantine = out / "quarantine"
    quarantined = len(list(quarantine.glob("*.json"))) if quarantine.is_dir() else 0
    overhead = _overhead_per_packet(out)
    notes = []
    if process.returncode != 0:
        last = (stderr or "").strip().splitlines()[-1:] or ["no error output"]
        notes.append(f"exit {process.returncode}: {last[0].strip()[:160]}")
    if overhead is None:
        notes.append("per-packet timings not exposed by the run")
    return PipelineResult(
        corpus=corpus_name,
        packets=packets,
        claims=claims,
        quarantined=quarantined,
        pages=pages,
        seconds=seconds,
        peak_rss_mb=poller.peak_kb / 1024,
        returncode=process.returncode,
        workers=workers,
        overhead_per_packet_s=overhead,
        flow_seconds=_flow_seconds(out),
        note="; ".join(notes),
    )


def _command_output(command: list[str], cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=cwd)
    except OSError:
        return "unknown"
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def machine_info() -> MachineInfo:
    memory_mb = 0
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_mb = int(line.split()[1]) // 1024
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return MachineInfo(
        date=datetime.now(UTC).isoformat(timespec="seconds"),
        nproc=os.cpu_count() or 1,
        memory_mb=memory_mb,
        cpu=cpu,
        python=platform.python_version(),
        commit=_command_output(["git", "rev-parse", "--short", "HEAD"], cwd=REPO),
        tesseract=_command_output(["tesseract", "--version"]),
    )


def render_markdown(machine: MachineInfo, raw: RawResult | None, runs: list[PipelineResult]) -> str:
    """One dated section: machine, then raw Tesseract and each pipeline run side by side."""
    lines = [
        f"## {machine.date} (commit {machine.commit})",
        "",
        f"Machine: {machine.nproc} CPUs ({machine.cpu}), {machine.memory_mb} MB RAM, "
        f"Python {machine.python}, {machine.tesseract}.",
        "",
        "| run | workers | packets | pages | wall s | pages/s | batch pages/s | peak RSS MB "
        "| s/packet outside read | note |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    if raw is not None:
        lines.append(
            f"| raw tesseract (scanned pages, 300 DPI PNG) | {raw.workers} | - | {raw.pages} | "
            f"{raw.seconds:.1f} | {raw.pages_per_second:.2f} | - | - | - | "
            f"{raw.failures} failed |"
        )
    for run in runs:
        overhead = (
            "n/a" if run.overhead_per_packet_s is None else f"{run.overhead_per_packet_s:.2f}"
        )
        flow = run.flow_pages_per_second
        lines.append(
            f"| pipeline {run.corpus} | {run.workers} | {run.packets} "
            f"({run.claims} claims, {run.quarantined} quarantined) | {run.pages} | "
            f"{run.seconds:.1f} | {run.pages_per_second:.2f} | "
            f"{'n/a' if flow is None else f'{flow:.2f}'} | {run.peak_rss_mb:.0f} | "
            f"{overhead} | {run.note.replace('|', '/')} |"
        )
    scanned = next((r for r in runs if r.corpus == "scanned"), None)
    if (
        raw is not None
        and scanned is not None
        and scanned.returncode == 0
        and scanned.pages > 0
        and raw.pages_per_second > 0
    ):
        ratio = scanned.pages_per_second / raw.pages_per_second
        lines += ["", f"Pipeline / raw Tesseract on scans: {ratio:.2f} of the raw page rate."]
        if scanned.flow_pages_per_second:
            batch_ratio = scanned.flow_pages_per_second / raw.pages_per_second
            lines.append(
                f"Without the CLI's and Prefect's start-up (the batch's own time): {batch_ratio:.2f}."
            )
    return "\n".join(lines) + "\n"


def write_results(path: Path, section: str) -> Path:
    """Append `section` to the results file, creating it with a title the first time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    path.write_text(existing.rstrip("\n") + "\n\n" + section, encoding="utf-8")
    return path


def _print_table(raw: RawResult | None, runs: list[PipelineResult]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="claim-intake benchmark")
    columns = ("run", "pages", "wall s", "pages/s", "batch pages/s", "peak RSS MB")
    for column in (*columns, "s/packet outside read"):
        table.add_column(column, justify="right" if column != "run" else "left")
    if raw is not None:
        table.add_row(
            "raw tesseract",
            str(raw.pages),
            f"{raw.seconds:.1f}",
            f"{raw.pages_per_second:.2f}",
            "-",
            "-",
            "-",
        )
    for run in runs:
        overhead = (
            "n/a" if run.overhead_per_packet_s is None else f"{run.overhead_per_packet_s:.2f}"
        )
        table.add_row(
            f"pipeline {run.corpus}",
            str(run.pages),
            f"{run.seconds:.1f}",
            f"{run.pages_per_second:.2f}",
            "n/a" if run.flow_pages_per_second is None else f"{run.flow_pages_per_second:.2f}",
            f"{run.peak_rss_mb:.0f}",
            overhead,
        )
    Console().print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scanned", type=Path, required=True, help="scanned corpus (synth folder)")
    parser.add_argument("--digital", type=Path, required=True, help="digital corpus (synth folder)")
    parser.add_argument(
        "--batch",
        type=Path,
        default=None,
        help="optional large corpus (e.g. 500 pages, mixed) run once more for peak memory",
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "results.md")
    parser.add_argument("--exe", type=Path, default=REPO / ".venv" / "bin" / "claim-intake")
    parser.add_argument("--lang", default="eng", help="Tesseract language of the raw run")
    args = parser.parse_args(argv)
    if shutil.which("tesseract") is None:
        print("tesseract is not on PATH", file=sys.stderr)
        return 2
    corpora = [("scanned", args.scanned), ("digital", args.digital)]
    if args.batch is not None:
        corpora.append(("batch", args.batch))
    for _, corpus in corpora:
        if not find_inbox(corpus).is_dir():
            print(f"corpus folder not found: {corpus}", file=sys.stderr)
            return 2

    with tempfile.TemporaryDirectory(prefix="claim-intake-bench-") as tmp:
        work = Path(tmp)
        images = export_page_images(find_inbox(args.scanned), work / "pages", dpi=300)
        raw = raw_tesseract(images, args.workers, lang=args.lang)
        runs = [
            run_pipeline(name, find_inbox(corpus), args.workers, args.exe, work / f"out-{name}")
            for name, corpus in corpora
        ]
    _print_table(raw, runs)
    section = render_markdown(machine_info(), raw, runs)
    write_results(args.results, section)
    print(f"results appended to {args.results}")
    return 0 if all(r.returncode == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
