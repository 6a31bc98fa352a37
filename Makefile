# canceldesk — the two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PORT   ?= 8000

.PHONY: demo test test-fast bench install browser i18n clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

# `make demo` installs what the demo runs on, not the test tools (`make test` adds those).
DEMO_STAMP := $(VENV)/.demo-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
$(DEMO_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e .
	@rm -f $(VENV)/.demo-* && touch $(DEMO_STAMP)

# The simulated network, partners and payments answer after ~0.5 s in the demo, so a subscriber can watch
# each step of a closure advance on the request page (set CANCELDESK_SIM_LATENCY_MS=0 for instant).
demo: $(DEMO_STAMP)
	@mkdir -p var
	PORT=$(PORT) CANCELDESK_ENV=$${CANCELDESK_ENV:-demo} CANCELDESK_SIM_LATENCY_MS=$${CANCELDESK_SIM_LATENCY_MS:-500} \
	  $(BIN)/canceldesk demo --port $(PORT)

# Debian's chromium for the browser suite (never a browser download at test time), and a CJK
# font so Chinese pages render (and their screenshots show characters, not boxes).
browser:
	@{ command -v chromium >/dev/null 2>&1 && fc-list :lang=zh 2>/dev/null | grep -q .; } || { \
	  echo "installing Debian chromium and fonts-noto-cjk for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; }

# The pages' translations: extract the strings, merge them into the .po catalogues (then translate).
i18n: $(STAMP)
	$(BIN)/pybabel extract -F src/canceldesk/locale/babel.cfg -k N_ -k _ --no-location --sort-output \
	  --omit-header --project canceldesk -o src/canceldesk/locale/messages.pot .
	$(BIN)/pybabel update -i src/canceldesk/locale/messages.pot -d src/canceldesk/locale --no-fuzzy-matching \
	  --width 120

test: $(STAMP) browser
	CANCELDESK_ENV=test $(BIN)/python -m pytest

test-fast: $(STAMP)
	CANCELDESK_ENV=test $(BIN)/python -m pytest tests/unit

# The HTTP benchmark drives the server with wrk, a native load generator (Debian's package).
bench: $(STAMP)
	@command -v wrk >/dev/null 2>&1 || { echo "installing Debian's wrk for the HTTP benchmark"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq wrk >/dev/null; }
	$(BIN)/canceldesk bench

clean:
	rm -rf var .pytest_cache test-artifacts
