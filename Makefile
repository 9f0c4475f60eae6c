# The README's commands. Each creates .venv and installs the project from pyproject.toml.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test bench lint venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	@touch $@

demo: venv
	@$(PY) -c "import weasyprint" 2>/dev/null || echo "note: WeasyPrint needs Pango (apt-get install libpango-1.0-0 libharfbuzz-subset0 fonts-wqy-microhei) for PDFs"
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py rundemo

test: venv
	$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: venv
	$(PY) bench/run.py

lint: venv
	$(VENV)/bin/ruff check .
	$(PY) manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) var
