# Two commands do all set-up on a fresh machine: `make run` and `make test` (see README).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
LOCKS := requirements/base.txt requirements/dev.txt
# Test-only JavaScript from the npm registry (axe-core for tests/e2e), per package-lock.json.
JS_STAMP := node_modules/.installed
PYTEST_ARGS ?= -n 2

.PHONY: install install-js run test lint format bench lock clean-data

install: $(VENV)/.installed var/dev.env

$(VENV)/.installed: $(LOCKS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/base.txt -r requirements/dev.txt
	touch $@

var/dev.env: | $(VENV)/.installed
	$(PY) -m devtools init-env

install-js: $(JS_STAMP)

# Re-run only when the lock changes. --ignore-scripts: no package code runs at install time.
# Without npm the browser tests' accessibility checks skip (or fail, with MITP_REQUIRE_BROWSER=1).
$(JS_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		echo "npm ci --ignore-scripts --no-audit --no-fund"; \
		npm ci --ignore-scripts --no-audit --no-fund && touch $@; \
	else \
		echo "npm not found: axe-core is not installed, the accessibility checks in tests/e2e will skip (apt-get install npm)"; \
	fi

run: install
	$(PY) -m devtools run

lint: install
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

test: lint $(JS_STAMP)
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
