# vfbench: two commands do all set-up on a fresh machine:
#   make demo   -> venv + the whole benchmark on the embedded synthetic corpus
#   make test   -> venv + lint + type check + the default (fast) test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
DEMO_OUT ?= runs/demo
SYSDEPS = espeak-ng sox ffmpeg chromium

.PHONY: demo test test-slow test-all lint typecheck bench sysdeps venv clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip" "setuptools<81" wheel
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

# Debian tools some tests need (espeak-ng speech, ffmpeg/sox media, chromium browser tests).
sysdeps:
	@missing=""; for c in espeak-ng sox ffmpeg chromium; do command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(SYSDEPS) >/dev/null \
	    || echo "warning: could not install$$missing; tests that need them will be skipped"; \
	fi

demo: $(STAMP)
	$(BIN)/vfbench demo --out $(DEMO_OUT)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) sysdeps lint typecheck
	$(BIN)/python -m pytest -m "not slow" -q

test-slow: $(STAMP) sysdeps
	$(BIN)/python -m pytest -m "slow" -q

test-all: $(STAMP) sysdeps lint typecheck
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
