# The two commands of the README: `make run` (the main job) and `make test` (the test suite).
# Both set up a virtual environment in .venv from scratch on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
OUT ?= runs/local
TIME ?= 10m
MAX_NODES ?= 10
BACKENDS ?= onnxruntime,onnxruntime-opt

.PHONY: run test setup lint bench

$(VENV)/.installed: pyproject.toml
	python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,backends]'
	# onnx2torch without its dependencies: its torchvision would replace the CPU torch with a CUDA build
	$(PY) -m pip install -q --no-deps 'onnx2torch==1.5.*'
	touch $@

setup: $(VENV)/.installed

run: setup
	$(VENV)/bin/tensorsmith local -o $(OUT) --time $(TIME) --max-nodes $(MAX_NODES) --backends $(BACKENDS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: setup lint
	$(PY) -m pytest -q

bench: setup
	$(PY) bench/gen_bench.py
