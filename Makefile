# One venv, one install step; every target below depends on it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test lint docs docs-serve format bench bench-ab clean

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

lint: $(STAMP) docs
	$(VENV)/bin/ruff check aqueue tests bench examples docs/examples
	$(VENV)/bin/ruff format --check aqueue tests bench examples docs/examples
	$(VENV)/bin/mypy

docs: $(STAMP)  ## the docs site into site/; a broken link, include or docstring reference fails it
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

docs-serve: $(STAMP)  ## the docs site on http://127.0.0.1:8000, rebuilt on every change
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve

format: $(STAMP)
	$(VENV)/bin/ruff format aqueue tests bench examples docs/examples
	$(VENV)/bin/ruff check --fix aqueue tests bench examples docs/examples

bench: $(STAMP)  ## aqueue vs plain arq, workflows vs Celery, cron punctuality; writes bench/results/
	$(PY) -m bench
	$(PY) -m bench.workflows
	$(PY) -m bench.cron
	$(PY) -m bench.limits
	$(PY) -m bench.ops_cost --out bench/results/ops-cost
	$(PY) -m bench.replicas_cost

REF ?= main
bench-ab: $(STAMP)  ## A/B: the working tree's aqueue vs aqueue at git ref REF (default main), one run
	$(PY) -m bench --ab $(REF)

clean:
	rm -rf $(VENV) site .pytest_cache .mypy_cache .ruff_cache bench/.celery-venv bench/.taskiq-venv
