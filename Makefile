# Two commands: `make run` (the app) and `make test` (the suite). Both create .venv and install the pinned
# requirements and the package when missing or out of date, and skip that in a second when already set up.
# `make test` first lints (ruff on partkd/, partkd_app/, benchmarks/; mypy on the packages), then runs the suite.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.partkd-installed

.PHONY: setup run test lint

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	$(PY) -m partkd video setup >/dev/null || echo "partkd video setup failed: the Your video page will say how to retry"
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m streamlit run app.py

lint: $(STAMP)
	$(PY) -m ruff check partkd partkd_app benchmarks
	$(PY) -m ruff format --check partkd partkd_app benchmarks
	$(PY) -m mypy

test: lint
	$(PY) -m pytest -q
