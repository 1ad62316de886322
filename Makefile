# sutazai.chaos developer entry points. `make` alone lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv/bin

.PHONY: bench help setup images stack stack-down stack-status monitoring monitoring-down demo test kernel-lab clean fleet fleet-down

help: ## list the targets
	@echo "sutazai.chaos targets:"
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "} {printf "  make %-13s %s\n", $$1, $$2}'

setup: ## host tools, .venv, collections, Docker engine, demo image (idempotent)
	scripts/setup.sh

images: ## (re)build sutazai-chaos/demo:1 when its recipe changed
	scripts/ensure-docker.sh
	scripts/build-images.sh

stack: ## start the demo stack (compose project sutazai-demo) and wait for health
	scripts/stack.sh up

stack-down: ## remove the demo stack's containers and network
	scripts/stack.sh down

stack-status: ## show the demo stack's containers and health
	scripts/stack.sh status

N ?= 3

fleet: ## N SSH hosts as containers (default N=3) and inventories/fleet/hosts.yml (scripts/fleet.sh)
	scripts/fleet.sh up $(N)

fleet-down: ## remove the fleet's hosts, network and generated inventory
	scripts/fleet.sh down

monitoring: ## local Prometheus (with monitoring/chaos-rules.yml) and Pushgateway on 127.0.0.1:9090/9091
	scripts/monitoring.sh up

monitoring-down: ## stop the local Prometheus and Pushgateway
	scripts/monitoring.sh down

demo: setup stack ## run playbooks/demo.yml against the demo stack
	$(VENV)/ansible-playbook playbooks/demo.yml

test: setup ## run the test suite (scripts/run-tests.sh)
	scripts/run-tests.sh

kernel-lab: setup ## netem measured for real: tests/kernel-lab/test_*.py in a Debian kernel under QEMU
	scripts/run-kernel-lab.sh

clean: ## remove .cache/collections and results/ (keeps .venv and images)
	rm -rf .cache/collections results

bench: setup ## benchmarks against baselines measured in the same run (writes benchmarks/RESULTS.md, METRICS.md)
	$(VENV)/python benchmarks/run.py
	$(VENV)/python benchmarks/metrics.py
