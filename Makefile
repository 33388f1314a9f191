# Everything a newcomer needs, from a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run demo test lint typecheck imports unit integration e2e faults contracts clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## The whole pipeline on the embedded stack, feeding demo contacts and
## printing each outcome as it happens, until Ctrl-C.
run: install
	$(VENV)/bin/mash up --demo

## A finite demo: 50 contacts, a table, and `demo: N contacts, M outcomes, R rejected, L lost`.
demo: install
	$(VENV)/bin/mash demo

## Lint, types, architecture, then every test layer (starts and stops its own servers).
test: install lint typecheck imports
	$(PY) -m pytest -p no:cacheprovider

lint: install
	$(VENV)/bin/ruff check .

typecheck: install
	$(VENV)/bin/mypy contracts plumbing services mash synthetic

imports: install
	$(VENV)/bin/lint-imports

unit: install
	$(PY) -m pytest tests/unit
integration: install
	$(PY) -m pytest tests/integration
e2e: install
	$(PY) -m pytest tests/e2e
## Fault injection: kill services, the database, an agency, the broker; prints a table.
faults: install
	$(PY) -m pytest -s tests/faults

## Regenerate the JSON Schemas and AsyncAPI documents after changing a contract.
contracts: install
	$(PY) -m contracts.export
	$(PY) scripts/export_asyncapi.py

clean:
	rm -rf .mash .pytest_cache .mypy_cache .ruff_cache
