# Two commands do all the set-up: `make run` serves the demo, `make test` tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint fmt demo-data clean deploy-check deploy-lock bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo-data: $(STAMP)
	$(BIN)/mcp-pdp migrate
	$(BIN)/mcp-pdp tools sync demo/tools.json
	$(BIN)/mcp-pdp seed demo/seed.json

## Serve the demo on http://127.0.0.1:8080 (SQLite file ./mcp-pdp.db).
run: demo-data
	$(BIN)/mcp-pdp serve

## Every test: policy cases, unit, API on SQLite and Postgres, a real server.
test: $(STAMP)
	$(BIN)/mcp-pdp test --tools demo/tools.json
	$(BIN)/pytest

## Lint and type-check the service.
lint: $(STAMP)
	$(BIN)/ruff check service tests migrations bench deploy
	$(BIN)/ruff format --check service tests migrations bench deploy
	$(BIN)/mypy
	$(BIN)/mypy --strict deploy/agentcore
	$(BIN)/mcp-pdp fmt --check

## Benchmark against Cerbos (bench/README.md). Installs wrk (apt-get) and the cerbos npm
## package (into bench/.cache) when missing; needs PostgreSQL and Redis on 127.0.0.1. Not run in CI.
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

fmt: $(STAMP)
	$(BIN)/ruff format service tests migrations bench deploy
	$(BIN)/ruff check --fix service tests migrations bench deploy

DEPLOY_STAMP := $(VENV)/.installed-deploy

$(DEPLOY_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,deploy]'
	touch $(DEPLOY_STAMP)

## Lint the Dockerfile and scripts, render the Helm chart and validate it against Kubernetes schemas.
deploy-check: $(DEPLOY_STAMP)
	$(BIN)/python deploy/check.py

## Pin the image's dependencies (deploy/requirements.txt) to what pyproject.toml resolves to now.
deploy-lock: $(STAMP)
	$(BIN)/python deploy/pin_requirements.py

clean:
	rm -rf $(VENV) mcp-pdp.db mcp-pdp.db-shm mcp-pdp.db-wal
