# Every target that needs the project first makes .venv (python3 -m venv) and installs the
# project into it, editable, so that each target is one command on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LABSTAMP := $(VENV)/.installed-lab
# Workers started through bin/worker find the venv's python first (fast start, no pyenv shim).
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: venv run test test-fast lint bench soak lab test-browser clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,dask]'
	@touch $@

venv: $(STAMP)

## run: the main job. 16 workers, 150 samples, at the real 1 s interval: summary, Parquet and PNG in runs/.
run: $(STAMP)
	$(BIN)/workerlab run --workers 16 --samples 150 --out runs/latest.parquet --plot runs/latest.png

## test: lint, then the whole suite (unit, emulator, collector, notebooks); time compressed, no timing asserts.
## tests/ runs in two pytest processes (pytest-xdist): the suite mostly waits on workers at compressed
## time, so two share 2 CPUs well (each run checks only its own processes and ports).
## The notebooks run top to bottom under nbval in a second pytest, the only one that compresses
## time through the environment (their first cell reads it; a person gets 1 s workers). Both
## always run; the target fails if either failed.
XDIST := -n 2 --dist loadfile
NB_ENV := WORKERLAB_INTERVAL=0.02 WORKERLAB_QUICK=1
test: $(STAMP)
	@rc=0; \
	echo "== lint (ruff, mypy, import-linter)"; \
	$(MAKE) --no-print-directory lint || rc=1; \
	echo "== tests/"; \
	$(BIN)/python -m pytest $(XDIST) || rc=1; \
	echo "== notebooks (nbval, $(NB_ENV))"; \
	$(NB_ENV) $(BIN)/python -m pytest --nbval-lax --nbval-current-env notebooks/ || rc=1; \
	exit $$rc

## test-fast: the edit loop, under a minute on 2 CPUs: lint, then tests/ without the tests marked `slow`
## (pytest -m "not slow": real-pace and many-process runs, CLIs in a subprocess, the soak, statistical
## simulations with many repeats). Every module's core behaviour keeps a test here; no notebooks.
## `make test` (CI) still runs everything. Both always run; the target fails if either failed.
test-fast: $(STAMP)
	@rc=0; \
	echo "== lint (ruff, mypy, import-linter)"; \
	$(MAKE) --no-print-directory lint || rc=1; \
	echo "== tests/ without the slow ones"; \
	$(BIN)/python -m pytest $(XDIST) -m "not slow" || rc=1; \
	exit $$rc

## lint: ruff (lint rules and formatting), mypy, and import-linter's layers contract, as configured in
## pyproject.toml.
LINT_PATHS := workerlab tests benchmarks
lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy
	$(BIN)/lint-imports

## bench: every benchmark; results in benchmarks/results/.
bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

## soak: the long correctness soak against the emulator's ground truth.
soak: $(STAMP)
	$(BIN)/python benchmarks/soak.py

$(LABSTAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,dask,lab]'
	@touch $@

## lab: JupyterLab on the notebooks. (As root, e.g. in a container, Jupyter refuses to start
## unless told --allow-root; anyone else gets the default.)
lab: $(LABSTAMP)
	$(BIN)/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis *.egg-info

BROWSERSTAMP := $(VENV)/.installed-browser
CHROMIUM ?= /usr/bin/chromium
# Emulator seconds between numbers in the browser test's kernel: fast, but slow enough that a run
# lasts a few seconds, so that live plot frames (one per ~0.5 s of drawing) show before it ends.
BROWSER_INTERVAL ?= 0.2

# Playwright from PyPI: its wheel ships the driver; the browser is Debian's (never `playwright install`).
$(BROWSERSTAMP): $(LABSTAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,dask,lab,browser]'
	@touch $@

## test-browser: the dashboard (notebook 02) and the answer of notebook 03 in JupyterLab, in headless
## Chromium driven by Playwright
## (installs Debian's chromium if /usr/bin/chromium is missing; screenshots in tests/browser/artifacts/).
test-browser: $(BROWSERSTAMP)
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$(CHROMIUM)" != /usr/bin/chromium ]; then \
	    echo "test-browser: no Chromium at $(CHROMIUM) (only /usr/bin/chromium is installed for you," \
	      "from Debian's chromium package): fix CHROMIUM=... or install it there" >&2; exit 1; fi; \
	  if ! command -v apt-get >/dev/null; then \
	    echo "test-browser: /usr/bin/chromium is missing and there is no apt-get to install Debian's" \
	      "chromium package: install Chromium and run 'make test-browser CHROMIUM=/path/to/chromium'" >&2; \
	    exit 1; fi; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else \
	    echo "test-browser: /usr/bin/chromium is missing; installing Debian's chromium package needs" \
	      "root: run 'sudo apt-get install chromium', then make test-browser again" >&2; exit 1; fi; \
	  echo "test-browser: /usr/bin/chromium is missing: apt-get install chromium (Debian's package)"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium \
	    >/dev/null || { echo "test-browser: 'apt-get install chromium' failed (its message is above);" \
	      "the browser test needs Debian's chromium at /usr/bin/chromium" >&2; exit 1; }; \
	  test -x /usr/bin/chromium || { echo "test-browser: apt-get installed chromium but /usr/bin/chromium" \
	    "is still missing: try 'apt-get install --reinstall chromium'" >&2; exit 1; }; \
	fi
	WORKERLAB_CHROMIUM=$(CHROMIUM) WORKERLAB_INTERVAL=$(BROWSER_INTERVAL) WORKERLAB_QUICK=1 \
	  $(BIN)/python -m pytest tests/browser -v -rP
