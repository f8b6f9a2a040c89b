# Two commands: `make report` (run the matrix, write reports/latest/) and
# `make test` (the project's own tests plus the matrix under pytest).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install test report validate clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[all,test]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -n 2

report: $(STAMP)
	$(PY) -m conformance run --out reports/latest

validate: $(STAMP)
	$(PY) -m conformance validate

clean:
	rm -rf $(VENV) reports/latest .pytest_cache
