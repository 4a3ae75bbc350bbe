"""The replay tool: read an inbox once into a cache, rebuild claims from it as often as needed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from pipeline.document import ReadPacket
from pipeline.extract.replay import main

SAMPLES = Path(__file__).resolve().parents[2] / "sample_docs" / "inbox"


def test_replay_reads_with_the_given_settings_and_rebuilds_claims(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(SAMPLES / "pkt-0002.pdf", inbox / "pkt-0002.pdf")
    settings = tmp_path / "zh.toml"
    settings.write_text('language = "zh"\n')

    read = ["read", str(inbox), "--workers", "0", "--cache"]
    assert main([*read, str(tmp_path / "en")]) == 0
    assert main([*read, str(tmp_path / "zh"), "--config", str(settings)]) == 0
    english = ReadPacket.model_validate_json((tmp_path / "en" / "pkt-0002.pdf.json").read_text())
    chinese = ReadPacket.model_validate_json((tmp_path / "zh" / "pkt-0002.pdf.json").read_text())
    assert (english.language, chinese.language) == ("en", "zh")
    assert english.pages and [p.reader for p in english.pages] == [p.reader for p in chinese.pages]

    assert main(["claims", "--cache", str(tmp_path / "en"), "--out", str(tmp_path / "out")]) == 0
    (claim_file,) = (tmp_path / "out" / "claims").glob("*.json")
    claim = json.loads(claim_file.read_text())
    assert claim["packet"]["sha256"] == english.sha256
