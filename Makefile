# CityOps: `make run` starts everything, `make test` checks everything.
# uv is installed into the user's Python if missing; it never downloads a Python.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
RUN := $(UV) run --frozen
PYTEST := $(RUN) pytest
SERVICES := detection intake dispatch workorders audit console

.PHONY: help install system-deps run demo test unit e2e lint proto proto-check bench bench-floor bench-ingest bench-megacity chaos clean

help:
	@echo "make run     start nats-server and every service (console http://127.0.0.1:8080)"
	@echo "make demo    the same, plus the city simulator feeding detections"
	@echo "make test    lint, proto-check, unit, integration, component and e2e tests"
	@echo "make bench   the floor (raw JetStream/SQLite, svckit hops, SQL layer costs), dispatch decisions/s, ledger appends/s and verifying 1M entries, and the loop"
	@echo "make bench-ingest    detection's ingest alone: accepted/s, CPU per report (DETECTIONS=n BATCH=b)"
	@echo "make bench-megacity  a generated city day through the whole loop (DETECTIONS=n RATE=r BATCH=b)"
	@echo "make chaos   100 fault-injection episodes, then the history check (SEED=n)"

install:
	@python3 -m uv --version >/dev/null 2>&1 || command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@# Bytecode compiled once here: where PYTHONDONTWRITEBYTECODE is set, every
	@# service process would otherwise compile every module it imports (≈ 5 s of
	@# CPU per start). Both steps skip what is up to date.
	@$(UV) sync --frozen --quiet --compile-bytecode
	@$(UV) run --frozen python -m compileall -q shared/src tools/src $(addsuffix /src,$(addprefix services/,$(SERVICES)))
	@command -v npm >/dev/null 2>&1 && npm ci --prefix services/console/frontend --no-audit --no-fund --silent || echo "npm not found: the console will run without its map and charts"

run: install
	$(RUN) python -m cityops_tools.devstack

demo: install
	$(RUN) python -m cityops_tools.devstack --simulate

test: install system-deps lint proto-check unit e2e

# The console's browser tests drive Debian's Chromium (never a browser download);
# the database tests start their own PostgreSQL from Debian's server binaries.
system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium fonts-noto-cjk"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "please install:$$missing (sudo apt-get install$$missing)"; exit 1; fi; \
	fi

unit: install
	$(PYTEST) shared tools infra $(addprefix services/,$(SERVICES)) -q

e2e: install
	$(PYTEST) e2e -q

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy shared/src tools/src $(addsuffix /src,$(addprefix services/,$(SERVICES))) \
		bench/megacity bench/common.py bench/floorlib.py bench/ingest.py bench/sqlcost.py \
		bench/samesource.py bench/audit.py bench/dispatch.py
	$(RUN) lint-imports
	cd protos && $(RUN) buf lint

proto: install
	cd protos && $(RUN) buf lint
	$(RUN) python tools/protogen.py

proto-check: install
	$(RUN) python tools/protogen.py --check

bench: install
	$(RUN) python bench/floor.py --messages 20000
	$(RUN) python bench/sqlcost.py
	$(RUN) python bench/dispatch.py --decisions 20000 --events 2000 --batch 128 --single 300
	$(RUN) python bench/audit.py --cases 1280 --entries 1000000
	$(RUN) python -m bench.samesource
	$(RUN) python bench/loop.py --detections 5000

bench-megacity: install
	$(RUN) python -m bench.megacity --detections $${DETECTIONS:-5000} --rate $${RATE:-100} --batch $${BATCH:-1}

bench-ingest: install
	$(RUN) python -m bench.ingest --detections $${DETECTIONS:-20000} --batch $${BATCH:-100}

bench-floor: install
	$(RUN) python bench/floor.py --messages 20000
	$(RUN) python bench/sqlcost.py

chaos: install
	$(RUN) python -m cityops_tools.chaos --episodes 100 --seed $${SEED:-7}

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache bench/results
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
