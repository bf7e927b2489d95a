# One entry point for people and CI. `make setup` is idempotent and is the first
# step of `make run` and `make test`, so on a fresh machine each of those alone works.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# checkov pins many packages that conflict with the project's (it would downgrade packaging), so it
# lives in a virtualenv of its own inside .venv; tests/deploy calls $(TOOLS)/bin/checkov.
TOOLS  := $(VENV)/tools
CHECKOV_VERSION := 3.3.30
PROTOS := $(shell find protos -name '*.proto' 2>/dev/null)
GEN    := gen

.PHONY: help setup system-deps proto run test test-unit lint fuzz bench bench-deps mutate chart-check chart-generate clean seed-bulk

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

setup: system-deps $(VENV)/.installed $(GEN)/.stamp $(TOOLS)/.installed ## virtualenv, packages, redis-server, promtool, checkov, generated gRPC code

system-deps: ## Debian's redis-server, promtool (package prometheus), chromium and python3-venv when missing (apt, as root)
	@$(PYTHON) -c 'import ensurepip, venv' >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" != 0 ]; then echo "Python's venv is missing: run 'sudo apt-get install python3-venv'"; exit 1; fi; \
	  echo "installing python3-venv (apt)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; }
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" != 0 ]; then echo "redis-server is missing: run 'sudo apt-get install redis-server' (or make setup as root)"; exit 1; fi; \
	  echo "installing redis-server (apt)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	  systemctl disable --now redis-server >/dev/null 2>&1 || true; }
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" != 0 ]; then echo "chromium is missing (the portal's browser tests): run 'sudo apt-get install chromium'"; exit 1; fi; \
	  echo "installing chromium (apt)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null; }
	@command -v promtool >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" != 0 ]; then echo "promtool is missing: run 'sudo apt-get install prometheus' (or make setup as root)"; exit 1; fi; \
	  echo "installing promtool (apt: prometheus)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	  systemctl disable --now prometheus >/dev/null 2>&1 || true; }

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing Python packages into $(VENV) (log: $(VENV)/pip.log)"
	@$(BIN)/python -m pip install --disable-pip-version-check --upgrade pip > $(VENV)/pip.log 2>&1 \
	  && $(BIN)/python -m pip install --disable-pip-version-check -e '.[dev,local]' >> $(VENV)/pip.log 2>&1 \
	  || { tail -n 30 $(VENV)/pip.log; echo "pip install failed (full log: $(VENV)/pip.log)"; exit 1; }
	@touch $@

$(TOOLS)/.installed: Makefile $(VENV)/.installed
	@test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	@echo "installing checkov $(CHECKOV_VERSION) into $(TOOLS) (log: $(TOOLS)/pip.log)"
	@$(TOOLS)/bin/python -m pip install --disable-pip-version-check "checkov==$(CHECKOV_VERSION)" > $(TOOLS)/pip.log 2>&1 \
	  || { tail -n 30 $(TOOLS)/pip.log; echo "checkov install failed (full log: $(TOOLS)/pip.log)"; exit 1; }
	@touch $@

proto: $(GEN)/.stamp ## generate Python code and .pyi stubs from protos/ into gen/ (the `jkn` package)

$(GEN)/.stamp: $(PROTOS) $(VENV)/.installed
	@rm -rf $(GEN) && mkdir -p $(GEN)
	@PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m grpc_tools.protoc -I protos \
	  --python_out=$(GEN) --grpc_python_out=$(GEN) --mypy_out=quiet:$(GEN) --mypy_grpc_out=quiet:$(GEN) $(PROTOS)
	@find $(GEN)/jkn -type d -exec touch {}/__init__.py \;
	@echo "$(abspath $(GEN))" > "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/jkn-generated.pth"
	@touch $@
	@echo "generated gRPC code for $(words $(PROTOS)) protos into $(GEN)/jkn"

run: setup ## the whole stack in the foreground (Ctrl-C stops it); state in JKN_DATA_DIR (./var)
	@$(BIN)/python -m services.devstack

test: setup ## the whole test suite against real servers it starts itself
	@$(BIN)/python -m pytest $(PYTEST_ARGS)

test-unit: setup ## only the tests that need no server
	@$(BIN)/python -m pytest -m "not e2e" $(PYTEST_ARGS)

fuzz: setup ## schemathesis against a fresh local stack logged in as Dewi for FUZZ_SECONDS (300); fails on any finding (report in var/fuzz)
	@$(BIN)/python -m tests.fuzz --seconds $(or $(FUZZ_SECONDS),300) $(if $(FUZZ_SEED),--seed $(FUZZ_SEED)) $(if $(FUZZ_ARGS),-- $(FUZZ_ARGS))

lint: setup ## ruff and mypy
	@$(BIN)/ruff check services tests bench deploy
	@$(BIN)/mypy

bench-deps: ## wrk (Debian package) for the HTTP benchmarks, when missing (apt, as root)
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" != 0 ]; then echo "wrk is missing: run 'sudo apt-get install wrk'"; exit 1; fi; \
	  echo "installing wrk (apt)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

bench: setup bench-deps ## benchmarks (ratios against a baseline measured in the same run), then one summary table
	@$(BIN)/python -m bench.summary kit_rpc_overhead otp read_path membership queue

mutate: setup ## mutation testing: each pure rule module against its own unit tests; fails below 90 % (tests/mutate.py)
	@$(BIN)/python -m tests.mutate --min-score 90

chart-check: setup ## the chart's offline checks: lint, schema, kubernetes-validate, checkov, promtool, metrics
	@$(BIN)/python -m pytest tests/deploy -q

chart-generate: setup ## rewrite the chart's values schema, alert rules and dashboards from deploy/chartgen
	@$(BIN)/python -m deploy.chartgen

clean: ## remove generated code and local state (keeps .venv)
	rm -rf $(GEN) var .pytest_cache

seed-bulk: setup ## N synthetic participants into the running stack's membership database (e.g. N=1000000)
	@$(BIN)/python -m services.membership.bulk $(or $(N),100000)
