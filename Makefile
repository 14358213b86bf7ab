# Two entry points that work on a fresh machine with only Python 3.11+:
#   make run   - the main job: chatkit-pg run (bench, races, load test, report)
#   make test  - the test suite, exactly what CI runs
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: run test lint bench clean

# The store contract and the race tests: what must hold on every server we support.
CONTRACT = $(filter-out tests/test_source.py,$(wildcard tests/test_*.py)) tests/concurrency
PG15_BINDIR ?= /usr/lib/postgresql/15/bin

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
	# Again on PostgreSQL 15 (Debian's), and through PgBouncer in transaction mode.
	CHATKIT_PG_PROVIDER=system CHATKIT_PG_BINDIR=$(PG15_BINDIR) \
		$(BIN)/python -m pytest $(CONTRACT) -q -p no:cacheprovider
	CHATKIT_PG_PGBOUNCER=true $(BIN)/python -m pytest $(CONTRACT) -q -p no:cacheprovider
	$(BIN)/python -m pytest bench --profile smoke --benchmark-disable -q -p no:cacheprovider \
		--results "$$(mktemp -d)"  # a smoke run: its files are not worth keeping

bench: $(STAMP)
	$(BIN)/chatkit-pg bench

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .benchmarks
