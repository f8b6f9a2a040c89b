"""The pytest plugin's evaluations, computed the way ``conformance run`` computes them.

Evaluating one item at a time would leave every framework but one idle and, under
pytest-xdist, start every framework once per pytest process. Instead, once collection is
final, one process of the session evaluates *all* its selected matrix items in the
background through the runner's parallel path (one thread and worker per framework) and
publishes each row; an item then only waits for its own row.

Under pytest-xdist every worker collects and deselects the same items, so each knows the
whole selection: the first to take a lock in a directory named by the session's run id
evaluates it and appends the rows to a ``results.jsonl`` there; the others read that file.
If that process dies, or a row never comes, an item evaluates itself as before.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from conformance.evaluation import Evaluation, Evaluator
from conformance.results import Result, ResultsTail, ResultsWriter

Key = tuple[str, str, str]
POLL = 0.05


def _key(evaluation: Evaluation) -> Key:
    return (evaluation.case.id, evaluation.binding.id, evaluation.dtype)


class Batch:
    """The session's matrix rows: computed here (the leader) or read from the leader's file."""

    def __init__(self, evaluations: list[Evaluation], evaluator: Evaluator, run_id: str | None):
        self.evaluator = evaluator
        self._rows: dict[Key, Result] = {}
        self._arrived = threading.Condition()
        self._finished = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_file: Any = None
        self._tail: ResultsTail | None = None
        self._directory = Path(tempfile.gettempdir()) / f"loss-conformance-pytest-{run_id}" if run_id else None
        if self._lead():
            self._thread = threading.Thread(target=self._evaluate, args=(evaluations,), name="conformance-batch",
                                            daemon=True)
            self._thread.start()
        else:
            self._tail = ResultsTail(self._directory / "results.jsonl")

    def _lead(self) -> bool:
        """Take the session's lock: this process evaluates. Without xdist there is no one else."""
        if self._directory is None:
            return True
        self._directory.mkdir(parents=True, exist_ok=True)
        self._lock_file = (self._directory / "lock").open("a")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        (self._directory / "results.jsonl").write_text("")
        return True

    def _evaluate(self, evaluations: list[Evaluation]) -> None:
        from conformance.runner import evaluate_in_parallel

        writer = ResultsWriter(self._directory / "results.jsonl", append=True) if self._directory else None

        def record(result: Result) -> None:
            if writer:
                writer.write(result)
            with self._arrived:
                self._rows[(result.case_id, result.binding, result.dtype)] = result
                self._arrived.notify_all()

        try:
            for thread in evaluate_in_parallel(evaluations, self.evaluator, record):
                thread.join()
        finally:
            if writer:
                writer.close()
                (self._directory / "done").write_text("")
            self._finished.set()
            with self._arrived:
                self._arrived.notify_all()

    def result(self, evaluation: Evaluation) -> Result:
        """This evaluation's row: from the batch, or computed here if the batch cannot give it."""
        key = _key(evaluation)
        if self._thread is not None:
            with self._arrived:
                self._arrived.wait_for(lambda: key in self._rows or self._finished.is_set())
                found = self._rows.get(key)
        else:
            found = self._follow(key)
        return found if found is not None else self.evaluator.evaluate(evaluation)

    def _follow(self, key: Key) -> Result | None:
        assert self._tail is not None and self._directory is not None
        while True:
            ended = (self._directory / "done").exists() or not self._leader_alive()
            # Read after looking at the leader: rows written just before it ended are seen.
            for row in self._tail.read():
                self._rows[(row.case_id, row.binding, row.dtype)] = row
            if key in self._rows or ended:
                return self._rows.get(key)
            time.sleep(POLL)

    def _leader_alive(self) -> bool:
        with (self._directory / "lock").open("a") as probe:
            try:
                fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(probe, fcntl.LOCK_UN)
            return False

    def close(self, wait: bool) -> None:
        """End of this process's session. The leader waits (``wait``) for its evaluations:
        under xdist the other workers may still be waiting for rows it has not written."""
        if wait and self._thread is not None and self._directory is not None:
            self._thread.join()
        if self._lock_file is not None:
            self._lock_file.close()


def run_id(config: Any) -> str | None:
    """The pytest-xdist session's id, shared by its workers; None outside xdist."""
    workerinput = getattr(config, "workerinput", None)
    if not workerinput:
        return None
    return f"{workerinput.get('testrunuid', 'run')}-{os.getppid()}"


def remove_session_files() -> None:
    """Called by the xdist controller (the workers' parent) when the session ends."""
    import shutil

    for directory in Path(tempfile.gettempdir()).glob(f"loss-conformance-pytest-*-{os.getpid()}"):
        shutil.rmtree(directory, ignore_errors=True)
