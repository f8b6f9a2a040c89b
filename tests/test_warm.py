"""Warm workers (``--keep-warm``): real workers that outlive a run, serving the next one."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conformance import frameworks as registry
from conformance import runner, schedule, warm
from conformance.evaluation import Evaluator
from conformance.process import WorkerProcess
from conformance.runner import run
from conformance.schedule import write_costs
from conformance.user_adapter import UserAdapter
from tests.conftest import REPO, needs
from tests.test_runner import CASES, SLOW, _evaluation

# Each test here makes and inspects warm workers of its own.
pytestmark = pytest.mark.cold_workers

COLUMNS = ["case_id", "binding", "dtype", "status", "value", "grad", "grad_status", "explanation"]


@pytest.fixture
def warm_dir(monkeypatch):
    """A private slot directory of its own (short: a socket's path has a length limit); every
    warm worker started in it is stopped afterwards."""
    path = Path(tempfile.mkdtemp(prefix="cw", dir="/tmp"))
    monkeypatch.setenv(warm.DIRECTORY_ENVIRONMENT, str(path))
    yield path
    stopped = warm.stop_all()
    _wait_until(lambda: not any(info.running for info in stopped))
    shutil.rmtree(path, ignore_errors=True)


def _wait_until(condition, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _pids(framework: str) -> set[int]:
    return {info.pid for info in warm.warm_workers() if info.framework == framework and info.running}


@needs("numpy", "torch")
def test_the_next_run_uses_the_warm_workers_and_gets_the_same_rows(warm_dir, tmp_path, monkeypatch):
    (tmp_path / "cases.yaml").write_text(CASES)
    # The same lanes in every run (a run records the costs the next one plans with).
    costs = tmp_path / "costs.json"
    write_costs({"numpy": (1.0, 1000), "torch": (10.0, 1000)}, costs)
    monkeypatch.setattr(schedule, "costs_path", lambda: costs)
    monkeypatch.setattr(runner, "write_costs", lambda measured: None)

    def rows(**options):
        frame = run([tmp_path / "cases.yaml"], ["numpy", "torch"], ("float32", "float64"), **options)
        return frame[COLUMNS].sort_values(["case_id", "binding", "dtype"]).reset_index(drop=True)

    cold = rows(keep_warm=0)
    assert not warm.warm_workers()  # without --keep-warm nothing stays
    first = rows(keep_warm=1)
    started = {name: _pids(name) for name in ("numpy", "torch")}
    assert all(started.values()), started  # (torch may have two lanes, so two workers)
    second = rows(keep_warm=1)
    assert {name: _pids(name) for name in ("numpy", "torch")} == started  # no worker was started again
    as_json = [frame.to_json() for frame in (cold, first, second)]
    assert as_json[0] == as_json[1] == as_json[2]
    assert (cold["status"] == "pass").any()


@needs("numpy")
def test_two_runs_at_once_never_share_a_worker(warm_dir):
    numpy = registry.framework("numpy")
    one, two = Evaluator(keep_warm=1), Evaluator(keep_warm=1)
    try:
        first, _ = one._worker(numpy)
        second, _ = two._worker(numpy)
        assert first._pid and second._pid and first._pid != second._pid
        assert first._slot != second._slot
    finally:
        one.close()
        two.close()
    assert len(_pids("numpy")) == 2  # both stay, for two lanes of the next run


@needs("numpy")
def test_a_worker_with_other_settings_is_not_reused(warm_dir):
    numpy = registry.framework("numpy")
    plain, other = Evaluator(keep_warm=1), Evaluator(keep_warm=1, extra_env={"OMP_NUM_THREADS": "2"})
    try:
        first, _ = plain._worker(numpy)
        first_pid, first_key = first._pid, first._slot.socket_path.name.split("-")[1]
        plain.close()
        second, _ = other._worker(numpy)
        assert second._pid != first_pid and second._slot.socket_path.name.split("-")[1] != first_key
    finally:
        plain.close()
        other.close()


def test_the_slot_changes_when_the_adapters_source_changes(tmp_path, monkeypatch):
    package = tmp_path / "warmprobe"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "worker.py").write_text("def setup(): pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    before = warm._source_digest("warmprobe.worker")
    (package / "worker.py").write_text("def setup(): return 1\n")
    warm._source_digest.cache_clear()
    assert warm._source_digest("warmprobe.worker") != before


def test_the_digest_covers_the_shipped_adapters_and_a_plugins_package():
    roots = warm.source_roots(registry.framework("torch").worker_module)
    assert REPO / "conformance" in roots and REPO / "adapters" in roots
    plugin = registry.framework("tinygrad").worker_module if "tinygrad" in registry.names() else None
    if plugin:
        assert any((root / "worker.py").exists() for root in warm.source_roots(plugin)[1:])


@needs("torch")
def test_a_crashed_warm_worker_is_replaced(warm_dir):
    evaluator = Evaluator(timeout=120, keep_warm=1)
    try:
        worker, hello = evaluator._worker(registry.framework("torch"))
        assert hello.ready and worker._socket is not None
        threading.Timer(3.0, os.kill, (worker._pid, 9)).start()  # dies mid-recipe, as a segfault would
        crashed = evaluator.evaluate(_evaluation(SLOW))
        assert crashed.status == "error" and "closed its connection" in crashed.explanation
        fine = evaluator.evaluate(_evaluation(
            "loss = torch.nn.functional.cross_entropy(torch.tensor([[1.0, 2.0]]), torch.tensor([0]))"))
        assert fine.status == "pass", fine.explanation
        replacement, _ = evaluator._worker(registry.framework("torch"))
        assert replacement._pid != worker._pid
    finally:
        evaluator.close()


@needs("torch")
def test_a_hung_or_interrupted_warm_worker_is_killed_not_kept(warm_dir):
    torch = registry.framework("torch")
    evaluator = Evaluator(timeout=2, keep_warm=1)
    try:
        hung_pid = evaluator._worker(torch)[0]._pid
        hung = evaluator.evaluate(_evaluation(SLOW))
        assert hung.status == "error" and "2 s time limit" in hung.explanation
        assert _wait_until(lambda: not _running(hung_pid))  # the next run must not wait for it
        evaluator.timeout = 120
        busy_pid = evaluator._worker(torch)[0]._pid
        worker = evaluator._worker(torch)[0]
        busy = threading.Thread(target=evaluator.evaluate, args=(_evaluation(SLOW),))
        busy.start()
        assert _wait_until(lambda: worker._pending)
        time.sleep(0.5)
        evaluator.close()  # as Ctrl-C does, in the middle of a recipe
        busy.join(timeout=30)
        assert busy_pid != hung_pid and _wait_until(lambda: not _running(busy_pid))
    finally:
        evaluator.close()


@needs("numpy")
def test_a_socket_that_never_answers_is_replaced_by_a_fresh_worker(warm_dir):
    numpy = registry.framework("numpy")
    slot = warm.slots(numpy, WorkerProcess(numpy).environment())[0]
    impostor = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # e.g. a worker dying as it is reached
    impostor.bind(str(slot.socket_path))
    impostor.listen(1)
    threading.Thread(target=lambda: impostor.accept()[0].close(), daemon=True).start()
    evaluator = Evaluator(keep_warm=1)
    try:
        worker, hello = evaluator._worker(numpy)
        assert hello.ready and worker._slot == slot and _running(worker._pid)
    finally:
        evaluator.close()
        impostor.close()


@needs("numpy")
def test_an_idle_warm_worker_leaves_and_clears_its_slot(warm_dir):
    evaluator = Evaluator(keep_warm=0.1)  # 6 s: long enough to see it wait on a loaded machine
    worker, _ = evaluator._worker(registry.framework("numpy"))
    slot, pid = worker._slot, worker._pid
    evaluator.close()
    assert slot.socket_path.exists() and _running(pid)
    assert _wait_until(lambda: not _running(pid))
    assert not slot.socket_path.exists() and not slot.info_path.exists()


@needs("numpy")
def test_a_directory_others_may_enter_is_not_used(warm_dir):
    warm_dir.chmod(0o755)
    evaluator = Evaluator(keep_warm=1)
    try:
        worker, hello = evaluator._worker(registry.framework("numpy"))
        assert hello.ready and worker._socket is None and worker._proc is not None  # an ordinary worker
    finally:
        evaluator.close()
    assert not warm.warm_workers()


def test_a_users_adapter_is_never_kept_warm(warm_dir):
    adapter = UserAdapter.parse("tests.conftest:REPO", "cross_entropy[logits,index]", "torch").framework()
    assert warm.slots(adapter, dict(os.environ)) == []
    assert warm.slots(registry.framework("numpy"), dict(os.environ))  # where a framework is


def test_without_keep_warm_the_worker_is_an_ordinary_one(monkeypatch):
    monkeypatch.delenv(warm.ENVIRONMENT, raising=False)
    assert type(warm.worker(registry.framework("numpy"), 1.0, None, Evaluator().idle)) is WorkerProcess


@pytest.mark.parametrize("setting", ["soon", "-1", "nan"])
def test_a_wrong_setting_says_what_to_write(monkeypatch, setting):
    monkeypatch.setenv(warm.ENVIRONMENT, setting)
    with pytest.raises(ValueError, match="minutes"):
        Evaluator()
    result = subprocess.run([sys.executable, "-m", "conformance", "run", "--cases", "nowhere.yaml"],
                            capture_output=True, text=True, cwd=REPO, env={**os.environ})
    assert result.returncode == 2 and f"CONFORMANCE_KEEP_WARM={setting!r}" in result.stderr, result.stderr
    refused = subprocess.run([sys.executable, "-m", "conformance", "run", "--keep-warm", setting],
                             capture_output=True, text=True, cwd=REPO)
    assert refused.returncode == 2 and "minutes" in refused.stderr


@needs("numpy")
def test_the_workers_command_lists_and_stops_them(warm_dir, tmp_path):
    (tmp_path / "cases.yaml").write_text(CASES)
    command = [sys.executable, "-m", "conformance"]
    ran = subprocess.run([*command, "run", "--cases", str(tmp_path / "cases.yaml"), "--frameworks", "numpy",
                          "--out", str(tmp_path / "out"), "--quiet", "--keep-warm", "1"],
                         capture_output=True, text=True, cwd=REPO)
    assert ran.returncode == 0, ran.stderr
    listed = subprocess.run([*command, "workers"], capture_output=True, text=True, cwd=REPO)
    pids = {json.loads(info.read_text())["pid"] for info in warm_dir.glob("numpy-*.json")}
    assert pids and all(f"numpy          pid {pid}" in listed.stdout for pid in pids), listed.stdout
    stopped = subprocess.run([*command, "workers", "--stop"], capture_output=True, text=True, cwd=REPO)
    assert stopped.stdout.strip() == f"stopped {len(pids)} warm worker{'s' if len(pids) > 1 else ''}"
    assert _wait_until(lambda: not any(_running(pid) for pid in pids))
    assert "no warm workers" in subprocess.run([*command, "workers"], capture_output=True, text=True,
                                               cwd=REPO).stdout


def _running(pid: int) -> bool:
    """A live warm worker at ``pid`` (an orphan's zombie, if nobody reaps it, is not)."""
    try:
        return b"conformance.worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
