# Everything runs inside .venv/, which `make setup` (scripts/setup.sh) builds and keeps current.
#   make test PYTEST_ARGS="-m 'not slow' -x"     pass options through to pytest
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
RUFF := $(VENV)/bin/ruff
PYTEST_ARGS ?=

.PHONY: setup demo test bench lint format clean distclean

setup:
	bash scripts/setup.sh

demo: setup
	$(VENV)/bin/agent-sdk demo

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

# Every benchmarks/*.py in turn (files starting with "_" are helpers, not benchmarks).
bench: setup
	@set -e; shopt -s nullglob; found=0; \
	for f in benchmarks/*.py; do \
	  case "$$(basename "$$f")" in _*) continue ;; esac; \
	  found=1; echo "bench: $$f"; $(PY) "$$f"; \
	done; \
	if [ $$found = 0 ]; then echo "bench: no benchmarks/*.py scripts"; fi

# Both checks run even if the first fails; the target fails if either does.
lint: setup
	@status=0; \
	$(RUFF) check . || status=1; \
	$(RUFF) format --check . || status=1; \
	exit $$status

format: setup
	$(RUFF) format .
	$(RUFF) check --fix .

clean:
	find . \( -path ./.venv -o -path ./.git \) -prune -o \
	  \( -name __pycache__ -o -name '*.egg-info' \) -type d -prune -exec rm -rf {} +
	find . \( -path ./.venv -o -path ./.git \) -prune -o -name '*.py[co]' -type f -exec rm -f {} +
	rm -rf .pytest_cache .ruff_cache .mypy_cache .hypothesis .coverage htmlcov build dist

distclean: clean
	rm -rf $(VENV)
