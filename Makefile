# The two commands of the README: `make run` and `make test`. Everything else helps them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# The embedded PostgreSQL and keys live here when developing (ignored by git; see README).
export LEDGER_DATA_DIR ?= $(CURDIR)/.ledger

.PHONY: run test lint typecheck unit bench bench-scale install clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade "pip>=25.1"
	$(BIN)/pip install --quiet --disable-pip-version-check -e . --group test --group lint
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/ledger demo --once --pages http://$(HOST):$(PORT)
	$(BIN)/ledger serve --host $(HOST) --port $(PORT) --projections

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec compose.yaml
	$(BIN)/lint-imports --no-logo

typecheck: $(STAMP)
	$(BIN)/mypy domain application projections api

test: lint typecheck
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/queries.py
	$(BIN)/python bench/catch_up.py
	$(BIN)/python bench/pages.py

# The ledger filled to 10 thousand, 1 million and 10 million events (long: SIZES=10k,1M to stop
# earlier); the table is printed and the plot drawn in docs/scale.png.
SIZES ?= 10k,1M,10M
bench-scale: $(STAMP)
	$(BIN)/pip install --quiet --disable-pip-version-check --group bench
	$(BIN)/python bench/scale.py --sizes $(SIZES)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
