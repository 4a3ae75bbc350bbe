"""Labels for the analyst's loop from a synthetic corpus: `claim_id,label` of a run against its truth.

`python -m pipeline.fraud.labels OUT TRUTH --to labels.csv` pairs every claim file in
`OUT/claims` with `TRUTH/<packet>.json` by the packet's source path (as `claim-intake eval`
does) and writes the truth's `fraud.label`. Only the label crosses over: the truth's
pattern names never reach the features or the model.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path, PurePosixPath

from pydantic import ValidationError

from pipeline.errors import LabelsError
from pipeline.schema import Claim
from pipeline.truth import Truth

__all__ = ["labels_from_truth", "write_labels", "main"]


def _key(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/").strip().strip("/")).as_posix()


def labels_from_truth(out: Path, truth_dir: Path) -> dict[str, int]:
    """claim_id -> truth label for every claim of `out` whose packet has a truth file."""
    if not (out / "claims").is_dir():
        raise LabelsError(f"no claims folder at {out}/claims (expected a run output OUT)")
    if not truth_dir.is_dir():
        raise LabelsError(f"truth folder {truth_dir} does not exist")
    truths: dict[str, int] = {}
    for path in sorted(truth_dir.glob("*.json")):
        try:
            truth = Truth.model_validate_json(path.read_bytes())
        except ValidationError as error:
            raise LabelsError(f"{path} is not a truth file: {error.errors()[0]['loc']}") from error
        truths[_key(truth.packet)] = truth.fraud.label
    labels: dict[str, int] = {}
    for path in sorted((out / "claims").glob("*.json")):
        try:
            claim = Claim.model_validate_json(path.read_bytes())
        except ValidationError as error:
            raise LabelsError(f"{path} is not a claim file: {error.errors()[0]['loc']}") from error
        label = truths.get(_key(claim.packet.source))
        if label is not None:
            labels[claim.claim_id] = label
    if not labels:
        raise LabelsError(f"no claim of {out} has a truth file in {truth_dir}")
    return labels


def write_labels(labels: dict[str, int], path: Path) -> Path:
    """The analyst's `claim_id,label` CSV, sorted by claim id."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["claim_id", "label"])
        for claim_id in sorted(labels):
            writer.writerow([claim_id, labels[claim_id]])
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path, help="a run output holding claims/")
    parser.add_argument("truth", type=Path, help="the synth corpus's truth/ folder")
    parser.add_argument("--to", type=Path, required=True, help="the labels CSV to write")
    args = parser.parse_args(argv)
    labels = labels_from_truth(args.out, args.truth)
    write_labels(labels, args.to)
    print(f"{len(labels)} labels ({sum(labels.values())} fraud) written to {args.to}")


if __name__ == "__main__":
    main()
