# One-command set-up: each target creates .venv on first use and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo up test crash-test fuzz lint bench s3-tests clean

$(BIN)/sluice: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,bench]'
	touch $@

demo: $(BIN)/sluice
	$(BIN)/sluice demo

up: $(BIN)/sluice
	$(BIN)/sluice up

test: $(BIN)/sluice
	$(BIN)/ruff check src tests bench s3tests
	$(BIN)/mypy
	$(BIN)/pytest -q -n 2 --dist loadfile

# The crash test's long profile: SIGKILL under mixed load, restart, check (tests/test_crash.py).
crash-test: $(BIN)/sluice
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

bench: $(BIN)/sluice
	$(BIN)/python bench/s3.py
	$(BIN)/python bench/invoke.py
	$(BIN)/python bench/sqs.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/iam.py
	$(BIN)/python bench/cpu.py

clean:
	rm -rf $(VENV) .sluice .venv-s3tests .s3tests-results
