# One-command set-up: each target creates .venv on first use and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NODE_RUNTIME := src/sluice/runtime/node
NODE_SDK := $(NODE_RUNTIME)/node_modules/.package-lock.json
# AWS SAM CLI lives in a venv of its own: it pins its own boto3/botocore, which must not move
# Sluice's. The tests that drive `sam build` / `sam deploy` find it at .venv-sam/bin/sam.
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam

.PHONY: demo up runtimes test crash-test fuzz lint bench s3-tests clean browser

$(BIN)/sluice: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,bench]'
	$(BIN)/python -m sluice.tools.runtimes build
	touch $@

# Python runtimes: awslambdaric + boto3 for every python3.9..3.13 found on this machine (PATH or
# pyenv), pip-installed once so that `sluice up` runs each runtime on its own version offline.
runtimes: $(BIN)/sluice
	$(BIN)/python -m sluice.tools.runtimes build

# MiniStack (the bench's third peer) pins a botocore of its own, which must not move Sluice's: it
# lives in a venv of its own, like SAM; bench/footprint.py finds it at .venv-ministack/bin/ministack.
MINISTACK_VENV := .venv-ministack
MINISTACK := $(MINISTACK_VENV)/bin/ministack

$(MINISTACK):
	$(PYTHON) -m venv $(MINISTACK_VENV)
	$(MINISTACK_VENV)/bin/pip install -q --upgrade pip
	$(MINISTACK_VENV)/bin/pip install -q 'ministack>=1.5'
	touch $@

$(SAM):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q --upgrade pip
	$(SAM_VENV)/bin/pip install -q 'aws-sam-cli>=1.120'
	touch $@

demo: $(BIN)/sluice
	$(BIN)/sluice demo

up: $(BIN)/sluice $(NODE_SDK)
	$(BIN)/sluice up

test: $(BIN)/sluice $(NODE_SDK) $(SAM) browser
	$(BIN)/ruff check src tests bench s3tests
	$(BIN)/mypy
	$(BIN)/pytest -q -n 2 --dist loadfile

# Chromium for the console's browser tests (tests/browser): Debian's package, driven by the pip
# `playwright` package through its executable path. `playwright install` would download a browser
# build of its own, which a machine that reaches only package registries cannot do. Installed
# here when missing and running as root (CI); elsewhere, say what to install.
SLUICE_CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ ! -x "$(SLUICE_CHROMIUM)" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				--no-install-recommends chromium fonts-dejavu-core >/dev/null; \
		else echo "Chromium not found at $(SLUICE_CHROMIUM): the browser tests need it (sudo apt-get install chromium, or SLUICE_CHROMIUM=/path)"; fi; \
	fi

# The crash test's long profile: SIGKILL under mixed load, restart, check (tests/test_crash.py).
crash-test: $(BIN)/sluice $(NODE_SDK)
	SLUICE_CRASH_TRIALS=$${SLUICE_CRASH_TRIALS:-200} $(BIN)/pytest -p no:xdist -q -s tests/test_crash.py

# The protocol fuzzer's long profile: random, ~5,000 raw requests across the nine services (the
# quick profile runs in `make test`). More: SLUICE_FUZZ_EXAMPLES=2000 make fuzz.
fuzz: $(BIN)/sluice
	SLUICE_FUZZ=long $(BIN)/pytest -q -p no:xdist --timeout 0 tests/fuzz

# ceph's s3-tests against Sluice, plain and with --enforce-iam --verify-signatures (long: not in
# `make test`). Needs a checkout: make s3-tests S3TESTS_DIR=/path/to/s3-tests [S3TESTS_ARGS='-k name'].
s3-tests: $(BIN)/sluice
	@test -n "$(S3TESTS_DIR)" || { echo "make s3-tests needs S3TESTS_DIR=/path/to/ceph/s3-tests"; exit 2; }
	$(BIN)/python s3tests/run.py --s3tests-dir "$(S3TESTS_DIR)" $(if $(S3TESTS_MODE),--mode $(S3TESTS_MODE)) $(if $(S3TESTS_ARGS),-- $(S3TESTS_ARGS))

bench: $(BIN)/sluice $(NODE_SDK) $(MINISTACK)
	$(BIN)/python bench/footprint.py
	$(BIN)/python bench/s3.py
	$(BIN)/python bench/invoke.py
	$(BIN)/python bench/sqs.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/iam.py
	$(BIN)/python bench/cpu.py
	$(BIN)/python bench/reset.py
	$(BIN)/python bench/deploy.py
	$(BIN)/python bench/console.py

clean:
	rm -rf $(VENV) $(SAM_VENV) $(MINISTACK_VENV) .sluice $(NODE_RUNTIME)/node_modules .venv-s3tests .s3tests-results

.PHONY: node-sdk
# The AWS SDK for JavaScript v3 that Node.js functions find on NODE_PATH, as Lambda's Node
# runtimes ship it (exact versions from package-lock.json; needs the npm registry once, offline
# after). Skipped with a note when the machine has no npm: Node functions then lack the SDK.
node-sdk: $(NODE_SDK)
$(NODE_SDK): $(NODE_RUNTIME)/package.json $(NODE_RUNTIME)/package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --prefix $(NODE_RUNTIME) --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: Node.js functions will run without the AWS SDK for JavaScript"; fi
