# approval-bot — `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
HOST   ?= 127.0.0.1
PORT   ?= 8080

.DEFAULT_GOAL := help
.PHONY: help venv run test lint fmt unit integration migrate bench clean

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

bench: venv ## Benchmarks: API submissions (PostgreSQL) and Slack ack latency vs bare Bolt
	$(BIN)/python -m benchmarks.api_submit
	$(BIN)/python -m benchmarks.slack_ack

migrate: venv ## Upgrade the database to the latest migration
	$(BIN)/approval-bot migrate

clean: ## Remove the venv, caches and the local database
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
