"""This repository's own pytest configuration: xdist's order is set where xdist is loaded,
and a session without xdist still runs (``pyproject.toml``, the root ``conftest.py``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO

QUICK = "tests/test_schema.py"  # a module that needs no framework


def _pytest(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600)


def test_a_session_without_xdist_runs():
    # --maxschedchunk in addopts made this "error: unrecognized arguments".
    done = _pytest("-p", "no:xdist", "-q", QUICK)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


@pytest.mark.parametrize("given,chunk", [([], 1), (["--maxschedchunk", "4"], 4)])
def test_under_xdist_the_matrix_goes_one_item_at_a_time_unless_chosen(given, chunk):
    pytest.importorskip("xdist")
    done = _pytest("-n", "2", *given, "--collect-only", QUICK)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert f"pytest-xdist: --maxschedchunk {chunk} " in done.stdout


def test_the_header_is_silent_where_the_schedule_ignores_the_option():
    pytest.importorskip("xdist")
    done = _pytest("-n", "2", "--dist", "loadfile", "--collect-only", QUICK)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "--maxschedchunk" not in done.stdout


def test_every_package_of_the_library_is_installed():
    # An editable install finds every folder; a wheel holds only the packages listed
    # (conformance.fuzz was missing: `conformance fuzz` failed when installed from one).
    import tomllib

    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "conformance").rglob("__init__.py")}
    found |= {"conformance.adapters"} if (REPO / "adapters" / "__init__.py").exists() else set()
    assert found <= listed, f"add to [tool.setuptools] packages in pyproject.toml: {sorted(found - listed)}"
