# Responder: `make run` serves the app with demo data; `make test` runs every check.
# Both work on a fresh machine with Python 3.11+, Node.js and npm.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
TEST_DATABASE_URL_PG ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

# Every package comes from a hashed lock file (.ci/locks): pip and setuptools first, so the one
# package published only as source (docopt) is built with hash-checked tools, never fetched ones.
PIP_LOCKED := $(BIN)/python -m pip install --quiet --require-hashes
LOCKS := requirements-build.lock requirements.lock requirements-dev.lock

.PHONY: run test test-pg drills e2e e2e-deps audit lint format assets deps dev-deps clean bench lock lock-check

run: export PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)
run: deps assets
	$(FLASK) db upgrade
	$(FLASK) demo seed
	$(FLASK) playbooks check
	@echo ""
	@echo "Responder is starting at http://$(HOST):$(PORT)  (dev outbox: http://$(HOST):$(PORT)/dev/outbox)"
	@echo ""
	$(FLASK) run --host $(HOST) --port $(PORT) --no-reload

test: dev-deps assets
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -n auto --durations=10

# The same suite against PostgreSQL (CI runs this after `make test`).
test-pg: dev-deps assets
	TEST_DATABASE_URL=$(TEST_DATABASE_URL_PG) $(BIN)/pytest -n auto --durations=10

# Fault drills (CI runs this after the PostgreSQL leg): processes killed, PostgreSQL stopped and
# frozen (a throwaway cluster of their own, never the shared server), Twilio down; every text once.
drills: dev-deps
	RESPONDER_DRILLS=1 $(BIN)/pytest tests/drills --durations=10

# From the outside (CI runs this after `make test`): browser journeys with axe-core checks on
# Debian's Chromium, schemathesis against the live API, the server's log searched for secrets.
CHROMIUM ?= /usr/bin/chromium
e2e: e2e-deps assets
	RESPONDER_E2E=1 CHROMIUM=$(CHROMIUM) $(BIN)/pytest tests/e2e

# Debian's chromium, not a test tool's own browser download; sudo only when not root.
e2e-deps: dev-deps node_modules/.package-lock.json
	@test -x $(CHROMIUM) || { \
	  echo "Installing Debian's chromium for the browser journeys"; \
	  SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	}

# Known vulnerabilities in the lock files (says so, and passes, when the advisory data is out of reach).
audit: dev-deps
	$(BIN)/python .ci/audit-dependencies

lint: dev-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: dev-deps
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: dev-deps
	$(BIN)/python benchmarks/all.py

# After editing requirements*.txt: re-resolve and hash every package, keeping every pin it can.
# `make lock UPGRADE=1` takes the newest version of everything instead.
lock: | $(VENV)/bin/python
	$(BIN)/python .ci/locks compile $(if $(UPGRADE),--upgrade)

# Each requirements file agrees with its lock (names what does not); CI runs it too.
lock-check:
	$(PYTHON) .ci/locks check

deps: $(VENV)/.deps
dev-deps: $(VENV)/.dev-deps

$(VENV)/bin/python:
	$(PYTHON) -c 'import sys; sys.exit("Responder needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.deps: requirements.txt requirements-build.txt $(LOCKS) | $(VENV)/bin/python
	$(PYTHON) .ci/locks check
	$(PIP_LOCKED) -r requirements-build.lock
	$(PIP_LOCKED) --no-build-isolation -r requirements.lock
	touch $@

$(VENV)/.dev-deps: requirements.txt requirements-dev.txt requirements-build.txt $(LOCKS) | $(VENV)/bin/python
	$(PYTHON) .ci/locks check
	$(PIP_LOCKED) -r requirements-build.lock
	$(PIP_LOCKED) --no-build-isolation -r requirements-dev.lock
	touch $(VENV)/.deps $@

# GOV.UK Frontend comes from the npm registry, compiled with our settings; htmx (the incident
# page's live panels) is copied beside it, so both are served as static files.
assets: responder/static/dist/app.css responder/static/dist/htmx.min.js

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

responder/static/dist/app.css responder/static/dist/htmx.min.js &: node_modules/.package-lock.json responder/static/src/app.scss
	npm run --silent build

clean:
	rm -rf $(VENV) node_modules responder/static/dist .pytest_cache .ruff_cache
