# Two commands: `make report` (run the matrix, write reports/latest/) and
# `make test` (the project's own tests plus the matrix under pytest).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# An out-of-tree framework plugin, installed the way a user installs one.
TINYGRAD_PLUGIN := examples/plugins/tinygrad

.PHONY: install browser clang test report validate clean

install: $(STAMP) clang

$(STAMP): pyproject.toml constraints.txt $(TINYGRAD_PLUGIN)/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[all,test]' -e ./$(TINYGRAD_PLUGIN)
	touch $(STAMP)

# tinygrad's CPU device compiles its kernels with Debian's clang; without it (not root,
# no apt) the tinygrad worker fails to start and its rows are errors that say so.
clang:
	@command -v clang >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { apt-get install -y -q clang >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q clang >/dev/null 2>&1; }; }; } || \
	  echo "no clang: tinygrad's CPU device cannot compile; its rows will be errors"

# Debian's Chromium for the report's browser tests; without it (not root, no
# apt) those tests skip and say why.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { apt-get install -y -q chromium >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; }; }; } || \
	  echo "no chromium: the browser tests will be skipped"

# Every framework must be installed here: a missing one fails the run instead of skipping.
test: $(STAMP) clang browser
	CONFORMANCE_REQUIRE_ALL=1 $(PY) -m pytest -n 2

report: $(STAMP) clang browser
	$(PY) -m conformance run --out reports/latest; status=$$?; \
	  $(PY) -m conformance.browser reports/latest/report.html reports/report-top.png; exit $$status

validate: $(STAMP)
	$(PY) -m conformance validate

clean:
	rm -rf $(VENV) reports/latest .pytest_cache
