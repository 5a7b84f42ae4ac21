# The README's two commands: `make all` (build every bundle) and `make test`.
# Every target goes through scripts/bootstrap.sh first, which is a no-op when
# everything is in place: `make all` and `make lint` need only .venv (no apt, no root),
# `make test` also the Debian tools the tests run for real.
SHELL := /bin/bash
BIN := .venv/bin
CORES ?= 4
PYTEST_ARGS ?=

.DEFAULT_GOAL := all
.PHONY: all venv env test lint

venv:
	@bash scripts/bootstrap.sh --venv-only

env:
	@bash scripts/bootstrap.sh

all: venv
	$(BIN)/snakemake --cores $(CORES) all

# pytest exits 5 when it collected nothing: make that a loud failure, not a silent pass.
test: env
	@rc=0; $(BIN)/python -m pytest -q $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests (exit 5)" >&2; fi; \
	exit $$rc

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
