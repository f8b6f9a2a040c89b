"""pytest-xdist's order for this repository's own runs (``make test``, ``pytest -n 2``).

Under pytest-xdist the matrix (``cases/``, collected first: ``testpaths``) comes first, one
item at a time. A matrix item waits for its row from the background evaluation
(:mod:`conformance.pytest_batch`), which has the cores to itself while the xdist processes
wait; the suite's own tests then follow on every process. xdist's default queues a quarter
of each process's share at once: one process ran every test of ``tests/`` alone while the
other waited for the matrix's rows (measured in docs/performance.md: ``pytest -n 2`` took
696-713 s with the default, 627 s this way).

This is a hook, not ``--maxschedchunk=1`` in ``addopts``: that option exists only where
pytest-xdist is loaded, and ``pytest -p no:xdist`` (or an environment without it) stopped
with "unrecognized arguments". A ``--maxschedchunk`` given on the command line wins.
"""

from __future__ import annotations

import pytest

ONE_AT_A_TIME = 1


def pytest_configure(config: pytest.Config) -> None:
    # The attribute exists only with xdist loaded; None means the user did not choose.
    if getattr(config.option, "maxschedchunk", ONE_AT_A_TIME) is None:
        config.option.maxschedchunk = ONE_AT_A_TIME


def pytest_report_header(config: pytest.Config) -> str | None:
    # Only xdist's ``load`` schedule (its default with -n) reads the option.
    if getattr(config.option, "dist", None) == "load" and getattr(config.option, "maxschedchunk", None):
        return f"pytest-xdist: --maxschedchunk {config.option.maxschedchunk} (the matrix first; conftest.py says why)"
    return None
