# Two commands matter: `make run` and `make test`. Everything else is a building block.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test env interop-env lint typecheck pytest format clean

# The virtualenv is rebuilt whenever pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

env: $(STAMP)

# Real third-party clients for tests/interop (see tests/interop/README.md): ali-ons from the
# committed package-lock.json, and the C++ client (rocketmq==0.4.4, hash-pinned) in its own
# virtualenv. Each part is redone only when its pin file changes.
INTEROP_PYTHON ?= $(PYTHON)
INTEROP_VENV := .venv-interop
INTEROP_STAMP := $(INTEROP_VENV)/.installed
INTEROP_NODE := tests/interop/node
INTEROP_NODE_STAMP := $(INTEROP_NODE)/node_modules/.installed

$(INTEROP_STAMP): tests/interop/cpp/requirements.txt
	test -x $(INTEROP_VENV)/bin/python || $(INTEROP_PYTHON) -m venv $(INTEROP_VENV)
	$(INTEROP_VENV)/bin/python -m pip install --quiet --require-hashes --only-binary=:all: \
		-r tests/interop/cpp/requirements.txt
	$(INTEROP_VENV)/bin/python -c 'import rocketmq.client'  # loads librocketmq.so
	touch $(INTEROP_STAMP)

$(INTEROP_NODE_STAMP): $(INTEROP_NODE)/package.json $(INTEROP_NODE)/package-lock.json
	cd $(INTEROP_NODE) && npm ci --no-audit --no-fund --loglevel=error
	cd $(INTEROP_NODE) && node -e "require('ali-ons')"
	touch $(INTEROP_NODE_STAMP)

interop-env: $(INTEROP_STAMP) $(INTEROP_NODE_STAMP)

run: env
	$(BIN)/rmq standalone

lint: env
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: env
	$(BIN)/mypy

# pytest exits 5 when no test ran; make treats that as a failure, as it should.
pytest: env
	$(BIN)/pytest -q

test: interop-env lint typecheck pytest

format: env
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
	rm -rf $(INTEROP_VENV) $(INTEROP_NODE)/node_modules
