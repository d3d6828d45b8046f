# Every target that needs the project first makes .venv (python3 -m venv) and installs the
# project into it, editable, so that each target is one command on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LABSTAMP := $(VENV)/.installed-lab
# Workers started through bin/worker find the venv's python first (fast start, no pyenv shim).
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: venv run test bench soak lab test-browser clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,dask]'
	@touch $@

venv: $(STAMP)

## run: the main job. 16 workers, 150 samples, at the real 1 s interval: summary, Parquet and PNG in runs/.
run: $(STAMP)
	$(BIN)/workerlab run --workers 16 --samples 150 --out runs/latest.parquet --plot runs/latest.png

## test: the whole suite (unit, emulator, collector, notebooks); time compressed, no timing asserts.
## The notebooks run top to bottom under nbval in a second pytest, the only one that compresses
## time through the environment (their first cell reads it; a person gets 1 s workers). Both
## always run; the target fails if either failed.
NB_ENV := WORKERLAB_INTERVAL=0.02 WORKERLAB_QUICK=1
test: $(STAMP)
	@rc=0; \
	echo "== tests/"; \
	$(BIN)/python -m pytest || rc=1; \
	echo "== notebooks (nbval, $(NB_ENV))"; \
	$(NB_ENV) $(BIN)/python -m pytest --nbval-lax --nbval-current-env notebooks/ || rc=1; \
	exit $$rc

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
