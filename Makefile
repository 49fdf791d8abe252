# Two commands on a fresh machine (see README): `make demo` and `make test`.
# Each creates .venv and installs the project with its dev extra from pyproject.toml.
PYTHON ?= $(shell command -v python3.12 >/dev/null 2>&1 && python3.12 -c 'import sys' 2>/dev/null && echo python3.12 || echo python3)
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: install test demo lint bench sam-local clean lock

$(STAMP): pyproject.toml layers/common/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The layer's runtime dependencies (pyproject.toml) locked with hashes, for `sam build`.
lock: $(STAMP)
	$(VENV)/bin/python -m pip install --quiet pip-tools
	CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url \
		--no-emit-find-links -o layers/common/requirements.txt pyproject.toml

test: $(STAMP)
	SAM_CLI_TELEMETRY=0 $(VENV)/bin/python -m pytest

demo: $(STAMP)
	$(VENV)/bin/invsync demo

# Every function through sam local (build, invoke x3, start-api). Needs Docker and the local images:
# run devtools/sam-local-images.sh (as root) first. Fails, rather than skips, when they are missing.
sam-local: $(STAMP)
	INVSYNC_REQUIRE_DOCKER=1 SAM_CLI_TELEMETRY=0 $(VENV)/bin/python -m pytest -s -v -m docker tests/e2e

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(VENV)/bin/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .aws-sam
