"""The benchmark's pieces: page export, raw Tesseract timing, the RSS poller, the results file."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH_PATH = Path(__file__).resolve().parents[2] / "bench" / "bench.py"


def _bench():
    spec = importlib.util.spec_from_file_location("claim_intake_bench", BENCH_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bench = _bench()


def _text_png(path: Path, text: str) -> Path:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (900, 200), 255)
    try:
        font = ImageFont.truetype("DejaVuSans.ttf", 40)
    except OSError:
        font = ImageFont.load_default()
    ImageDraw.Draw(image).text((20, 70), text, fill=0, font=font)
    image.save(path, dpi=(300, 300))
    return path


def test_bench_export_pages_renders_pdf_and_tiff(tmp_path):
    from PIL import Image
    from reportlab.pdfgen import canvas

    inbox = tmp_path / "inbox"
    (inbox / "packet-a").mkdir(parents=True)
    pdf = canvas.Canvas(str(inbox / "packet-a" / "scan.pdf"), pagesize=(612, 792))
    for _ in range(2):
        pdf.drawString(72, 700, "Itemized invoice")
        pdf.showPage()
    pdf.save()
    frames = [Image.new("L", (200, 100), 255), Image.new("L", (200, 100), 128)]
    frames[0].save(inbox / "b.tif", save_all=True, append_images=frames[1:])
    (inbox / "notes.txt").write_text("ignored")

    images = bench.export_page_images(inbox, tmp_path / "pages", dpi=300)
    assert len(images) == 4
    rendered = [p for p in images if "scan" in p.name]
    assert len(rendered) == 2
    with Image.open(rendered[0]) as first:
        width, height = first.size  # US letter at 300 DPI, give or take a rounding pixel
        assert abs(width - 2550) <= 1 and abs(height - 3300) <= 1


@pytest.mark.slow
def test_bench_raw_tesseract_counts_pages(tmp_path):
    images = [_text_png(tmp_path / f"p{i}.png", f"Invoice number {i}") for i in range(2)]
    result = bench.raw_tesseract(images, workers=2)
    assert result.pages == 2 and result.failures == 0
    assert result.seconds > 0 and result.pages_per_second > 0
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    assert bench.raw_tesseract([broken], workers=1).failures == 1


def test_bench_rss_poller_sees_child_memory(tmp_path):
    # a parent that starts a child holding ~60 MB: the tree sum must include the grandchild
    child = "import time; b = bytearray(60 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); time.sleep(1.5)"
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"
    process = subprocess.Popen([sys.executable, "-c", parent])
    with bench.polling(process.pid, interval=0.05) as poller:
        process.wait(timeout=30)
    assert poller.samples >= 2
    assert poller.peak_kb > 55 * 1024
    assert bench.tree_rss_kb(process.pid) == 0  # gone


def test_bench_results_writer_appends_sections(tmp_path):
    machine = bench.MachineInfo(
        date="2026-01-01T00:00:00+00:00",
        nproc=2,
        memory_mb=4096,
        cpu="test cpu",
        python="3.11",
        commit="abc1234",
        tesseract="tesseract 5.3.0",
    )
    raw = bench.RawResult(pages=10, failures=0, seconds=5.0, workers=2)
    runs = [
        bench.PipelineResult(
            corpus="scanned",
            packets=2,
            claims=2,
            quarantined=0,
            pages=10,
            seconds=10.0,
            peak_rss_mb=512.0,
            returncode=0,
            workers=2,
            overhead_per_packet_s=0.25,
        ),
        bench.PipelineResult(
            corpus="digital",
            packets=4,
            claims=4,
            quarantined=0,
            pages=20,
            seconds=4.0,
            peak_rss_mb=300.0,
            returncode=0,
            workers=2,
            note="per-packet timings not exposed by the run",
        ),
    ]
    section = bench.render_markdown(machine, raw, runs)
    assert "commit abc1234" in section and "2 CPUs" in section and "4096 MB" in section
    assert "| raw tesseract" in section and "| 2.00 |" in section
    assert "Pipeline / raw Tesseract on scans: 0.50" in section
    assert "| n/a |" in section  # digital run without timings
    results = tmp_path / "bench" / "results.md"
    bench.write_results(results, section)
    bench.write_results(results, section)
    text = results.read_text()
    assert text.startswith("# Benchmark results") and text.count("## 2026-01-01") == 2


def test_bench_reads_pages_and_overhead_from_run_output(tmp_path):
    out = tmp_path / "out"
    (out / "claims").mkdir(parents=True)
    (out / "claims" / "a.json").write_text(json.dumps({"packet": {"page_count": 3}}))
    (out / "claims" / "b.json").write_text(json.dumps({"packet": {"page_count": 4}}))
    (out / "claims" / "bad.json").write_text("{")
    assert bench._count_pages(out) == (2, 7)
    assert bench._overhead_per_packet(out) is None
    (out / "batches" / "b1").mkdir(parents=True)
    summary = {
        "outcomes": [
            {"seconds": {"ingest": 0.1, "read": 5.0, "understand": 0.3}},
            {"seconds": {"ingest": 0.2, "read": 2.0, "understand": 0.2}},
            {"quarantined": True, "seconds": {}},
        ]
    }
    (out / "batches" / "b1" / "summary.json").write_text(json.dumps(summary))
    assert bench._overhead_per_packet(out) == pytest.approx(0.4)


def test_bench_run_pipeline_with_a_fake_command(tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "p1").mkdir(parents=True)
    fake = tmp_path / "fake-claim-intake"
    fake.write_text(
        "#!" + sys.executable + "\n"
        "import json, pathlib, sys\n"
        "out = pathlib.Path(sys.argv[sys.argv.index('--out') + 1])\n"
        "(out / 'claims').mkdir(parents=True)\n"
        "(out / 'claims' / 'c.json').write_text(json.dumps({'packet': {'page_count': 5}}))\n"
    )
    fake.chmod(0o755)
    result = bench.run_pipeline("digital", inbox, 2, fake, tmp_path / "out")
    assert result.returncode == 0 and result.pages == 5 and result.packets == 1
    assert result.pages_per_second > 0
    assert "not exposed" in result.note


def test_bench_failed_run_gets_no_ratio(tmp_path):
    machine = bench.MachineInfo("d", 2, 1024, "cpu", "3.11", "abc", "tesseract 5")
    raw = bench.RawResult(pages=4, failures=0, seconds=2.0, workers=2)
    failed = bench.PipelineResult(
        corpus="scanned",
        packets=2,
        claims=0,
        quarantined=0,
        pages=0,
        seconds=3.0,
        peak_rss_mb=100.0,
        returncode=2,
        workers=2,
        note="exit 2: model | missing",
    )
    section = bench.render_markdown(machine, raw, [failed])
    assert "Pipeline / raw" not in section
    assert "model / missing" in section
