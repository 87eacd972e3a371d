# Two commands a newcomer needs: `make run` and `make test`. Both create the virtualenv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench scale package venv clean

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is required")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

# The browser tests drive Debian's Chromium. As root (CI, fresh machines here) it is installed;
# elsewhere the tests say how to install it and skip (CI fails instead of skipping).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium for the browser tests"; \
		apt-get install -y -q chromium >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; \
	else echo "Browser tests need Debian's chromium: sudo apt-get install chromium"; fi

# The SDK test (tests/test_sdk.py) drives the platform's official Node SDK, pinned in
# tests/sdk/package-lock.json, with Debian's nodejs and npm: installed as root like chromium.
SDK_MODULES := tests/sdk/node_modules/.package-lock.json
$(SDK_MODULES): tests/sdk/package.json tests/sdk/package-lock.json
	@if ! command -v npm >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "Installing Debian's nodejs and npm for the SDK test"; \
			apt-get install -y -q nodejs npm >/dev/null 2>&1 || \
			{ apt-get update -q >/dev/null && apt-get install -y -q nodejs npm >/dev/null; }; \
		else echo "The SDK test needs Node.js: sudo apt-get install nodejs npm"; fi; \
	fi
	@if command -v npm >/dev/null; then \
		cd tests/sdk && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.package-lock.json; \
	fi

run: $(STAMP)
	$(BIN)/python scripts/devserver.py

test: $(STAMP) $(CHROMIUM) $(SDK_MODULES)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m mypy

bench: $(STAMP)
	$(BIN)/python bench/run.py

# The capacity model at internet scale (bench/capacity.py), checked against moto at small scale.
scale: $(STAMP)
	$(BIN)/python bench/capacity.py

# CloudFormation (SAM) templates of every deployed stage in build/<stage>/out, offline.
package: $(STAMP)
	$(BIN)/python infra/build.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build .chalice/deployments
