# drivewidget developer commands. `make demo` and `make test` work on a fresh Debian machine.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
SYSTEM_TEST_DEPS := fuse3 rclone strace chromium
SYSTEM_DEMO_DEPS := fuse3
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
PORT ?= 8888

.PHONY: demo test test-fast lint typecheck bench venv clean

$(PY):
	python3 -m venv $(VENV)

venv: $(PY)

demo: $(PY)
	scripts/install-system-deps.sh $(SYSTEM_DEMO_DEPS) || echo "(continuing without FUSE: the demo's local backend does not need it)"
	$(PIP) -e '.[demo]'
	DRIVEWIDGET_BACKEND=local $(VENV)/bin/jupyter lab demo.ipynb --ip=127.0.0.1 --port=$(PORT) --no-browser $(ROOT_FLAG)

test: $(PY)
	scripts/install-system-deps.sh $(SYSTEM_TEST_DEPS)
	$(PIP) -e '.[test]'
	$(VENV)/bin/ruff check drivewidget tests benchmarks scripts
	$(VENV)/bin/ruff format --check drivewidget tests benchmarks scripts
	$(VENV)/bin/mypy drivewidget
	$(PY) -m pytest

test-fast: $(PY)
	$(PY) -m pytest -m "not browser"

lint:
	$(VENV)/bin/ruff check drivewidget tests benchmarks scripts
	$(VENV)/bin/ruff format --check drivewidget tests benchmarks scripts

typecheck:
	$(VENV)/bin/mypy drivewidget

bench: $(PY)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) build dist *.egg-info test-artifacts
