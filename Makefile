# The whole set-up on a fresh machine: `make lab` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.tracemark-installed
STORE ?= demo-store
LAB_PORT ?= 8888

.PHONY: lab test bench bench-quick lint widget install clean demo

install: $(STAMP)

# (Re)install when pyproject.toml changes; creates .venv when missing.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# The widget bundle (TypeScript -> esbuild -> src/tracemark/review/static/), when the widget exists.
widget:
	@if [ -f widget_js/package.json ]; then \
		cd widget_js && { [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund; } && npm run --silent build; \
	fi

lint: $(STAMP)
	$(PY) -m ruff check src tests bench

test: $(STAMP) widget lint
	@if [ -f widget_js/package.json ]; then cd widget_js && npm test --silent; fi
	$(PY) -m pytest

# A store with demo traces, a review queue and automations run once (safe to run again).
demo: $(STAMP)
	$(VENV)/bin/tracemark demo $(STORE)

lab: $(STAMP) widget demo
	TRACEMARK_STORE=$(abspath $(STORE)) $(VENV)/bin/jupyter lab --ip=127.0.0.1 --port=$(LAB_PORT) $$( [ "$$(id -u)" = 0 ] && echo --allow-root ) notebooks/01_quickstart.ipynb

bench: $(STAMP) widget
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

bench-quick: $(STAMP) widget
	@for b in bench/*.py; do echo "== $$b --quick"; $(PY) $$b --quick || exit 1; done

clean:
	rm -rf $(VENV) widget_js/node_modules src/tracemark/review/static
