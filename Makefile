# The two commands of the README. Each sets up .venv from the repo's own files first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The lock files pin every package, with hashes, for Python 3.11 on Linux (`make lock` writes
# them): requirements-dev.lock the runtime and the test/dev extras (this Makefile, hence CI),
# requirements.lock the runtime alone (deploy/Dockerfile).
DEV_LOCK := requirements-dev.lock
RUNTIME_LOCK := requirements.lock

.PHONY: demo test lint setup lock clean

# The project itself goes in without dependencies: everything it needs comes from the lock, and
# `pip check` fails the set-up when pyproject.toml gained a dependency the lock lacks.
$(STAMP): pyproject.toml $(DEV_LOCK)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/ticket-audit demo --out demo-output

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check audit tests benchmarks
	$(BIN)/ruff format --check audit tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

# uv, not pip-tools: uv resolves for a target interpreter and platform (3.11 on Linux, what CI and
# the image run) whatever machine runs `make lock`, where pip-compile resolves for its own
# interpreter. The output is a plain pip requirements file, so installing needs only pip.
# Pins already in the lock are kept; `make lock UPGRADE=--upgrade` moves everything to the newest.
# The runtime lock is resolved under the dev lock's pins, so the image runs the tested versions.
LOCK_FLAGS := --python-version 3.11 --python-platform linux --generate-hashes \
	--custom-compile-command 'make lock' --quiet $(UPGRADE)
# Not after $(STAMP): a set-up from a lock that lags pyproject.toml fails its `pip check`, and
# `make lock` is the way out. uv comes from the dev lock's pin, else the newest.
$(BIN)/uv:
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$$(grep -so '^uv==[^ ]*' $(DEV_LOCK) || echo uv)"

lock: $(BIN)/uv
	$(BIN)/uv pip compile pyproject.toml --all-extras $(LOCK_FLAGS) --output-file $(DEV_LOCK)
	$(BIN)/uv pip compile pyproject.toml --constraint $(DEV_LOCK) $(LOCK_FLAGS) --output-file $(RUNTIME_LOCK)

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
