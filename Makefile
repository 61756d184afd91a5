# Everything a fresh machine needs: `make demo` and `make test` do their own set-up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml .ci/constraints.txt | cksum | cut -d' ' -f1)
PYTEST := $(BIN)/pytest -p no:cacheprovider

.PHONY: setup jars demo demo-maintenance test unit integration docs test-deploy images lint format up down status bench bench-peers clean

setup: $(STAMP) jars

$(STAMP):
	@test -n "$(PYTHON)" || { echo "Python 3.11 is needed (python3.11 or python3 on PATH)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c .ci/constraints.txt -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

jars: $(STAMP)
	$(BIN)/flink-agents jars fetch

demo: setup
	$(BIN)/python -m jobs.demo $(DEMO_ARGS)

demo-maintenance: setup
	$(BIN)/python -m jobs.maintenance_demo $(DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

unit: $(STAMP)
	$(PYTEST) -m "not integration and not deploy" -q

integration: setup
	$(PYTEST) -m integration -q

# The documentation site, into site/ (open site/index.html); warnings are errors, so a
# broken link, anchor or docstring fails the build.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

test: setup lint unit docs integration

# The Docker deployment, tested: a Docker engine from Debian's packages (installed and
# started when missing), a base image made with debootstrap, the project's images on it,
# then the compose deployment with a TaskManager killed under load.
IMAGE_TAG ?= test
images: setup
	docker/engine.sh
	docker/base-image.sh flink-agents-base:bookworm
	docker/build.sh --base flink-agents-base:bookworm --tag $(IMAGE_TAG)

test-deploy: images
	DEPLOY_IMAGE_TAG=$(IMAGE_TAG) $(PYTEST) -m deploy tests/deploy -q

up: setup
	$(BIN)/flink-agents local up

down: $(STAMP)
	$(BIN)/flink-agents local down

status: $(STAMP)
	$(BIN)/flink-agents local status

bench: setup
	$(BIN)/python -m bench $(BENCH_ARGS)

# Apache Flink Agents beside this project (bench/README.md): the first run downloads its
# 421 MB wheel into .flink-agents/cache/peers and makes its own venv. BENCH_ARGS=--quick: a smoke run.
bench-peers: setup
	$(BIN)/python -m bench.peers $(BENCH_ARGS)

clean:
	-test -x $(BIN)/flink-agents && $(BIN)/flink-agents local down
	rm -rf $(VENV) .flink-agents .pytest_cache .mypy_cache .ruff_cache site
