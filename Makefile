# approval-bot — `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
HOST   ?= 127.0.0.1
PORT   ?= 8080

.DEFAULT_GOAL := help
.PHONY: help venv run test lint fmt unit integration migrate bench clean mlflow demo

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

venv: $(STAMP) ## Create .venv and install the pinned dependencies (once)

run: venv ## Migrate, apply examples/config.yaml and serve the bot on the embedded defaults (console, SQLite)
	$(BIN)/approval-bot migrate
	$(BIN)/approval-bot apply -f $${APPROVAL_BOT_CONFIG:-examples/config.yaml}
	$(BIN)/approval-bot serve --host $(HOST) --port $(PORT)

test: venv lint ## Lint, then run every test (PostgreSQL tests skip when it is not running, fail in CI)
	$(BIN)/pytest

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

bench: venv ## Benchmarks: API submissions (PostgreSQL), Slack ack vs bare Bolt, Telegram answers vs bare PTB
	$(BIN)/python -m benchmarks.api_submit
	$(BIN)/python -m benchmarks.slack_ack
	$(BIN)/python -m benchmarks.telegram_callback

migrate: venv ## Upgrade the database to the latest migration
	$(BIN)/approval-bot migrate

clean: ## Remove the venv, caches and the local database
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
