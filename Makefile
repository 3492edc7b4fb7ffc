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

# The demo site: a fixed camera whose generic detector keeps every empty frame until the trap learns the site.
SITES  ?= ../shared/images/sites
SITE   ?= zamba_lope_T37

demo: $(STAMP)
	rm -rf $(DEMO_STORAGE)  # each demo is a fresh session
ifneq ($(and $(wildcard $(SITES)/$(SITE)),$(TRAPD_MODELS_DIR)),)
	@echo "== a fixed camera at $(SITE): learn 5 frames a person marked empty, then replay the site"
	$(VENV)/bin/python tools/seed_labels.py $(SITES) $(SITE) --empties 5 > $(DEMO_STORAGE).labels.csv
	$(VENV)/bin/trapd learn $(DEMO_STORAGE).labels.csv --images $(SITES)/$(SITE) --storage $(DEMO_STORAGE)
	$(VENV)/bin/trapd replay $(SITES)/$(SITE) --event-per-photo --storage $(DEMO_STORAGE) 2>&1 | tail -n 1
endif
	@echo "== a simulated trap session: 4 PIR triggers, replaying photos of many cameras (site memory sees the view change)"
	$(VENV)/bin/trapd simulate $(if $(wildcard $(IMAGES)),--images $(IMAGES),) --triggers 4 --storage $(DEMO_STORAGE)
	$(VENV)/bin/trapd report --storage $(DEMO_STORAGE)

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy trapd tests tools
	$(VENV)/bin/pytest

clean:
	rm -rf $(VENV) $(DEMO_STORAGE) $(DEMO_STORAGE).labels.csv trapd-simulate .pytest_cache .mypy_cache .ruff_cache
