# Two entry points that work on a fresh machine with only Python 3.11+:
#   make run   - the main job: chatkit-pg run (bench, races, load test, report)
#   make test  - the test suite, exactly what CI runs
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/chatkit-pg run

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest tests
	$(BIN)/python -m pytest bench --profile smoke --benchmark-disable -q -p no:cacheprovider \
		--results "$$(mktemp -d)"  # a smoke run: its files are not worth keeping

bench: $(STAMP)
	$(BIN)/chatkit-pg bench

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .benchmarks
