# Two commands on a fresh Debian machine (run as root, or with the Debian packages already there):
#   make demo        set up and run the main job (audiolab demo)
#   make test        set up, start a JACK dummy server and run the whole test suite headless,
#                    then ruff and mypy
# While working:
#   make test-fast   the tests not marked `slow` (no demo run, Dask cluster, subprocess or JACK
#                    server; about half a minute), then ruff; `make test` still runs them all
# PYTEST_ARGS passes options to pytest, e.g. make test-fast PYTEST_ARGS="-x tests/test_batch.py".
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.audiolab-installed
DEB_PACKAGES := libportaudio2 jackd2 libglib2.0-0 libgl1 libegl1 libxkbcommon0 libfreetype6 \
	libfontconfig1 libdbus-1-3 espeak-ng sox
export OPENBLAS_NUM_THREADS := 1
export OMP_NUM_THREADS := 1
export QT_QPA_PLATFORM := offscreen

.PHONY: demo test test-fast setup system-packages lint typecheck bench clean

demo: setup
	$(BIN)/audiolab demo

test: setup
	bash tests/with_jack.sh $(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)
	$(BIN)/ruff check audiolab tests
	$(BIN)/mypy

# Slow tests are marked in the test files (JACK tests are slow by tests/conftest.py); no JACK
# server is started, since every test that needs one is slow.
test-fast: setup
	$(BIN)/python -m pytest -p no:cacheprovider -m "not slow" $(PYTEST_ARGS)
	$(BIN)/ruff check audiolab tests

bench: setup
	$(BIN)/audiolab bench

lint: setup
	$(BIN)/ruff check audiolab tests

typecheck: setup
	$(BIN)/mypy

setup: system-packages $(STAMP)

system-packages:
	@missing=""; for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if ! $(PYTHON) -c 'import venv, ensurepip, sysconfig, os; assert os.path.exists(sysconfig.get_paths()["include"] + "/Python.h")' 2>/dev/null; then \
		missing="$$missing python3-venv python3-dev"; fi; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "audiolab needs these Debian packages:$$missing (run make as root or install them)"; exit 1; fi; \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# Editable installs do not rebuild C on change: the stamp depends on the C sources, so a change
# there reinstalls (and recompiles) the package. pyclarity is the bench's HASPI/HASQI reference:
# those never import torch, so it goes in without its requirements (numba, which they use, is in
# the dev extras).
$(STAMP): pyproject.toml setup.py $(wildcard csrc/*.c csrc/*.h csrc/isa/*.c csrc/isa/*.h) audiolab/_build_kernels.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip 'setuptools>=77' wheel
	$(BIN)/python -m pip install -q -e '.[dev,cluster]'
	$(BIN)/python -m pip install -q --no-deps pyclarity==0.9.0
	$(BIN)/python -c 'import audiolab._kernels'
	touch $(STAMP)

clean:
	rm -rf $(VENV) build *.egg-info audiolab/_kernels*.so audiolab/_kernels.c
