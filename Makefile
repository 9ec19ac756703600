# The two commands of the README: `make demo` and `make test`. Both install from requirements.lock.
VENV ?= .venv
PY := $(VENV)/bin/python
export UV_COMPILE_BYTECODE := 1

.PHONY: install demo test lint clean chromium

$(VENV)/.installed: requirements.lock pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check "uv>=0.4"
	$(VENV)/bin/uv pip sync --python $(PY) requirements.lock
	$(VENV)/bin/uv pip install --python $(PY) --no-deps -e .
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/rollcure demo

# Lint, the layer contract (docs/architecture.md) and the type check run first: seconds, the suite minutes.
# The browser tests (tests/test_monitor_browser.py) need headless Chromium: installed from Debian's
# packages when missing and when we may (root with apt-get); elsewhere those tests skip and say why.
test: lint chromium
	$(PY) -m pytest -q --durations=15

chromium:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	fi

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache --no-logo
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) rollcure_data
