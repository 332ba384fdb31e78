# Two commands do all the set-up: `make run` serves the demo, `make test` tests.
# Every install comes from uv.lock (exact versions with hashes): this venv, CI's and the image's.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The uv that reads and writes uv.lock; the same as `required-version` in pyproject.toml
# and the Dockerfile's.
UV_VERSION := 0.13.9
UV := $(BIN)/uv
UV_STAMP := $(VENV)/.uv-$(UV_VERSION)
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))

.PHONY: run test test-fast lint fmt demo-data clean deploy-check lock bench

# Only python3 is needed: uv comes from PyPI into the project's own venv.
$(UV_STAMP):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	touch $(UV_STAMP)

# --compile-bytecode, as pip does: where PYTHONDONTWRITEBYTECODE is set, every process
# would otherwise compile every module it imports, doubling start-up.
$(STAMP): pyproject.toml uv.lock $(UV_STAMP)
	$(UV) sync --quiet --locked --compile-bytecode --extra dev
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

## The same on SQLite only, without PostgreSQL (Redis is still used): a quicker loop.
test-fast: $(STAMP)
	$(BIN)/mcp-pdp test --tools demo/tools.json
	MCP_PDP_TEST_DATABASES=sqlite $(BIN)/pytest -m "not postgres"

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

$(DEPLOY_STAMP): $(STAMP)
	$(UV) sync --quiet --locked --compile-bytecode --extra dev --extra deploy
	touch $(DEPLOY_STAMP)

## Lint the Dockerfile and scripts, render the Helm chart and validate it against Kubernetes schemas.
deploy-check: $(DEPLOY_STAMP)
	$(BIN)/python deploy/check.py

## Bring uv.lock in line with pyproject.toml, keeping every version it can;
## `make lock LOCK_ARGS=--upgrade` moves every package to its newest allowed version.
lock: $(UV_STAMP)
	$(UV) lock $(LOCK_ARGS)

clean:
	rm -rf $(VENV) mcp-pdp.db mcp-pdp.db-shm mcp-pdp.db-wal
