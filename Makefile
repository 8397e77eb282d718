# gridcare: `make run` to run the service, `make test` to check everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run test lint typecheck contract contract-check pytest bench load lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install the locked dependencies

run: $(STAMP) ## run API + worker (embedded PostgreSQL/Redis unless GRIDCARE_*_URL are set)
	$(BIN)/gridcare dev

test: $(STAMP) lint typecheck contract-check pytest ## ruff, mypy, contract check, the whole test suite

lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check services tests migrations
	$(BIN)/ruff format --check services tests migrations

typecheck: $(STAMP) ## mypy --strict on services/
	$(BIN)/mypy

contract: $(STAMP) ## write contracts/openapi.json from the app
	$(BIN)/gridcare openapi

contract-check: $(STAMP) ## fail when contracts/openapi.json differs from the app
	$(BIN)/gridcare openapi --check

pytest: $(STAMP) ## the test suite alone
	$(BIN)/pytest -q

bench: $(STAMP) ## performance benchmarks in tests/perf (not part of make test)
	$(BIN)/pytest -q -s tests/perf -p no:randomly --override-ini addopts=""

load: $(STAMP) ## drive a running API over HTTP, e.g. make load LOAD_ARGS="--url http://127.0.0.1:8000 --duration 60"
	$(BIN)/gridcare load $(LOAD_ARGS)

lock: ## re-resolve requirements.lock from pyproject.toml
	$(BIN)/pip-compile --quiet --no-emit-index-url --no-emit-find-links --extra dev --strip-extras -o requirements.lock pyproject.toml

clean: ## remove .venv and .data (all local data!)
	rm -rf $(VENV) .data
