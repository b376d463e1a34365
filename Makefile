# Two commands matter: `make run` and `make test`. Everything else is a building block.
# The interpreter of every virtualenv: the distribution's CPython 3.11 when there is one (Debian
# and Ubuntu build it with PGO and LTO into a static executable; it runs rmq 15-25 % faster here
# than a default pyenv build with a shared libpython: docs/benchmarks.md, "Interpreter build"),
# else the first python3.11 on PATH. An existing .venv is kept: `make clean` to switch.
PYTHON ?= $(firstword $(wildcard /usr/bin/python3.11) python3.11)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-peers env interop-env spark-env test-spark flink-env test-flink lint typecheck pytest format clean

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

# PySpark's pins (pandas, pyarrow, py4j, python-dateutil) clash with PyFlink's and Celery's, so the
# Spark connector gets its own virtualenv, rebuilt whenever pyproject.toml changes.
SPARK_PYTHON ?= $(PYTHON)
SPARK_VENV := .venv-spark
SPARK_STAMP := $(SPARK_VENV)/.installed

$(SPARK_STAMP): pyproject.toml
	test -x $(SPARK_VENV)/bin/python || $(SPARK_PYTHON) -m venv $(SPARK_VENV)
	$(SPARK_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SPARK_VENV)/bin/python -m pip install --quiet -e '.[spark]' 'pytest>=8' 'pytest-timeout>=2.3'
	$(SPARK_VENV)/bin/python -c 'import pyspark.sql.datasource, pyarrow, rmq_spark'
	touch $(SPARK_STAMP)

spark-env: $(SPARK_STAMP)

# The Spark connector's tests, with a real local SparkSession (needs Java 17 on PATH or JAVA_HOME),
# after a strict type check of the connector against PySpark's own annotations.
test-spark: env spark-env
	MYPYPATH=connectors $(BIN)/mypy --strict --explicit-package-bases \
		--python-executable $(SPARK_VENV)/bin/python connectors/rmq_spark
	$(SPARK_VENV)/bin/pytest -q -p no:cacheprovider tests/spark

# PyFlink's pins (apache-beam, pandas<2.3, pyarrow<21, pemja) clash with PySpark's, so the Flink
# connector gets its own virtualenv too. Its Java half is compiled with javac against the jars of
# the installed apache-flink wheel (python -m rmq_flink.jar; rebuilt when a source changes).
FLINK_PYTHON ?= $(PYTHON)
FLINK_VENV := .venv-flink
FLINK_STAMP := $(FLINK_VENV)/.installed

$(FLINK_STAMP): pyproject.toml
	test -x $(FLINK_VENV)/bin/python || $(FLINK_PYTHON) -m venv $(FLINK_VENV)
	$(FLINK_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(FLINK_VENV)/bin/python -m pip install --quiet -e '.[flink]' 'pytest>=8' 'pytest-timeout>=2.3'
	$(FLINK_VENV)/bin/python -c 'import pyflink.datastream, rmq_flink'
	touch $(FLINK_STAMP)

flink-env: $(FLINK_STAMP)
	$(FLINK_VENV)/bin/python -m rmq_flink.jar

# The Flink connector's tests, with real local PyFlink jobs (needs JDK 17: java and javac).
test-flink: flink-env
	$(FLINK_VENV)/bin/pytest -q -p no:cacheprovider -W ignore::DeprecationWarning tests/flink

# Peers for `rmq bench compare` (docs/benchmarks.md): Debian's redis-server (required),
# nats-server and rabbitmq-server (each skipped with a note when it does not install), and the
# `bench` extra (matplotlib, redis-py + hiredis, nats-py, aio-pika, py-spy) in the venv.
# apt-get needs root, or sudo.
.PHONY: bench-peers bench-compare
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_INSTALL := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq

bench-peers: env
	$(SUDO) apt-get update -qq
	$(APT_INSTALL) redis-server
	$(APT_INSTALL) nats-server || echo "nats-server did not install: compare runs without NATS"
	$(APT_INSTALL) rabbitmq-server || echo "rabbitmq-server did not install: compare runs without it"
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'

# The full comparison (with 5 GiB through rmq for the memory figure), rewriting the table and
# plot of docs/benchmarks.md.
bench-compare: bench-peers
	$(BIN)/rmq --log-level WARNING bench compare --soak-gib 5 --docs docs/benchmarks.md

run: env
	$(BIN)/rmq standalone

lint: env
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: env
	$(BIN)/mypy

# pytest exits 5 when no test ran; make treats that as a failure, as it should.
pytest: env
	$(BIN)/pytest -q --ignore=tests/spark --ignore=tests/flink

# The bench tests compare rmq with a real Redis side by side: install Debian's redis-server when
# it is missing (root here; sudo otherwise).
test-peers:
	command -v redis-server >/dev/null || { $(SUDO) apt-get update -qq && $(APT_INSTALL) redis-server; }

test: interop-env test-peers lint typecheck pytest test-spark test-flink

format: env
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
	rm -rf $(INTEROP_VENV) $(INTEROP_NODE)/node_modules
	rm -rf $(SPARK_VENV)
	rm -rf $(FLINK_VENV) connectors/rmq_flink/_build
