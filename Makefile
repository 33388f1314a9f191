# Everything a newcomer needs, from a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
DEBIAN_TOOLS := prometheus chromium chromium-driver
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install tools run demo test lint typecheck imports calibration unit integration e2e faults contracts clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Debian's tools the tests use: Prometheus (promtool tests the alert and
## recording rules, and an integration test runs a real Prometheus against
## the embedded stack), and Chromium with its driver for the desk's browser
## tests (no browser is ever downloaded).
tools:
	@command -v promtool >/dev/null 2>&1 && command -v chromium >/dev/null 2>&1 && \
	  command -v chromedriver >/dev/null 2>&1 || { \
	  echo "installing Debian's prometheus (promtool), chromium and chromium-driver for the tests"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q --no-install-recommends $(DEBIAN_TOOLS) >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $(DEBIAN_TOOLS) >/dev/null; }; }
	@command -v promtool >/dev/null 2>&1 || { echo "promtool is still missing: apt-get install prometheus"; exit 1; }
	@command -v chromedriver >/dev/null 2>&1 || { echo "chromedriver is still missing: apt-get install chromium chromium-driver"; exit 1; }

## The whole pipeline on the embedded stack, feeding demo contacts and
## printing each outcome as it happens, and the desk (its address and demo
## accounts printed), until Ctrl-C.
run: install
	$(VENV)/bin/mash up --demo

## A finite demo: 50 contacts, a table, and `demo: N contacts, M outcomes, R rejected, L lost`.
demo: install
	$(VENV)/bin/mash demo

## Lint, types, architecture, then every test layer (starts and stops its own servers).
test: install tools lint typecheck imports calibration
	$(PY) -m pytest -p no:cacheprovider --durations=15

lint: install
	$(VENV)/bin/ruff check .

typecheck: install
	$(VENV)/bin/mypy contracts judgement plumbing services mash synthetic bench

imports: install
	$(VENV)/bin/lint-imports

## The threshold model against the calibration set: fails on any dangerous
## downgrade, exact RAG below 90% or outcome below 85%.
calibration: install
	$(VENV)/bin/mash rules check

unit: install
	$(PY) -m pytest tests/unit
integration: install
	$(PY) -m pytest tests/integration
e2e: install
	$(PY) -m pytest tests/e2e
## Fault injection: kill services, the database, an agency, the broker; prints a table.
faults: install
	MASH_FAULTS_CONTACTS=500 $(PY) -m pytest -s tests/faults

## The whole pipeline against its parts' limits (throughput, latency, priority, catch-up,
## memory) on its own embedded stack; a table and bench/results/pipeline-<time>.json.
## Takes an hour or more; `python -m bench.pipeline --scale 0.02` is a quick run.
bench: install
	$(PY) -m bench.pipeline

## Regenerate the JSON Schemas and AsyncAPI documents after changing a contract.
contracts: install
	$(PY) -m contracts.export
	$(PY) scripts/export_asyncapi.py

clean:
	rm -rf .mash .pytest_cache .mypy_cache .ruff_cache
