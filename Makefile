# Two commands on a fresh machine (only Python >= 3.11 and pip needed):
#   make run   - install, load the demo into the embedded SQLite database when it is empty, start the dashboard
#   make test  - install with the test extras, then ruff, mypy and pytest
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest install clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/servicelens db upgrade
	$(BIN)/servicelens demo --if-empty
	$(BIN)/streamlit run dashboard.py --server.headless true --browser.gatherUsageStats false

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python bench/ingest_bench.py
	$(BIN)/python bench/sla_bench.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
