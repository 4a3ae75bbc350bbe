"""Synthetic claim packets with ground truth: `generate_corpus(out_dir, packets, seed, ...)`."""

from __future__ import annotations

from pipeline.synth.corpus import CorpusProfile, build_packet, generate_corpus

__all__ = ["CorpusProfile", "build_packet", "generate_corpus"]
