# Two commands do all the set-up: `make run` and `make test`.
#
# Installs come from lock files of exact versions with hashes, made by pip-tools from
# pyproject.toml (`make lock`) for CPython 3.11 on Linux:
#   requirements/main.txt  runtime dependencies               (make install, make run)
#   requirements/dev.txt   runtime + the `dev` extra           (make install-dev, lint, test...)
#   requirements/pip.txt   the pip that installs them, installed first (make lock-tools)
# Each is installed with --require-hashes, then the project itself, editable, with --no-deps.
# Build backend: setuptools is locked too. pip-compile --build-deps-for editable --allow-unsafe
# puts pyproject.toml's build-system.requires in both lock files, and the project is installed
# with --no-build-isolation, so pip builds it with that locked setuptools instead of fetching
# the newest into a throwaway environment (--check-build-dependencies fails if the locked one
# does not satisfy build-system.requires). `pip check` then fails if the lock misses or
# contradicts a dependency in pyproject.toml: run `make lock`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1
REQ := requirements
# pip-tools lives in a venv of its own (git-ignored with .venv), installed from its lock.
TOOLS := $(VENV)/pip-tools
# Extra pip-compile options for `make lock`/`make lock-tools`, e.g. LOCK_ARGS=--upgrade
# (everything to its newest allowed version) or LOCK_ARGS='--upgrade-package sqlalchemy'.
LOCK_ARGS ?=
PIP_COMPILE = $(TOOLS)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links $(LOCK_ARGS)

.PHONY: install install-dev run test lint typecheck pytest lock lock-tools clean

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

$(VENV)/.installed: pyproject.toml $(REQ)/pip.txt $(REQ)/main.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed (set PYTHON=...)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(REQ)/pip.txt
	$(BIN)/python -m pip install --quiet --require-hashes -r $(REQ)/main.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation --check-build-dependencies -e .
	$(BIN)/python -m pip check
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed $(REQ)/dev.txt
	$(BIN)/python -m pip install --quiet --require-hashes -r $(REQ)/dev.txt
	$(BIN)/python -m pip check
	touch $@

run: install
	$(BIN)/python -m quartapp db upgrade
	$(BIN)/python -m quartapp serve --config hypercorn.toml --bind $(HOST):$(PORT) 'quartapp:create_app()'

lint: install-dev
	$(BIN)/ruff check quartapp tests alembic bench
	$(BIN)/ruff format --check quartapp tests alembic bench

typecheck: install-dev
	$(BIN)/mypy

pytest: install-dev
	$(BIN)/pytest

test: lint typecheck pytest

# Refresh the lock files after changing dependencies in pyproject.toml. Versions already
# locked are kept while pyproject.toml allows them (so running it again changes nothing);
# dev.txt is constrained to main.txt, so both install the same runtime versions.
lock: $(TOOLS)/.installed
	CUSTOM_COMPILE_COMMAND='make lock' $(PIP_COMPILE) --build-deps-for editable \
		--output-file=$(REQ)/main.txt pyproject.toml
	CUSTOM_COMPILE_COMMAND='make lock' $(PIP_COMPILE) --build-deps-for editable \
		--extra dev --constraint $(REQ)/main.txt --output-file=$(REQ)/dev.txt pyproject.toml

# Refresh the tooling's locks: pip (pip.in) and pip-tools (tools.in, constrained to that pip).
lock-tools: $(TOOLS)/.installed
	CUSTOM_COMPILE_COMMAND='make lock-tools' $(PIP_COMPILE) \
		--output-file=$(REQ)/pip.txt $(REQ)/pip.in
	CUSTOM_COMPILE_COMMAND='make lock-tools' $(PIP_COMPILE) \
		--constraint $(REQ)/pip.txt --output-file=$(REQ)/tools.txt $(REQ)/tools.in

# The locks resolve environment markers for the Python that makes them: always 3.11.
$(TOOLS)/.installed: $(REQ)/pip.txt $(REQ)/tools.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "The locks are made with Python 3.11 (set PYTHON=...)")'
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --require-hashes -r $(REQ)/pip.txt
	$(TOOLS)/bin/python -m pip install --quiet --require-hashes -r $(REQ)/tools.txt
	touch $@

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
