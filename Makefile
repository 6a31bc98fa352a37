# canceldesk — the two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PORT   ?= 8000

.PHONY: demo test test-fast bench install browser clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	@mkdir -p var
	PORT=$(PORT) CANCELDESK_ENV=$${CANCELDESK_ENV:-demo} $(BIN)/canceldesk demo --port $(PORT)

# Debian's chromium for the browser suite (never a browser download at test time).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: $(STAMP) browser
	CANCELDESK_ENV=test $(BIN)/python -m pytest

test-fast: $(STAMP)
	CANCELDESK_ENV=test $(BIN)/python -m pytest tests/unit

bench: $(STAMP)
	$(BIN)/canceldesk bench

clean:
	rm -rf var .pytest_cache test-artifacts
