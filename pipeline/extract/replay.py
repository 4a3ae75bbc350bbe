"""Re-run extraction on cached page reads: tune extraction without paying for OCR again.

Reading a scanned page costs about a second of both cores; extracting it, milliseconds. This
development tool reads a packet inbox once, keeps every packet's `ReadPacket` as JSON, and
then rebuilds the claims (classify, split, extract, check; no fraud score, no ledger) from
that cache as often as needed, into an OUT folder that `claim-intake eval` scores:

    python -m pipeline.extract.replay read build/dev/inbox --cache build/dev/reads --workers 2
    python -m pipeline.extract.replay claims --cache build/dev/reads --out build/dev-replay
    claim-intake eval build/dev-replay build/dev/truth

`read` skips packets already in the cache. `claims --raw` leaves the value calibrator out
(raw extraction scores), as `pipeline.calibration` needs for refitting it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from pathlib import Path

from pipeline.config import load_settings
from pipeline.document import ReadPacket
from pipeline.io.emit import atomic_write_json, atomic_write_text
from pipeline.io.ingest import discover_packets, open_packet, packet_sha256
from pipeline.process import build_claim, claim_id_for, classify_pages, load_resources
from pipeline.reading.ocr import init_ocr_worker
from pipeline.reading.reader import read_packet

__all__ = ["read_to_cache", "claims_from_cache", "main"]


def _cache_path(cache: Path, name: str) -> Path:
    return cache / f"{name}.json"


def read_to_cache(inbox: Path, cache: Path, workers: int = 2, config: Path | None = None) -> int:
    """Read every packet of `inbox` not yet in `cache`; returns how many were read.

    `config` is a settings file as `claim-intake run --config` takes, e.g. to compare
    reading options on the same inbox (one cache per option). `workers` 0 reads in this
    process (for a debugger or a profiler)."""
    settings = load_settings(config)
    cache.mkdir(parents=True, exist_ok=True)
    refs = [r for r in discover_packets(inbox) if not _cache_path(cache, r.name).is_file()]
    context = multiprocessing.get_context("spawn")
    pool = (
        ProcessPoolExecutor(workers, mp_context=context, initializer=init_ocr_worker)
        if workers > 0
        else None
    )
    with pool if pool is not None else nullcontext():
        for count, ref in enumerate(refs, 1):
            sha = packet_sha256(ref)
            read = read_packet(
                ref, open_packet(ref, settings.ingest), settings.reading, executor=pool, sha256=sha
            )
            try:
                source = ref.root.relative_to(inbox).as_posix()
            except ValueError:
                source = ref.name
            read = read.model_copy(update={"source": source, "language": settings.language})
            atomic_write_text(_cache_path(cache, ref.name), read.model_dump_json())
            print(f"read {count}/{len(refs)}: {ref.name} ({len(read.pages)} pages)", flush=True)
    return len(refs)


def claims_from_cache(cache: Path, out: Path, raw: bool = False) -> int:
    """Claims of every cached packet into `out/claims/`; returns how many were written."""
    settings = load_settings()
    if raw:
        settings = settings.model_copy(update={"calibrate_values": False})
    resources = load_resources(settings)
    claims_dir = out / "claims"
    if claims_dir.exists():
        shutil.rmtree(claims_dir)
    claims_dir.mkdir(parents=True)
    written = 0
    for path in sorted(cache.glob("*.json")):
        read = ReadPacket.model_validate_json(path.read_text())
        labels = classify_pages(read, resources.page_classifier)
        claim = build_claim(read, labels, resources, claim_id_for(read.sha256))
        atomic_write_json(claims_dir / f"{claim.claim_id}.json", claim)
        written += 1
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.extract.replay", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    read = commands.add_parser("read", help="read an inbox's packets into the cache (slow: OCR)")
    read.add_argument("inbox", type=Path)
    read.add_argument("--cache", type=Path, required=True)
    read.add_argument("--workers", type=int, default=2, help="0: read in this process")
    read.add_argument("--config", type=Path, default=None, help="settings file (TOML)")
    claims = commands.add_parser("claims", help="claims from the cached reads (fast)")
    claims.add_argument("--cache", type=Path, required=True)
    claims.add_argument("--out", type=Path, required=True)
    claims.add_argument("--raw", action="store_true", help="no value calibrator: raw scores")
    args = parser.parse_args(argv)
    if args.command == "read":
        if not args.inbox.is_dir():
            parser.error(f"inbox {args.inbox} is not a folder")
        count = read_to_cache(args.inbox, args.cache, args.workers, args.config)
        print(f"{count} packets read into {args.cache}")
    else:
        if not args.cache.is_dir():
            parser.error(f"cache {args.cache} is not a folder; fill it with the 'read' command")
        count = claims_from_cache(args.cache, args.out, raw=args.raw)
        print(f"{count} claims written to {args.out / 'claims'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
