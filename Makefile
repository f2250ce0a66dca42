# Set-up, tests and the demo. `make demo` and `make test` create the environment if missing.
SHELL := /bin/bash
# python3.10 from PATH, else a pyenv-installed 3.10.
PYTHON310 ?= $(shell for p in python3.10 $$(ls -d $$HOME/.pyenv/versions/3.10*/bin/python3.10 2>/dev/null | sort -V | tail -1); do \
	$$p -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
OUTPUT ?= runs
SOURCES := $(shell find pipelines components trainers schemas sample_data -type f -not -path '*/__pycache__/*' 2>/dev/null) pyproject.toml

.PHONY: help env wheel test test-fast demo bench lock clean

help:
	@echo "make demo    create .venv if missing, then run every pipeline on the bundled samples (OUTPUT=$(OUTPUT))"
	@echo "make test    create .venv if missing, build and install the wheel, run the test suite"
	@echo "make bench   run the benchmarks (results in benchmarks/results/)"
	@echo "make lock    re-freeze constraints.txt from the current .venv"

# The pinned dependency set: pyproject's direct needs, resolved under constraints.txt.
$(VENV)/.deps: pyproject.toml constraints.txt Makefile
	@test -n "$(PYTHON310)" || { echo "python3.10 not found: install Python 3.10 or set PYTHON310=/path/to/python3.10"; exit 1; }
	test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	$(PIP) install -q --upgrade 'pip>=23' 'setuptools>=68,<81' wheel
	$(PIP) install -q -c constraints.txt ".[test]"
	touch $@

env: $(VENV)/.deps

# The project itself is always installed from a freshly built wheel: tests run against
# what users install, not against the source tree.
$(VENV)/.wheel: $(VENV)/.deps $(SOURCES)
	rm -rf dist build *.egg-info
	$(PY) -m build --wheel --no-isolation --outdir dist . >/dev/null
	$(PIP) install -q --no-deps --force-reinstall dist/cuttingedge-*.whl
	touch $@

wheel: $(VENV)/.wheel

test: $(VENV)/.wheel
	cd tests && ../$(PY) -m pytest -q -p no:cacheprovider --rootdir=.. -c ../pyproject.toml .

demo: $(VENV)/.wheel
	$(VENV)/bin/cuttingedge demo --output $(OUTPUT)

bench: $(VENV)/.wheel
	$(PY) benchmarks/ingest.py

lock:
	(echo "# Exact versions of the whole dependency set (Python 3.10). See BUILD.md for why these pins."; \
	 echo "# Regenerate: make lock"; $(PIP) freeze --exclude-editable | grep -vi '^cuttingedge' | sort -f) > constraints.txt

clean:
	rm -rf dist build *.egg-info $(VENV)/.wheel
