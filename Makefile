# Lepton's entry points. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

LEPTON_CACHE ?= $(HOME)/.cache/lepton
LEPTON_CLUSTER_DIR ?= /tmp/lepton-cluster
KUBECONFIG ?= $(LEPTON_CLUSTER_DIR)/kubeconfig
GPU_NODES ?= 4
GPUS_PER_NODE ?= 8
CPU_NODES ?= 2
PROMETHEUS ?= 0
export LEPTON_CACHE LEPTON_CLUSTER_DIR KUBECONFIG GPU_NODES GPUS_PER_NODE CPU_NODES PROMETHEUS
# The virtualenv is shared by every checkout on the machine and installs the last one that ran
# `make venv` in editable mode: this checkout's own code comes first, whichever that was (and even
# once that other checkout is deleted).
export PYTHONPATH := $(CURDIR)/operator$(if $(PYTHONPATH),:$(PYTHONPATH))

PY := .venv/bin/python
CLUSTER := PYTHONPATH=e2e python3 -m localcluster
PYTEST_ARGS ?=

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

HOSTPREP := PYTHONPATH=e2e python3 -m hostprep

.PHONY: setup
setup: ## install what the project needs: Debian packages, the pinned tools, the Python env
	e2e/setup-host.sh
	e2e/build-tools.sh >/dev/null
	e2e/build-prometheus.sh >/dev/null
	e2e/python-env.sh >/dev/null

.PHONY: venv
venv: ## make (or reuse) the Python environment, linked as .venv
	e2e/python-env.sh >/dev/null

.PHONY: tools
tools: ## build (or reuse) the pinned Kubernetes, etcd and KWOK binaries; prints their folder
	@e2e/build-tools.sh

.PHONY: cluster
cluster: ## start the local control plane (GPU_NODES=4 GPUS_PER_NODE=8 CPU_NODES=2 PROMETHEUS=0)
	@$(CLUSTER) up

.PHONY: cluster-down
cluster-down: ## stop the local control plane and remove its state
	@$(CLUSTER) down

.PHONY: cluster-status
cluster-status: ## say what runs
	@$(CLUSTER) status

.PHONY: kubeconfig
kubeconfig: ## print the local cluster's kubeconfig path
	@echo $(KUBECONFIG)

.PHONY: kubectl
kubectl: ## print a kubectl command line for the local cluster: eval "$$(make -s kubectl)"
	@echo "alias kubectl='$$(e2e/build-tools.sh --print)/kubectl --kubeconfig $(KUBECONFIG)'"

.PHONY: test
test: venv ## the whole suite: unit tests, then integration tests against the local cluster
	$(PY) -m pytest -m "not e2e" $(PYTEST_ARGS)

.PHONY: test-unit
test-unit: venv ## unit tests only (no cluster)
	$(PY) -m pytest $(PYTEST_ARGS)

.PHONY: test-fuzz
test-fuzz: venv ## fuzzed manifests only (LEPTON_FUZZ_EXAMPLES=500 for a longer run than CI's 50 per kind)
	$(PY) -m pytest -m fuzz -s $(PYTEST_ARGS)

.PHONY: test-chaos
test-chaos: venv ## chaos suite on the simulated cluster only (LEPTON_CHAOS_ROUNDS=10 for a longer run than CI's one cycle)
	$(PY) -m pytest -m "chaos and not e2e" -s $(PYTEST_ARGS)

.PHONY: test-integration
test-integration: venv ## integration tests (start the local cluster when it is not running)
	$(PY) -m pytest -m integration $(PYTEST_ARGS)

.PHONY: lint
lint: venv ## ruff, mypy --strict, import contracts, drift of the CRDs, dashboards and docs' tables
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	.venv/bin/lint-imports
	$(PY) -m lepton.api.generate --check
	$(PY) charts/dashboards.py --check
	$(PY) docs/generate.py --check

.PHONY: fmt
fmt: venv ## format the code
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

.PHONY: crds
crds: venv ## regenerate crds/ and the chart's CRDs from the pydantic models
	$(PY) -m lepton.api.generate

.PHONY: core-schema
core-schema: venv ## refresh the core/v1 schema the CRDs embed from the local API server, and the CRDs
	"$$(e2e/build-tools.sh --print)/kubectl" --kubeconfig $(KUBECONFIG) get --raw /openapi/v3/api/v1 \
		| $(PY) -m lepton.api.generate --core-schema -

.PHONY: bench-cluster
bench-cluster: venv ## cluster figures: warm start time, 1,000 fake GPU nodes
	$(PY) bench/bench_cluster.py

.PHONY: preflight-check
preflight-check: ## say in seconds what `make check` cannot set up by itself here (Go, root, disk...)
	@$(HOSTPREP) preflight check

# Recipe lines, not prerequisites: the order holds under `make -j` too. preflight refuses in seconds
# what setup could not fix (tests/unit/setup/test_make_graph.py checks the order with `make -n`).
.PHONY: check
check: ## what CI runs: set-up, lint, the suite on the simulated cluster, then the e2e suite on a real node
	@$(HOSTPREP) preflight check
	$(MAKE) -s setup
	@# Traefik's cold build (12-32 min on two cores) overlaps lint and the suite rather than the e2e.
	$(MAKE) -s traefik-detached
	$(MAKE) lint
	PROMETHEUS=1 $(CLUSTER) up
	$(MAKE) test
	$(MAKE) test-e2e

.PHONY: clean-cache
clean-cache: ## delete old tool builds, envs, real-node roots of gone bridges, image leftovers (DRY_RUN=1 lists)
	@$(HOSTPREP) clean-cache $(if $(filter 1,$(DRY_RUN)),--dry-run)

# Targets of the real-node / image / demo tooling live beside it.
-include e2e/make/*.mk
