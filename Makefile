# Two commands on a fresh machine with only Python:  make demo  |  make test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PKGS   := writers callbacks catalog pipeline
# The web UI tests drive Debian's chromium (never a browser playwright downloads).
CHROMIUM := /usr/bin/chromium
SUDO   := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: demo test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/zarrscribe demo

test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	rm -rf .typecheck && mkdir -p .typecheck/zarrscribe
	for p in $(PKGS); do ln -s ../../$$p .typecheck/zarrscribe/$$p; done
	cd .typecheck && ../$(BIN)/mypy --config-file ../pyproject.toml $(foreach p,$(PKGS),-p zarrscribe.$(p))

unit: $(STAMP) $(CHROMIUM)
	$(BIN)/pytest

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .typecheck .pytest_cache .mypy_cache .ruff_cache
