# The two commands a newcomer needs:
#   make demo   the main job: local stack, pipeline, simulated traffic with an incident, report
#   make test   lint, type checks, alert-rule tests and the whole pytest suite on the real stack
# Both install what is missing first (apt packages, Kafka jars, a virtualenv).

VENV   := .venv
PYTHON := python3
TP     := $(VENV)/bin/touchpoints
STAMP  := $(VENV)/.installed
# Schemas the source models must stay compatible with; CI on a branch sets the target branch.
COMPAT_BASE ?= HEAD

.PHONY: demo test setup check rules pytest stack-up stack-down browser clean

demo: setup
	$(TP) demo

test: setup check rules stack-up browser pytest

setup: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "setup: python3 (3.11) is required: apt-get install python3 python3-venv"; exit 1; }
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	@touch $(STAMP)

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
	rm -rf $(VENV) .stack .pytest_cache .mypy_cache .ruff_cache .hypothesis
