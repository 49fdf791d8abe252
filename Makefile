# Two commands on a fresh machine (see README): `make demo` and `make test`.
# Each creates .venv and installs the project with its dev extra from pyproject.toml.
PYTHON ?= $(shell command -v python3.12 >/dev/null 2>&1 && python3.12 -c 'import sys' 2>/dev/null && echo python3.12 || echo python3)
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: install test soak demo lint typecheck check bench sam-local clean lock browser vendor-msal vendor-axe mutation

$(STAMP): pyproject.toml layers/common/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The layer's runtime dependencies (pyproject.toml) locked with hashes, for `sam build`, resolved by the
# functions' runtime, Python 3.12 (LOCK_PYTHON=/path/to/python3.12 when it is not on PATH).
LOCK_PYTHON ?= python3.12
lock:
	$(LOCK_PYTHON) -m venv .venv/lock
	.venv/lock/bin/python -m pip install --quiet pip-tools
	CUSTOM_COMPILE_COMMAND="make lock" .venv/lock/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url \
		--no-emit-find-links -o layers/common/requirements.txt pyproject.toml

test: $(STAMP) browser
	SAM_CLI_TELEMETRY=0 $(VENV)/bin/python -m pytest

# The long chaos soak (tests/soak), before a release: INVSYNC_SOAK_SEEDS seeds (default 10) in a row;
# INVSYNC_SOAK_SEED=<seed> replays one.
soak: $(STAMP)
	$(VENV)/bin/python -m pytest -m soak -p no:randomly -s tests/soak

# Debian's chromium and chromedriver, for the web console's browser tests (tests/browser). Never fails: without
# root, apt-get or the Debian mirror it says why, and those tests skip with that reason.
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then \
		echo "browser tests: $$(chromium --version 2>/dev/null | head -1) with chromedriver"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
			|| echo "browser tests: apt-get could not install chromium + chromium-driver; they will skip"; \
	else echo "browser tests: chromium + chromedriver missing and not installable here (needs root and apt-get); they will skip"; fi

# The console's sign-in library from its npm package, its licence beside it (commit the result).
MSAL_VERSION := 5.30.0
vendor-msal:
	tmp=$$(mktemp -d) && (cd $$tmp && npm pack --silent @azure/msal-browser@$(MSAL_VERSION) >/dev/null && tar xzf *.tgz) \
		&& cp $$tmp/package/lib/msal-browser.min.js functions/console/static/vendor/ \
		&& cp $$tmp/package/LICENSE functions/console/static/vendor/msal-browser.LICENSE.txt && rm -rf $$tmp

# axe-core, the accessibility checker the browser tests run on every console page (tests/browser/vendor/,
# never served by the console), its licence beside it (commit the result).
AXE_VERSION := 4.14.1
vendor-axe:
	tmp=$$(mktemp -d) && (cd $$tmp && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null && tar xzf *.tgz) \
		&& mkdir -p tests/browser/vendor && cp $$tmp/package/axe.min.js tests/browser/vendor/ \
		&& cp $$tmp/package/LICENSE tests/browser/vendor/axe-core.LICENSE.txt && rm -rf $$tmp

demo: $(STAMP)
	$(VENV)/bin/invsync demo

# Every function through sam local (build, invoke x3, start-api). Needs Docker and the local images:
# run devtools/sam-local-images.sh (as root) first. Fails, rather than skips, when they are missing.
sam-local: $(STAMP)
	INVSYNC_REQUIRE_DOCKER=1 SAM_CLI_TELEMETRY=0 $(VENV)/bin/python -m pytest -s -v -m docker tests/e2e

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# mypy: strict on the service's package (layers/common/inventory_sync), gradual on the rest (pyproject.toml).
# Each function's app.py is its own top-level module `app`, so each is checked on its own.
typecheck: $(STAMP)
	$(VENV)/bin/mypy layers/common/inventory_sync devtools/invsync_dev bench tests
	@for f in functions/*/app.py; do $(VENV)/bin/mypy $$f || exit 1; done

# what CI runs: lint, types, then the tests
check: lint typecheck test

# Mutation testing of domain/ (mutmut): each mutant must fail a test. mutmut runs in a virtualenv of its own
# (pyproject's `mutation` extra: its click cannot live beside SAM CLI's). It mutates a copy of the package laid
# out in .mutation/ (devtools/mutation/pyproject.toml says which tests run), and fails under 90% killed; the
# mutants devtools/mutation/equivalent.txt lists (each with why no test can tell it apart) are not counted.
MUTATION_VENV := .venv-mutation
$(MUTATION_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(MUTATION_VENV)
	$(MUTATION_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MUTATION_VENV)/bin/python -m pip install --quiet -e '.[mutation]'
	touch $@

mutation: $(MUTATION_VENV)/.installed
	rm -rf .mutation && mkdir .mutation
	cp -r layers/common/inventory_sync tests devtools/mutation/pyproject.toml .mutation/
	cd .mutation && ../$(MUTATION_VENV)/bin/mutmut run --max-children 2 > mutmut.log 2>&1 \
		|| { tail -40 mutmut.log; exit 1; }
	cd .mutation && ../$(MUTATION_VENV)/bin/mutmut results --all true > results.txt
	$(MUTATION_VENV)/bin/python devtools/mutation/report.py .mutation/results.txt --min 90

bench: $(STAMP)
	$(VENV)/bin/python -m bench

clean:
	rm -rf $(VENV) $(MUTATION_VENV) .mutation .pytest_cache .aws-sam
