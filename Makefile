# quantmesh developer commands. The README's quick start is `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test check lint typecheck protos protos-check buf pytest k8s bench clean

## setup: virtual environment with the project and its dev tools, plus node tooling (buf)
setup: $(STAMP) node_modules/.package-lock.json

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch must come from the CPU build on the machine, before anything that depends on it.
	if grep -q '"torch' pyproject.toml; then $(BIN)/pip install -q torch==2.13.0; fi
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

# Not `npm ci`: npm 11 leaves other platforms' optional buf binaries out of the lock file and
# then `npm ci` refuses it; `npm install` honours the pinned lock without rewriting it.
node_modules/.package-lock.json: package.json package-lock.json
	npm install --no-audit --no-fund --loglevel=error

## demo: set up, then run the main job end to end (report in ./quantmesh-report)
demo: setup
	$(BIN)/quantmesh demo

## test: everything CI checks: generated code, proto lint and breaking, lint, types, tests
test: setup protos-check buf lint typecheck pytest

protos: setup
	$(BIN)/python scripts/gen_protos.py

protos-check:
	$(BIN)/python scripts/gen_protos.py --check

buf:
	npx --no-install buf lint protos
	bash scripts/buf_breaking.sh

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/pytest -q

## k8s: render every kustomize overlay (kubectl) and validate it offline against the Kubernetes
## schemas, then the manifest policy tests (also part of `pytest`)
k8s: $(STAMP)
	@command -v kubectl >/dev/null || { echo "kubectl is missing (Debian: apt-get install kubectl)"; exit 2; }
	$(BIN)/python deploy/k8s/validate.py --out build/k8s
	$(BIN)/pytest -q tests/deploy

bench: setup
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) node_modules var quantmesh-report .mypy_cache .ruff_cache .pytest_cache
