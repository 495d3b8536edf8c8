# drivewidget developer commands. `make demo` and `make test` work on a fresh Debian machine.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
SYSTEM_TEST_DEPS := fuse3 rclone strace chromium
SYSTEM_DEMO_DEPS := fuse3
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
PORT ?= 8888
VENV7 ?= .venv-ipywidgets7
COLAB_IPYWIDGETS := ipywidgets==7.7.1

.PHONY: demo test test-fast test-ipywidgets7 lint typecheck bench venv clean

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
	$(MAKE) test-ipywidgets7

# Colab preinstalls ipywidgets 7 (its page renders 7's widgets): the panel's and controller's
# tests run again with that version, in an environment layered over $(VENV) (scripts/venv_overlay.py).
test-ipywidgets7: $(PY)
	[ -x $(VENV7)/bin/python ] || python3 -m venv $(VENV7)
	$(VENV7)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps '$(COLAB_IPYWIDGETS)' \
		ipython_genutils 'jupyterlab_widgets~=1.0' 'widgetsnbextension~=3.6.0'
	$(VENV7)/bin/python scripts/venv_overlay.py $(VENV)
	$(VENV7)/bin/python -c "import ipywidgets as w; assert w.__version__.startswith('7.'), w.__version__"
	$(VENV7)/bin/python -m pytest -q -m "not browser" -W "ignore::DeprecationWarning" \
		tests/ui tests/test_controller.py tests/test_state_machine.py

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
	rm -rf $(VENV) $(VENV7) build dist *.egg-info test-artifacts
