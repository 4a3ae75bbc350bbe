# claim-intake: `make run` and `make test` do all the set-up a fresh machine needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(PYTHON) -m uv
APT_PACKAGES := tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim fonts-dejavu-core fonts-liberation
TESS_LANGS := eng chi_sim osd
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)
PG_INITDB := /usr/lib/postgresql/*/bin/initdb
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export OMP_THREAD_LIMIT := 1

.PHONY: help setup system venv browser postgres run test test-fast lint models fraud-model bench samples clean

help:
	@echo "make run    - install what is missing, then process sample_docs/inbox into out/"
	@echo "make test   - install what is missing, then run the test suite"
	@echo "make models - retrain the shipped models from a fresh synthetic corpus"
	@echo "make bench  - throughput and memory benchmark (results in bench/results.md)"
	@echo "make lint   - ruff and mypy"

# Our own modules compiled too (a second, in place): with PYTHONDONTWRITEBYTECODE set, as it
# often is in containers, Python would compile them again in every process of every run.
setup: system venv
	@$(BIN)/python -m compileall -q pipeline flows bench >/dev/null

# System packages: Tesseract with English, Simplified Chinese and orientation data, and fonts.
system:
	@missing=""; \
	command -v tesseract >/dev/null 2>&1 || missing="yes"; \
	if [ -z "$$missing" ]; then \
	  langs="$$(tesseract --list-langs 2>/dev/null)"; \
	  for l in $(TESS_LANGS); do grep -qx "$$l" <<<"$$langs" || missing="yes"; done; \
	fi; \
	[ -d /usr/share/fonts/truetype/dejavu ] || missing="yes"; \
	if [ -n "$$missing" ]; then \
	  echo ">> installing system packages: $(APT_PACKAGES)"; \
	  if ! command -v apt-get >/dev/null 2>&1; then \
	    echo "!! apt-get not found: install Tesseract 5 with the eng, chi_sim and osd language data and DejaVu fonts with your package manager, then re-run make" >&2; exit 1; \
	  fi; \
	  if [ -n "$(SUDO)" ] && ! command -v sudo >/dev/null 2>&1; then \
	    echo "!! not root and no sudo: as root run 'apt-get install -y $(APT_PACKAGES)', then re-run make" >&2; exit 1; \
	  fi; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES) >/dev/null \
	    || { echo "!! apt-get install failed: as root run 'apt-get install -y $(APT_PACKAGES)', then re-run make" >&2; exit 1; }; \
	fi

# The virtual environment, exactly as uv.lock pins it; re-synced when the lock changes.
# Installed with its bytecode (.pyc): a run starts ~8 s sooner and spends ~13 CPU s less
# when Python cannot write .pyc files itself (PYTHONDONTWRITEBYTECODE, a read-only venv).
venv: $(VENV)/.synced

$(VENV)/.synced: pyproject.toml uv.lock Makefile
	@$(UV) --version >/dev/null 2>&1 || { echo ">> installing uv"; $(PYTHON) -m pip install --quiet uv; }
	@$(UV) sync --frozen --quiet --compile-bytecode
	@touch $@

run: setup
	$(BIN)/claim-intake run sample_docs/inbox --out out

test: setup browser postgres
	$(BIN)/python -m pytest -q

# Debian's Chromium for the review app's end-to-end test (Playwright drives it; no browser
# download is possible or needed).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo ">> installing chromium for the browser test"; \
	  ( $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null ) \
	    || echo "!! could not install chromium: the browser test will be skipped; as root run 'apt-get install -y chromium'" >&2; \
	fi

# Debian's PostgreSQL server binaries, so the ledger's PostgreSQL tests run: each test session
# starts its own throw-away server in a temp dir (tests/postgres.py); no cluster is used.
postgres:
	@if ! command -v initdb >/dev/null 2>&1 && ! ls $(PG_INITDB) >/dev/null 2>&1; then \
	  echo ">> installing postgresql for the ledger's PostgreSQL tests"; \
	  if ! command -v apt-get >/dev/null 2>&1; then \
	    echo "!! apt-get not found: install the PostgreSQL server (initdb, pg_ctl, postgres) with your package manager, then re-run make" >&2; exit 1; \
	  fi; \
	  if [ -n "$(SUDO)" ] && ! command -v sudo >/dev/null 2>&1; then \
	    echo "!! not root and no sudo: as root run 'apt-get install -y postgresql', then re-run make" >&2; exit 1; \
	  fi; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql >/dev/null \
	    || { echo "!! apt-get install failed: as root run 'apt-get install -y postgresql', then re-run make" >&2; exit 1; }; \
	fi

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

lint: venv
	$(BIN)/ruff check pipeline flows tests bench
	$(BIN)/ruff format --check pipeline flows tests bench
	$(BIN)/mypy

# Retrain the shipped models from a fresh synthetic corpus (deterministic for the seed).
# 1. the page classifier, trained on a corpus read by the pipeline's own reader;
# 2. the value calibrator, fitted on a second corpus run with raw (uncalibrated) scores.
models: setup
	$(BIN)/python -m pipeline.classify.train --corpus build/models-corpus --packets 120 --seed 1001 --models models
	$(BIN)/claim-intake synth build/calib-corpus --packets 60 --seed 3001 --profile mixed
	@mkdir -p build && printf 'calibrate_values = false\n' > build/raw-scores.toml
	rm -rf build/calib-out
	$(BIN)/claim-intake run build/calib-corpus/inbox --out build/calib-out --config build/raw-scores.toml --quiet
	$(BIN)/python -m pipeline.calibration --out build/calib-out --truth build/calib-corpus/truth --models models

# The fraud model, trained the way an analyst would: on claim files the pipeline itself wrote
# for synthetic corpora (one digital, three mixed digital/scanned), labelled from their truth,
# then promoted unless worse than CURRENT (FORCE=1 to override, e.g. after the feature list
# changed and CURRENT can no longer be compared). Slow: about an hour on two cores.
FRAUD_BUILD := build/fraud-model
FRAUD_CORPORA := digital:800:101 mixed:200:102 mixed:250:103 mixed:250:104
fraud-model: setup
	@mkdir -p $(FRAUD_BUILD) && printf 'score_fraud = false\n' > $(FRAUD_BUILD)/run.toml
	@set -e; labels=""; claims=""; \
	for spec in $(FRAUD_CORPORA); do \
	  IFS=: read -r profile packets seed <<<"$$spec"; dir=$(FRAUD_BUILD)/$$profile-$$seed; \
	  $(BIN)/claim-intake synth $$dir --packets $$packets --seed $$seed --profile $$profile; \
	  rm -rf $$dir-out; \
	  $(BIN)/claim-intake run $$dir/inbox --out $$dir-out --config $(FRAUD_BUILD)/run.toml --quiet; \
	  $(BIN)/python -m pipeline.fraud.labels $$dir-out $$dir/truth --to $$dir-labels.csv; \
	  labels="$$labels --labels $$dir-labels.csv"; claims="$$claims --claims $$dir-out"; \
	done; \
	$(BIN)/claim-intake fraud train $$labels $$claims --promote $(if $(FORCE),--force) \
	  --data-note "claim files written by claim-intake run (score_fraud = false) for synth corpora $(FRAUD_CORPORA) (profile:packets:seed), labels = the truth's fraud.label (make fraud-model)"

samples: setup
	rm -rf sample_docs/inbox sample_docs/truth
	$(BIN)/claim-intake synth sample_docs --packets 6 --seed 7 --profile mixed

bench: setup
	$(BIN)/claim-intake synth build/bench/scanned --packets 24 --seed 2024 --profile scanned
	$(BIN)/claim-intake synth build/bench/digital --packets 40 --seed 2025 --profile digital
	$(BIN)/claim-intake synth build/bench/batch500 --packets 105 --seed 2026 --profile mixed
	$(BIN)/python bench/bench.py --scanned build/bench/scanned --digital build/bench/digital --batch build/bench/batch500 --workers $$(nproc --all) --results bench/results.md

clean:
	rm -rf out build .pytest_cache .mypy_cache .ruff_cache
