# The two commands a newcomer needs:
#   make demo   the main job: local stack, pipeline, simulated traffic with an incident, report
#   make test   lint, type checks, alert-rule tests and the whole pytest suite on the real stack
# Both install what is missing first (apt packages, Kafka jars, a virtualenv).

VENV   := .venv
PYTHON := python3
TP     := $(VENV)/bin/touchpoints
STAMP  := $(VENV)/.installed
# Exact versions of every dependency (pip constraints): setup, CI and the production units
# install from it. `make lock` refreshes it.
LOCK   := constraints.txt
# Schemas the source models must stay compatible with; CI on a branch sets the target branch.
COMPAT_BASE ?= HEAD
# Both jobs run on the local stack: the public development PII key is allowed there, and
# only there (every component refuses it otherwise; docs/security-feeds.md).
export TOUCHPOINTS_LOCAL_RUN ?= true

# The local stack is one broker: its topics get one copy (the settings default to three).
include deploy/local/single-node.env
export TOUCHPOINTS_KAFKA_TOPIC_REPLICATION_FACTOR TOUCHPOINTS_KAFKA_TOPIC_MIN_INSYNC_REPLICAS

.PHONY: demo test setup lock check rules pytest stack-up stack-down browser clean

demo: setup
	$(TP) demo

test: setup check rules stack-up browser pytest

setup: $(STAMP)

# pip itself and the build backend come from the lock too; pip's own version first, since
# --build-constraint (the lock applied to setuptools building this project) needs pip >= 25.3.
$(STAMP): pyproject.toml $(LOCK)
	@command -v $(PYTHON) >/dev/null || { echo "setup: python3 (3.11) is required: apt-get install python3 python3-venv"; exit 1; }
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -c $(LOCK) pip setuptools wheel
	$(VENV)/bin/pip install -q -c $(LOCK) --build-constraint $(LOCK) -e '.[dev]'
	@touch $(STAMP)

# Resolve afresh: a new venv gets the newest versions pyproject.toml allows, and the lock
# becomes its `pip freeze` (the project itself left out). Then run `make test` and commit.
LOCK_VENV := $(shell mktemp -u /tmp/touchpoints-lock.XXXXXX)
lock:
	@command -v $(PYTHON) >/dev/null || { echo "lock: python3 (3.11) is required"; exit 1; }
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install -q --upgrade pip setuptools wheel
	$(LOCK_VENV)/bin/pip install -q -e '.[dev]'
	{ sed -n '/^#/p' $(LOCK); $(LOCK_VENV)/bin/pip freeze --all --exclude-editable; } > $(LOCK).new
	mv $(LOCK).new $(LOCK)
	rm -rf $(LOCK_VENV)
	@echo "lock: $(LOCK) refreshed; run make test, then commit it"

check: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(TP) schema export --check
	$(TP) source compat --against-git $(COMPAT_BASE)

rules: stack-up
	promtool check rules deploy/prometheus/rules/*.yml
	promtool test rules deploy/prometheus/tests/*.yml

stack-up: setup
	$(TP) stack up

# Chromium and chromedriver for the ops page's browser test (apt, like the stack's packages).
browser: setup
	$(TP) stack install-browser

stack-down:
	@test -x $(TP) && $(TP) stack down || true

# pytest exits 5 when it collected no test: that is a failure here, not a pass.
pytest: setup
	@$(VENV)/bin/pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest ran no test: failing"; exit 1; fi; exit $$rc

clean: stack-down
	@test -x $(TP) && $(TP) stack down --cluster || true
	rm -rf $(VENV) .stack .stack-cluster .pytest_cache .mypy_cache .ruff_cache .hypothesis
