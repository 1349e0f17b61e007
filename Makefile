# Two commands for a new machine: `make run` (install + start) and `make test` (install + test).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
# Four processes on two cores: a third of the suite waits on real seconds (outages, idle
# windows, crash stories), and those waits overlap with the rest.
PYTEST_WORKERS ?= 4

.PHONY: install run test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

run: install
	$(BIN)/partnerline serve --sandbox --config $${PARTNERLINE_CONFIG:-examples/agency.toml}

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -n $(PYTEST_WORKERS)

bench: install
	$(BIN)/python -m bench.hours
	$(BIN)/python -m bench.simulate
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.timers
	$(BIN)/python -m bench.inbox
	$(BIN)/python -m bench.reports
	$(BIN)/python -m bench.e2e

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache partnerline.db*
