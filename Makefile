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

EXTRAS := dev
SPEC   := .$(if $(EXTRAS),[$(EXTRAS)])
# Every editable install makes setuptools warn (13 lines) about folders named like the
# package in the working directory; zarrscribe has none (its four folders are mapped
# into it), so that one message is filtered, and nothing else.
QUIET  := PYTHONWARNINGS="ignore:Editable installation"

$(STAMP): pyproject.toml
	@echo "installing $(SPEC) into $(VENV) (a minute or two the first time) ..."
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(QUIET) $(BIN)/python -m pip install --quiet -e '$(SPEC)'
	@touch $(STAMP)

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
