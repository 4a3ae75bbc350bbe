"""Train and promote the first fraud model from a synthetic corpus.

`python -m pipeline.fraud.bootstrap --corpus DIR --packets N --seed S` generates a synth
corpus, turns every truth into the claim a perfect pipeline would write
(`claim_from_truth`), then roughens it like a real run would (values dropped, confidences
jittered, low-confidence flags, an occasional misread digit) so the model does not learn
to rely on perfect extraction. It writes `claims/` and `labels.csv` like a run output,
trains, promotes, and scores the new model on a corpus of a fresh seed.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
from pathlib import Path

from pipeline.eval import claim_from_truth
from pipeline.fraud.registry import (
    DEFAULT_MODELS_DIR,
    Metrics,
    ModelCard,
    card_markdown,
    evaluate,
    promote,
    train_candidate,
)
from pipeline.schema import Claim, ExtractedField, Flag, Fraud
from pipeline.synth import generate_corpus
from pipeline.synth.plan import plan_packet
from pipeline.truth import Truth

__all__ = ["roughen", "write_run", "main"]

_DIGITS = "0123456789"


def _drop(field: ExtractedField, rng: random.Random, rate: float) -> ExtractedField:
    if field.value is None:
        return field
    if rng.random() < rate:
        return ExtractedField.missing()
    return field.model_copy(update={"confidence": round(rng.uniform(0.55, 1.0), 3)})


def _misread(value: str, rng: random.Random) -> str:
    spots = [i for i, c in enumerate(value) if c in _DIGITS]
    if not spots:
        return value
    i = rng.choice(spots)
    return value[:i] + rng.choice(_DIGITS.replace(value[i], "")) + value[i + 1 :]


def roughen(claim: Claim, sex: str | None, rng: random.Random, drop_rate: float = 0.08) -> Claim:
    """`claim` as an imperfect pipeline might have written it; the fraud block is cleared."""
    documents = []
    for document in claim.documents:
        fields = {name: _drop(f, rng, drop_rate) for name, f in document.fields.items()}
        if document.doc_type == "claim_form" and sex is not None and rng.random() < 0.75:
            fields["patient_sex"] = ExtractedField(value=sex, confidence=0.9)
        number = fields.get("invoice_number")
        if number is not None and isinstance(number.value, str) and rng.random() < 0.03:
            fields["invoice_number"] = number.model_copy(
                update={"value": _misread(number.value, rng), "confidence": 0.5}
            )
        documents.append(document.model_copy(update={"fields": fields}))
    items = []
    for item in claim.line_items:
        update: dict[str, object] = {"confidence": round(rng.uniform(0.6, 1.0), 3)}
        for name in ("unit_price", "code", "service_date", "quantity"):
            if rng.random() < drop_rate / 2:
                update[name] = None
        items.append(item.model_copy(update=update))
    claim_fields = claim.fields.model_copy(
        update={
            name: _drop(getattr(claim.fields, name), rng, drop_rate / 2)
            for name in type(claim.fields).model_fields
        }
    )
    flags = [
        Flag(code="LOW_CONFIDENCE", field="fields", message="synthetic low-confidence value")
        for _ in range(rng.choice((0, 0, 0, 1, 1, 2, 3)))
    ]
    return claim.model_copy(
        update={
            "documents": documents,
            "line_items": items,
            "fields": claim_fields,
            "flags": flags,
            "fraud": Fraud(),
        }
    )


def write_run(truths: list[Truth], out: Path, rng: random.Random) -> Path:
    """`out/claims/*.json` and `out/labels.csv` from truths, in packet order; returns the CSV."""
    (out / "claims").mkdir(parents=True, exist_ok=True)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    labels = out / "labels.csv"
    with labels.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["claim_id", "label"])
        for order, truth in enumerate(sorted(truths, key=lambda t: t.packet)):
            index = int(truth.packet.split("-")[-1].split(".")[0])
            sex = plan_packet(truth.seed, index).patient.sex
            claim = roughen(claim_from_truth(truth), sex, rng).model_copy(
                update={"processed_at": (start + dt.timedelta(minutes=order)).isoformat()}
            )
            (out / "claims" / f"{claim.claim_id}.json").write_text(
                claim.model_dump_json(indent=1), encoding="utf-8"
            )
            writer.writerow([claim.claim_id, truth.fraud.label])
    return labels


def _add_external(models_dir: Path, version: str, name: str, metrics: Metrics) -> None:
    path = models_dir / version / "card.json"
    card = ModelCard.model_validate_json(path.read_bytes())
    card = card.model_copy(update={"external_metrics": {**card.external_metrics, name: metrics}})
    path.write_text(card.model_dump_json(indent=2) + "\n", encoding="utf-8")
    (models_dir / version / "card.md").write_text(card_markdown(card), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--packets", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--eval-packets", type=int, default=400)
    parser.add_argument("--eval-seed", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--models", type=Path, default=DEFAULT_MODELS_DIR)
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    train_dir = args.corpus / f"seed{args.seed}"
    truths = generate_corpus(train_dir, args.packets, args.seed, "digital", args.workers)
    labels = write_run(truths, train_dir / "out", rng)
    candidate = train_candidate(
        [labels],
        [train_dir / "out"],
        models_dir=args.models,
        training_data=(
            f"{args.packets} synthetic packets (pipeline.synth, seed {args.seed}) turned into "
            "claims by claim_from_truth, i.e. PERFECT extraction, then roughened: about 8% of "
            "values dropped, confidences jittered, 3% of invoice numbers misread by one digit, "
            "random LOW_CONFIDENCE flags; patient_sex added to 75% of claim forms (the synth "
            "claim form prints it). Labels are the synth truth's fraud.label."
        ),
    )
    promote(candidate.version, args.models, force=True)
    print(f"trained and promoted {candidate.version}: {candidate.card.metrics}")

    eval_seed = args.eval_seed if args.eval_seed is not None else args.seed + 1000
    eval_dir = args.corpus / f"seed{eval_seed}"
    eval_truths = generate_corpus(eval_dir, args.eval_packets, eval_seed, "digital", args.workers)
    eval_labels = write_run(eval_truths, eval_dir / "out", random.Random(eval_seed))
    metrics = evaluate(candidate.version, [eval_labels], [eval_dir / "out"], models_dir=args.models)
    _add_external(args.models, candidate.version, f"fresh synth seed {eval_seed}", metrics)
    print(f"fresh seed {eval_seed} ({args.eval_packets} packets): {metrics}")


if __name__ == "__main__":
    main()
