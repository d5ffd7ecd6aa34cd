# One venv, one install step; every target below depends on it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test lint format bench bench-ab clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "aqueue needs Python 3.11+: run make PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)  ## embedded Redis + a worker + a producer that enqueues by name
	$(PY) examples/demo.py

test: $(STAMP)  ## the whole suite, against a real redis-server started by the tests
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check aqueue tests bench examples
	$(VENV)/bin/ruff format --check aqueue tests bench examples
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format aqueue tests bench examples
	$(VENV)/bin/ruff check --fix aqueue tests bench examples

bench: $(STAMP)  ## aqueue vs plain arq, workflows vs Celery, cron punctuality; writes bench/results/
	$(PY) -m bench
	$(PY) -m bench.workflows
	$(PY) -m bench.cron

REF ?= main
bench-ab: $(STAMP)  ## A/B: the working tree's aqueue vs aqueue at git ref REF (default main), one run
	$(PY) -m bench --ab $(REF)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache bench/.celery-venv bench/.taskiq-venv
