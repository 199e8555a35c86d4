# Two commands do all set-up on a fresh machine: `make run` and `make test` (see README).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
LOCKS := requirements/base.txt requirements/dev.txt
PYTEST_ARGS ?= -n 2

.PHONY: install run test lint format bench lock clean-data

install: $(VENV)/.installed var/dev.env

$(VENV)/.installed: $(LOCKS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/base.txt -r requirements/dev.txt
	touch $@

var/dev.env: | $(VENV)/.installed
	$(PY) -m devtools init-env

run: install
	$(PY) -m devtools run

lint: install
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

test: lint
	$(PY) -m devtools with-services -- $(PY) -m pytest $(PYTEST_ARGS)

bench: install
	@$(PY) -m devtools with-services -- $(PY) -m bench

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Re-resolve the lock files after editing requirements/*.in.
lock: install
	$(VENV)/bin/pip install --quiet pip-tools
	cd requirements && ../$(VENV)/bin/pip-compile --quiet --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links -o base.txt base.in
	cd requirements && ../$(VENV)/bin/pip-compile --quiet --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links -o dev.txt dev.in

# Deletes the embedded database and Redis data (not the keys in var/dev.env).
clean-data:
	rm -rf var/pg var/redis var/celerybeat-schedule*
