# drivewidget developer commands. `make demo` and `make test` work on a fresh Debian machine.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
SYSTEM_TEST_DEPS := fuse3 rclone strace chromium libatomic1  # libatomic1: Playwright's node driver
SYSTEM_DEMO_DEPS := fuse3
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
PORT ?= 8888
VENV_COLAB ?= .venv-colab
VENV_LOWEST ?= .venv-lowest
COLAB_PY := $(VENV_COLAB)/bin/python
LOWEST_PY := $(VENV_LOWEST)/bin/python
COLAB_TEST_TOOLS := pytest pytest-timeout hypothesis nbformat nbclient playwright
COLAB_TESTS := tests/ui tests/test_controller.py tests/test_state_machine.py tests/test_cli.py \
	tests/backends/test_colab.py tests/status tests/sync tests/browser/test_notebook6.py

.PHONY: demo test test-fast test-colab test-lowest test-py313 test-fresh-debian lint typecheck bench venv clean

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
	$(MAKE) test-colab
	$(MAKE) test-lowest
	$(MAKE) test-py313

# Colab's own stack (tests/colab/pip-freeze*.txt): pip, the kernel (ipykernel 6.17, IPython 7.34,
# traitlets 5.7, tornado 6.5, ...), ipywidgets 7.7 and classic Notebook 6.5 with widgetsnbextension
# 3.6, and everything they pull in, at Colab's exact versions. Installing drivewidget there must
# change none of them; then the panel, controller, Colab backend and status tests run, and the
# panel in Notebook 6's page (ipywidgets 7's front end, as Colab draws widgets).
test-colab: $(PY)
	[ -x $(COLAB_PY) ] || python3 -m venv $(VENV_COLAB)
	$(PY) scripts/colab_stack.py preinstall --image gpu $(COLAB_PY) $(COLAB_TEST_TOOLS)
	$(PY) scripts/colab_stack.py install-unchanged $(COLAB_PY) -- --quiet -e '.[rclone]'
	$(PY) scripts/colab_stack.py check-env --image gpu $(COLAB_PY)
	$(COLAB_PY) -m pytest -p no:cacheprovider $(COLAB_TESTS)

# Every floor in pyproject.toml, tested: each dependency (and test tool) at the lowest version
# claimed (scripts/lowest_versions.py), the rest resolved around them; the suite without browsers.
# Wheels only (--no-build): a floor that would need a compiler fails here, not on a user's machine.
test-lowest: $(PY)
	[ -x $(VENV)/bin/uv ] || $(PIP) 'uv>=0.8'
	[ -x $(LOWEST_PY) ] || python3 -m venv --without-pip $(VENV_LOWEST)
	$(PY) scripts/lowest_versions.py constraints test > $(VENV_LOWEST)/floors.txt
	$(VENV)/bin/uv pip install --quiet --no-build --python $(LOWEST_PY) --resolution lowest-direct \
		-c $(VENV_LOWEST)/floors.txt -e '.[test]'
	$(PY) scripts/lowest_versions.py check $(LOWEST_PY) test
	$(LOWEST_PY) -m pytest -p no:cacheprovider -m "not browser" --ignore=tests/colab

# Colab's Python 3.13 (Debian 12 has none; a Debian 13 root made once by debootstrap, in
# .debian13-root) with Colab's versions: installing changes nothing, the suite without browsers.
test-py313:
	scripts/py313-colab-suite.sh

# The README's two commands in a minimal debootstrap'd Debian 12 (as root, ~20 min): run it
# before a change to install steps lands.
test-fresh-debian:
	scripts/fresh-debian-check.sh

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
	rm -rf $(VENV) $(VENV_COLAB) $(VENV_LOWEST) build dist *.egg-info test-artifacts
	rm -rf --one-file-system .debian13-root
