# fleetwatch.observability: the two set-up commands are `make up` and `make test` (run as root on
# Debian). Each installs what it needs (apt packages, .venv, test image, artifact mirror) and
# reuses what is already there.
SHELL := /bin/bash
export CONTAINERS_CONF := $(CURDIR)/harness/containers.conf
export PATH := $(CURDIR)/.venv/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.cache/collections
export ANSIBLE_FORCE_COLOR := 0
export PY_COLORS := 0
SCENARIOS ?= $(sort $(notdir $(patsubst %/molecule.yml,%,$(wildcard extensions/molecule/*/molecule.yml))))
# The platform matrix: every scenario runs on Debian trixie (the main image); these run again, whole,
# on the other releases the roles claim (meta/main.yml), harness/harness.sh OTHER_SUITES.
PLATFORM_SCENARIOS ?= node_exporter monitoring
OTHER_IMAGES ?= localhost/fleetwatch-debian:bookworm

.PHONY: help up down urls roundtrip test lint sanity unit molecule deps image mirror tools bench bench-anchors docs clean

help:
	@echo "make up      - local lab of podman test hosts with the whole stack (playbooks/site.yml), URLs printed"
	@echo "make test    - lint (with ansible-test sanity), unit tests and every Molecule scenario ($(SCENARIOS))"
	@echo "make roundtrip - a log line (journal -> Fluent Bit -> Loki) and a trace (OTLP -> Tempo) through the lab"
	@echo "make down    - remove the lab;  make bench - converge/no-op timings;  make bench-anchors - ours vs prometheus.prometheus;  make docs - role variable docs"

deps:
	@bash harness/harness.sh all

up: deps
	@bash harness/lab.sh up

down:
	@bash harness/lab.sh down

roundtrip:
	@bash harness/lab.sh roundtrip

urls:
	@bash harness/lab.sh urls

# -k: every part runs and reports even when an earlier one fails; the exit status says if any did.
test: deps
	@$(MAKE) --no-print-directory -k lint unit molecule

lint:
	yamllint -s .
	ansible-lint --profile production
	python3 harness/docs.py --check
	antsibull-changelog lint
	@$(MAKE) --no-print-directory sanity

# ansible-test sanity --local on the tracked files, copied into a temporary ansible_collections tree
# (about 40 s once its virtualenvs exist in ~/.ansible/test/venv; their first creation about 100 s).
sanity:
	@bash harness/sanity.sh

unit:
	@rc=0; python -m pytest -q tests || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; rc=1; fi; exit $$rc

# A scenario whose artifacts are not in the mirror (extensions/molecule/<s>/requires) is reported skipped, with
# the reason, and counted apart: never passed.
molecule:
	@failed=""; skipped=""; passed=0; for s in $(SCENARIOS); do \
	  if ! why=$$(bash harness/scenario_requires.sh $$s); then \
	    echo "=== molecule test -s $$s $$why"; skipped="$$skipped $$s"; continue; fi; \
	  echo "=== molecule test -s $$s"; start=$$(date +%s); \
	  if molecule test -s $$s; then passed=$$((passed + 1)); else failed="$$failed $$s"; fi; \
	  echo "=== $$s took $$(( $$(date +%s) - start ))s"; \
	done; \
	for img in $(OTHER_IMAGES); do for s in $(filter $(SCENARIOS),$(PLATFORM_SCENARIOS)); do \
	  echo "=== molecule test -s $$s on $$img"; start=$$(date +%s); \
	  if FLEETWATCH_TEST_IMAGE=$$img molecule test -s $$s; then passed=$$((passed + 1)); else failed="$$failed $$s@$$img"; fi; \
	  echo "=== $$s on $$img took $$(( $$(date +%s) - start ))s"; \
	done; done; \
	if [ -n "$$skipped" ]; then echo "skipped scenarios:$$skipped"; fi; \
	if [ -n "$$failed" ]; then echo "failed scenarios:$$failed"; exit 1; fi; \
	echo "molecule: $$passed passed, 0 failed, $$(echo $$skipped | wc -w) skipped"

image mirror tools:
	@bash harness/harness.sh $@

bench: deps
	@bash benchmarks/run.sh

bench-anchors: deps
	@bash benchmarks/anchor_bench.sh

docs:
	python3 harness/docs.py

clean: down
	rm -rf .cache/artifacts .cache/mirror .cache/tools
