# Two commands do all set-up on a fresh machine (Python 3.11+):
#   make demo   install, build the demo workspace (three real cases) and open the UI on it
#   make test   install with dev tools, then lint, type-check and run every test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test lint typecheck pytest demo bench clean ui ui-build chromium labelstudio

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,bench,embed,demo]'
	touch $@

install: $(BIN)/.installed

# Label Studio (for the labeling end-to-end tests) in its own venv: its pins clash with ours.
LS_VENV ?= .venv-labelstudio
$(LS_VENV)/.installed:
	$(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/pip install --quiet --upgrade pip
	$(LS_VENV)/bin/pip install --quiet 'label-studio==1.23.2'
	touch $@

labelstudio: $(LS_VENV)/.installed

lint: install
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

typecheck: install
	$(BIN)/mypy

# The browser UI (ui/, Svelte + Vite): unit tests, then the build the server ships.
ui:
	cd ui && npm ci --no-audit --no-fund && npm run test && npm run build

ui-build:
	test -f src/errorscope/server/static/index.html || (cd ui && npm ci --no-audit --no-fund && npm run build)

# The end-to-end tests drive Debian's chromium (never a browser Playwright downloads).
chromium:
	test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium)

pytest: install labelstudio ui chromium
	$(BIN)/pytest

test: labelstudio lint typecheck pytest

demo: install ui-build
	$(BIN)/errorscope demo -w demo-workspace

bench: install
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/evaluate.py

clean:
	rm -rf $(VENV) $(LS_VENV) demo-workspace .pytest_cache .mypy_cache .ruff_cache ui/node_modules src/errorscope/server/static
