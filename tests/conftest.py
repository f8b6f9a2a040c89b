"""Shared fixtures for the suite's own tests (not the conformance matrix)."""

from __future__ import annotations

import dataclasses
import fcntl
import importlib.util
import os
import shutil
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance import frameworks as registry
from conformance import warm
from conformance.binding import Binding

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent
# One valid case (its expected value is log(1 + e)), for tests that need a good file beside a bad one.
GOOD_CASE_FILE = """\
cases:
  - id: good
    loss: cross_entropy
    input: {logits: [[1.0, 2.0]]}
    target: {index: [0]}
    expected: 1.313261687518
"""

# The top-level modules each framework's worker needs, as its adapter declares them
# (Framework.required_modules). `tox -e torch` (and -e keras, -e jax) installs one
# framework alone: a test that needs another one skips and says why. Found with
# find_spec, which imports nothing - frameworks only ever run in their worker
# process (the worker skips a framework's rows on the same condition).
FRAMEWORK_MODULES = {name: registry.framework(name).required_modules for name in registry.names()}


def pytest_sessionstart(session: pytest.Session) -> None:
    """``make test`` sets CONFORMANCE_REQUIRE_ALL: there, a framework that is missing is a
    broken install to report, not a reason for its tests to skip."""
    if os.environ.get("CONFORMANCE_REQUIRE_ALL"):
        missing = not_installed(*FRAMEWORK_MODULES)
        if missing:
            raise pytest.UsageError(f"CONFORMANCE_REQUIRE_ALL is set but {', '.join(missing)} "
                                    "cannot be found: run `make install` (or unset it to let tests skip)")


def not_installed(*frameworks: str) -> list[str]:
    """The modules ``frameworks`` need that this environment lacks (imports none of them)."""
    needed = [m for name in frameworks for m in FRAMEWORK_MODULES[name]]
    return [m for m in dict.fromkeys(needed) if importlib.util.find_spec(m) is None]


def installed(*frameworks: str) -> bool:
    return not not_installed(*frameworks)


def _reason(frameworks: tuple[str, ...]) -> str:
    return f"needs {', '.join(frameworks)}: {', '.join(not_installed(*frameworks))} not installed"


def needs(*frameworks: str) -> pytest.MarkDecorator:
    """Mark a test that runs ``frameworks`` in their workers: it skips unless all are installed."""
    return pytest.mark.skipif(not installed(*frameworks), reason=_reason(frameworks))


def require(*frameworks: str) -> None:
    """In a fixture or test: skip unless ``frameworks`` are all installed."""
    if not installed(*frameworks):
        pytest.skip(_reason(frameworks))


def attached(framework: str, binding: Binding) -> Binding:
    """``binding`` declared by (a copy of) ``framework``, so that framework's worker runs it."""
    return dataclasses.replace(registry.framework(framework), bindings=(binding,)).bindings[0]


@pytest.fixture
def write_cases(tmp_path: Path):
    """Write YAML text (dedented) to a file under a temporary ``cases/`` folder."""
    root = tmp_path / "cases"
    root.mkdir()

    def write(text: str, name: str = "cases.yaml") -> Path:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    write.root = root
    return write


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cold_workers: the test starts and stops its own workers (it tests "
                            "their start, transport or death), never the session's warm ones")


# Minutes a warm worker of the session's pool waits for the next test: the tests that reuse
# one come within a minute or two, and a pool whose pytest was killed leaves by itself
# (a session that ends stops whatever is left).
_POOL_MINUTES = "3"


@pytest.fixture(scope="session")
def _warm_pool() -> Iterator[Path]:
    """A private directory of warm workers for this pytest process.

    Most tests need a framework's answers, not its start: starting torch, TensorFlow, JAX
    and Keras again for each of them was 40 % of the time of `pytest -n 2 tests`. They share one
    warm worker per framework and worker environment (``conformance.warm``, whose slot key
    holds everything that could change an answer). The directory is short (a socket's path
    has a length limit) and this process's alone, so xdist's processes never share it."""
    path = Path(tempfile.mkdtemp(prefix="lcw", dir="/tmp"))
    yield path
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(warm.DIRECTORY_ENVIRONMENT, str(path))
        warm.stop_all()
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module", autouse=True)
def _suite_environment(_warm_pool: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """What every run in a test module sees (its module-scoped fixtures too, and the pytest
    runs its tests start), whatever the shell sets. Module by module, so the conformance
    matrix that shares this pytest process (cases/) runs as a user runs it.

    - Runs of a test's few rows would move the user's record of what each framework costs
      (which plans the next full run): the suite's tests keep a record of their own.
    - Runs use the session's pool of warm workers."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONFORMANCE_COSTS", str(tmp_path_factory.getbasetemp() / "costs.json"))
        patch.setenv(warm.ENVIRONMENT, _POOL_MINUTES)
        patch.setenv(warm.DIRECTORY_ENVIRONMENT, str(_warm_pool))
        yield


def run_once_per_session(tmp_path_factory: pytest.TempPathFactory, name: str, **run_args: Any) -> Any:
    """``conformance.runner.run(**run_args)`` for a module fixture that several xdist processes
    need: the first to ask runs it, the others wait and read its results file (they would
    otherwise run the same matrix side by side on the same cores). pytest-xdist's recipe for a
    fixture executed once; a run that fails leaves nothing, and the next process runs it itself."""
    from conformance.results import read_results
    from conformance.runner import run

    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / f"shared-{name}"
    shared.mkdir(exist_ok=True)
    with (shared / "lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if (shared / "done").exists():
            return read_results(shared / "results.jsonl")
        frame = run(out=shared, **run_args)
        (shared / "done").write_text("")
        return frame


@pytest.fixture(autouse=True)
def _cold_workers(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test marked ``cold_workers`` (it tests a worker's start, transport or death) starts
    and stops its own; tests/test_warm.py tests warm workers in directories of its own."""
    if request.node.get_closest_marker("cold_workers"):
        monkeypatch.delenv(warm.ENVIRONMENT, raising=False)
