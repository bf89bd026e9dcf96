# Rapport: the two commands a new user needs are `make demo` and `make test`.
# Everything else here is a step those two depend on; each step is idempotent.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
# `rasa`, without the libraries' deprecation warnings (scripts/rasa_cli.py); same arguments.
RASA := $(PY) -m scripts.rasa_cli
MODEL := models/rapport.tar.gz
ACTIONS_PORT ?= 5055
# Rasa reads these: TensorFlow quiet, everything offline, no telemetry (rapport.env).
include rapport.env
export $(shell sed -n 's/^\([A-Z_]*\)=.*/\1/p' rapport.env)

TRAINING_INPUTS := config.yml domain.yml $(shell find data components -type f \( -name '*.yml' -o -name '*.py' -o -name '*.json' -o -name '*.h5' -o -name '*.safetensors' \) 2>/dev/null)

.PHONY: help install db train actions demo test test-fast clean

help:
	@echo "make demo   set up everything, train if needed, start the action server and talk to the assistant"
	@echo "make test   set up everything and run the whole test suite (what CI runs)"
	@echo "make test-fast   unit and contract tests only, for daily work"
	@echo "make webchat  the assistant in a browser; make analytics  its emotion dashboard (docs/analytics.md)"

# --- set-up -------------------------------------------------------------------
$(VENV)/.installed: requirements.lock requirements-nodeps.txt scripts/find_python310.sh
	@python310=$$(scripts/find_python310.sh) && \
	  { [ -x $(PY) ] && $(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' || { rm -rf $(VENV); "$$python310" -m venv $(VENV); }; }
	$(PY) -m pip install --quiet --disable-pip-version-check "pip==24.0"
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	touch $@

install: $(VENV)/.installed

db: install
	$(PY) -m actions.db init

$(MODEL): $(VENV)/.installed $(TRAINING_INPUTS)
	$(RASA) train --fixed-model-name rapport --out models

train: $(MODEL)

# --- running --------------------------------------------------------------------
actions: db
	$(RASA) run actions --port $(ACTIONS_PORT)

demo: db train
	@$(RASA) run actions --port $(ACTIONS_PORT) > actions.log 2>&1 & actions_pid=$$!; \
	  trap 'kill $$actions_pid 2>/dev/null || true' EXIT INT TERM; \
	  $(PY) -m scripts.wait_for_http http://localhost:$(ACTIONS_PORT)/health 120; \
	  echo "Action server running (log: actions.log). Type /stop to end the conversation."; \
	  $(RASA) shell -m $(MODEL) --endpoints endpoints.yml

# --- checks ---------------------------------------------------------------------
# The browser test needs Debian's Chromium; `browser` installs it once. Two pytest-xdist workers:
# the integration tests spend much of their time waiting for servers and subprocesses. Each test
# goes with the session server it uses, else with its module (tests/conftest.py), so a server or
# module fixture starts once. More cores: WORKERS=4; one process: WORKERS=0.
WORKERS ?= 2
PYTEST_ARGS ?=
test: install browser services
	$(PY) -m pytest -n $(WORKERS) --dist loadgroup $(PYTEST_ARGS)

# Daily work: unit and contract tests only (no training of the demo, no servers, no browser).
test-fast: install
	$(PY) -m pytest -n $(WORKERS) --dist loadgroup -m "not integration and not slow and not browser"

clean:
	rm -rf models .rasa .pytest_cache actions.log rasa.log test-artifacts cluster-logs

# --- web chat (docs/deploy.md) ------------------------------------------------------
RASA_PORT ?= 5005
WEBCHAT_PORT ?= 8080

.PHONY: webchat browser

# The action server, `rasa run` (REST + socket.io from credentials.yml, HTTP API for the page's
# history) and the page, together; Ctrl-C, or any of them stopping, stops all three.
webchat: db train
	@$(RASA) run actions --port $(ACTIONS_PORT) > actions.log 2>&1 & actions_pid=$$!; \
	  $(RASA) run -m $(MODEL) --enable-api --cors "*" --port $(RASA_PORT) \
	    --endpoints endpoints.yml --credentials credentials.yml > rasa.log 2>&1 & rasa_pid=$$!; \
	  $(PY) -m scripts.serve_webchat --port $(WEBCHAT_PORT) --rasa-url http://localhost:$(RASA_PORT) & web_pid=$$!; \
	  trap 'kill $$actions_pid $$rasa_pid $$web_pid 2>/dev/null || true' EXIT INT TERM; \
	  echo "Starting the assistant (logs: actions.log, rasa.log)..."; \
	  $(PY) -m scripts.wait_for_http http://localhost:$(RASA_PORT)/status 900; \
	  echo "Open http://localhost:$(WEBCHAT_PORT)/?server=http://localhost:$(RASA_PORT) and chat. Ctrl-C stops everything."; \
	  wait -n

# Debian's Chromium for the browser test (tests/integration/test_webchat_browser.py).
browser:
	bash scripts/install_browser.sh

# --- the production stack (docs/deploy.md, "Scale out") --------------------------------
REPLICAS ?= 2
ACTION_SERVERS ?= 1
CLUSTER_PORT ?= 5005

.PHONY: cluster services

# PostgreSQL, Redis, RabbitMQ (started if they do not answer) and HAProxy, from Debian's packages.
services:
	bash scripts/install_services.sh

# N replicas + M action servers behind HAProxy on PostgreSQL/Redis/RabbitMQ (scripts/cluster.py);
# prints the load balancer's URL and the API token when every replica is ready; Ctrl-C stops all.
cluster: install services train
	$(PY) -m scripts.cluster --model $(MODEL) --replicas $(REPLICAS) \
	  --action-servers $(ACTION_SERVERS) --port $(CLUSTER_PORT) --logs cluster-logs

# --- emotion analytics (docs/analytics.md) ---------------------------------------------
ANALYTICS_PORT ?= 8090

.PHONY: analytics

# The analytics service and its dashboard, beside `make webchat` (run it in a second terminal):
# reads the events of the tracker store in endpoints.yml (or its pika event_broker, if any)
# and the transcripts from `rasa run`'s API. Open http://localhost:8090/.
analytics: install
	$(PY) -m analytics --endpoints endpoints.yml --port $(ANALYTICS_PORT) \
	  --rasa-url http://localhost:$(RASA_PORT)
