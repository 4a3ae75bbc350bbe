"""Labels of a synthetic run: every claim paired with its packet's truth by source path."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import LabelsError
from pipeline.eval import claim_from_truth
from pipeline.fraud.labels import labels_from_truth, main
from pipeline.fraud.registry import read_labels
from pipeline.synth.corpus import build_packet


def test_labels_from_truth_pairs_claims_by_packet_source(tmp_path: Path) -> None:
    out, truth_dir = tmp_path / "out", tmp_path / "truth"
    (out / "claims").mkdir(parents=True)
    truth_dir.mkdir()
    expected: dict[str, int] = {}
    for index in range(3):
        truth = build_packet(5, index, "digital").truth
        (truth_dir / f"{truth.packet}.json").write_text(truth.model_dump_json())
        claim = claim_from_truth(truth)
        (out / "claims" / f"{claim.claim_id}.json").write_text(claim.model_dump_json())
        expected[claim.claim_id] = truth.fraud.label
    stray = claim_from_truth(build_packet(5, 9, "digital").truth)  # no truth file: left out
    (out / "claims" / f"{stray.claim_id}.json").write_text(stray.model_dump_json())

    assert labels_from_truth(out, truth_dir) == expected
    main([str(out), str(truth_dir), "--to", str(tmp_path / "labels.csv")])
    assert read_labels([tmp_path / "labels.csv"]) == expected


def test_labels_from_truth_names_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(LabelsError, match="claims"):
        labels_from_truth(tmp_path / "nowhere", tmp_path)
