# mlward — the two commands: `make demo` and `make test`. Each sets up what it needs.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
DEV_STAMP := $(VENV)/.mlward-dev-installed
DEMO_STAMP := $(VENV)/.mlward-demo-installed
# One pinned resolution of every extra (scripts/lock.sh): installs never search, so never stall.
CONSTRAINTS := requirements/constraints.txt
PYTEST_ARGS ?=

.PHONY: help demo test lint typecheck bench clean services browser

help:
	@echo "make demo   - set up and run the credit-risk demo (SQLite, local object store)"
	@echo "make test   - set up and run the whole test suite (needs PostgreSQL and Redis on 127.0.0.1)"
	@echo "make lint   - ruff check, ruff format --check, mypy over the whole package"
	@echo "make bench  - benchmarks against peer tools (writes bench/results/*.json)"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(DEMO_STAMP): pyproject.toml $(CONSTRAINTS) | $(PY)
	$(PIP) install -e '.[demo]' -c $(CONSTRAINTS)
	touch $@

$(DEV_STAMP): pyproject.toml $(CONSTRAINTS) | $(PY)
	$(PIP) install -e '.[dev]' -c $(CONSTRAINTS)
	touch $@ $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(PY) examples/credit-risk/run_demo.py

# Debian's Chromium renders HTML reports in the browser tests (never a downloaded build).
browser:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

services:
	@$(PY) scripts/check_services.py

test: $(DEV_STAMP) browser services
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check src tests bench examples scripts
	$(VENV)/bin/ruff format --check src tests bench examples scripts
	$(VENV)/bin/mypy

bench: $(DEV_STAMP)
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) bench/.venv* .pytest_cache .ruff_cache .mypy_cache build dist src/*.egg-info
