# Two jobs for a fresh machine: `make demo` (install, then a simulated trap session, no Pi)
# and `make test` (install, then lint, type-check and the test suite). CI runs `make test`.
PYTHON ?= python3
VENV   ?= .venv
IMAGES ?= ../shared/images/camera-trap
# The real pretrained models, when ../shared is there; without them the demo runs fail-open.
export TRAPD_MODELS_DIR ?= $(if $(wildcard ../shared/models),$(abspath ../shared/models),)
DEMO_STORAGE ?= trapd-demo

STAMP := $(VENV)/.installed

.PHONY: demo test install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(STAMP)
	$(VENV)/bin/trapd simulate $(if $(wildcard $(IMAGES)),--images $(IMAGES),) --triggers 4 --storage $(DEMO_STORAGE)
	$(VENV)/bin/trapd report --storage $(DEMO_STORAGE)

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy trapd tests tools
	$(VENV)/bin/pytest

clean:
	rm -rf $(VENV) $(DEMO_STORAGE) trapd-simulate .pytest_cache .mypy_cache .ruff_cache
