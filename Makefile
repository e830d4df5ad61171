# landslide_app: `make demo` serves the dashboard on the offline demo scene; `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# A CPU build of PyTorch; override e.g. TORCH_SPEC="torch>=2.2,<3" where 2.13.0 is not available.
TORCH_SPEC ?= torch==2.13.0
DATA ?= data/demo
PORT ?= 8866

.PHONY: setup demo test lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[app,dist,test,fast]"
	touch $@

demo: setup
	$(VENV)/bin/landslide-app demo --data $(DATA)
	$(VENV)/bin/landslide-app app --data $(DATA) --port $(PORT) --no-browser

test: setup
	$(VENV)/bin/pytest -q --durations=25

# ruff (lint + format) and mypy, clean; .ci/run runs this before the tests.
lint: setup
	$(VENV)/bin/ruff check landslide_app tests benchmarks
	$(VENV)/bin/ruff format --check landslide_app tests benchmarks
	$(VENV)/bin/mypy

bench: setup
	$(PY) benchmarks/run_all.py

clean:
	rm -rf data .pytest_cache
