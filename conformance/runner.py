"""Run the matrix: every framework in its own worker, side by side.

Each framework gets one thread in this process that feeds its worker, so the
frameworks run in parallel on separate cores while this process imports
none of them. Results are appended to ``results.jsonl`` as they finish.

A run survives an interruption: on Ctrl-C the workers are stopped, every row
finished so far stays in ``results.jsonl``, and ``run(..., resume=True)``
(``conformance run --resume``) later evaluates only the rows still missing.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import queue
import threading
from collections import defaultdict, deque
from dataclasses import replace
from pathlib import Path
from collections.abc import Callable, Iterable, Sequence

import pandas as pd

from conformance import frameworks as registry
from conformance.dtypes import DEFAULT_DTYPES, DType
from conformance.evaluation import Evaluation, Evaluator, Executed, plan
from conformance.loader import LoadResult, load_cases
from conformance.schedule import Lane, plan_lanes, write_costs
from conformance.shard import Shard
from conformance.user_adapter import UserAdapter
from conformance.results import (Result, ResultsWriter, read_run_info, resume_results, row_key,
                                 run_info, to_frame)


def run(cases: Sequence[str | Path] = ("cases",), frameworks: Iterable[str] | None = None,
        dtypes: Sequence[DType] = DEFAULT_DTYPES, out: str | Path | None = None,
        timeout: float = 60.0, on_result: Callable[[Result], None] | None = None,
        loaded: LoadResult | None = None, resume: bool = False,
        startup_timeout: float = 300.0, adapter: UserAdapter | None = None,
        shard: Shard | None = None, on_plan: Callable[[int], None] | None = None,
        keep_warm: float | None = None) -> pd.DataFrame:
    """Run cases x bindings x dtypes and return one row per evaluation.

    Args:
      cases: case files or directories.
      frameworks: names (``torch``, ``keras``, ``jax``); default all.
      dtypes: dtypes to evaluate in.
      out: directory for ``results.jsonl`` (and, from the CLI, the reports);
        None (the default) writes nothing - ``conformance run`` writes ``reports/latest``.
      timeout: per-evaluation time limit in seconds, for the framework's worker
        and, separately, for the suite's oracle and judging; a hang past it
        becomes an ``error`` row and the worker is restarted.
      on_result: called with each result as it finishes.
      on_plan: called once, before any evaluation, with how many evaluations will run.
      loaded: cases already loaded (skips loading ``cases``).
      startup_timeout: how long a framework's worker may take to import and
        start before its rows become errors.
      adapter: your own loss function under test (:class:`~conformance.user_adapter.UserAdapter`,
        e.g. ``UserAdapter.parse("mypkg.losses:my_ce", "cross_entropy[logits,index]")``); with
        it, ``frameworks`` defaults to none but the adapter.
      shard: evaluate only this shard of the matrix (:class:`~conformance.shard.Shard`, e.g.
        ``Shard.parse("2/4")``); ``conformance report`` merges the shards' results.
      keep_warm: leave each framework's worker running for this many minutes without a
        run, for the next run to use (:mod:`conformance.warm`); None reads
        ``CONFORMANCE_KEEP_WARM`` (unset: the workers stop with the run).
      resume: keep the rows ``out/results.jsonl`` already has, keyed by
        (case_id, binding, dtype, device), and evaluate only the others; the
        returned frame holds both. Without that file, everything runs.

    On KeyboardInterrupt the workers are killed, the rows finished before it
    stay in ``results.jsonl`` (nothing produced after it is recorded), and the
    interrupt propagates.
    """
    loaded = loaded or load_cases(cases)
    if frameworks is None:
        frameworks = [] if adapter is not None else registry.names()
    chosen = [registry.framework(name) for name in frameworks]
    if adapter is not None:
        chosen.append(adapter.framework())
    evaluations, planned = plan(loaded.cases, chosen, tuple(dtypes))
    if shard is not None:
        evaluations, planned = shard.of_plan(evaluations, planned)
    path = Path(out) / "results.jsonl" if out is not None else None
    rows = _previous_rows(path) if resume and path is not None else []
    done = _Done(rows)
    writer = ResultsWriter(path, append=resume) if path is not None else None
    lock = threading.Lock()
    stop = threading.Event()

    def record(result: Result, notify: bool = True) -> None:
        with lock:
            if stop.is_set():  # e.g. the error row of a worker killed by the interrupt
                return
            rows.append(result)
            if writer:
                writer.write(result)
        if on_result and notify:
            on_result(result)

    evaluator = Evaluator(timeout=timeout, startup_timeout=startup_timeout, keep_warm=keep_warm)
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    threads: list[threading.Thread] = []
    completed = False
    try:
        for result in planned:
            if row_key(result) not in done.keys:
                record(result, notify=False)
        if on_plan:
            on_plan(sum(not done.has(evaluation) for evaluation in evaluations))
        costs = _Costs()
        threads = _start_threads(evaluations, evaluator, record, stop, done, costs)
        for thread in threads:
            thread.join()
        completed = True
        write_costs(costs.measured)
    except KeyboardInterrupt:
        stop.set()
        raise
    finally:
        environment = evaluator.environment()
        _shut_down(evaluator, threads)
        if writer:
            writer.close()
        if out is not None and (completed or stop.is_set()):
            _write_run_info(Path(out), environment, started, resume, interrupted=not completed, shard=shard)
    return to_frame(rows)


def _previous_rows(path: Path) -> list[Result]:
    if not path.exists():
        print(f"--resume: there is no {path} yet, so everything runs", file=sys.stderr)
        return []
    rows = resume_results(path)
    print(f"--resume: keeping the {len(rows)} rows in {path}; evaluating the rest", file=sys.stderr)
    return rows


class _Done:
    """The evaluations a resumed run already has a row for."""

    def __init__(self, rows: Iterable[Result]):
        self.keys = {row_key(result) for result in rows}
        self._devices: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        for case_id, binding, dtype, device in self.keys:
            self._devices[(case_id, binding, dtype)].add(device)

    def has(self, evaluation: Evaluation) -> bool:
        devices = self._devices.get((evaluation.case.id, evaluation.binding.id, evaluation.dtype), set())
        if evaluation.device != "cpu":
            return evaluation.device in devices
        # The first evaluation's row carries the device its worker reported: "cpu",
        # or e.g. JAX's "gpu". Any row not on a declared accelerator is that one.
        return bool(devices - set(evaluation.framework.accelerators))

    def covers(self, evaluation: Evaluation) -> bool:
        """Done on the CPU and on every accelerator the framework declares: then
        there is no need to ask its worker (and start it) which it can see."""
        return all(self.has(replace(evaluation, device=device))
                   for device in ("cpu", *evaluation.framework.accelerators))


def _write_run_info(out: Path, environment: dict[str, dict], started: str, resume: bool,
                    interrupted: bool, shard: Shard | None = None) -> None:
    info = run_info(environment, started)
    if shard is not None:
        info["shard"] = str(shard)
    earlier = read_run_info(out / "results.jsonl") if resume else {}
    if earlier:
        # Frameworks whose rows were all done are not started again: keep what they reported.
        info["frameworks"] = {**earlier.get("frameworks", {}), **info["frameworks"]}
        info["started"], info["resumed"] = earlier.get("started", started), started
    if interrupted:
        info["interrupted"] = True
    out.mkdir(parents=True, exist_ok=True)
    (out / "run.json").write_text(json.dumps(info, indent=2), encoding="utf-8")


def evaluate_in_parallel(evaluations: list[Evaluation], evaluator: Evaluator,
                         record: Callable[[Result], None], stop: threading.Event | None = None,
                         ) -> list[threading.Thread]:
    """Start evaluating as a run does (:func:`_start_threads`), passing each result to
    ``record`` as it is judged; returns the (started) threads."""
    return _start_threads(evaluations, evaluator, record, stop or threading.Event(), _Done([]))


class _Costs:
    """The CPU seconds each framework's workers spent, and on how many rows, in this run
    (:mod:`conformance.schedule` plans the next run with them)."""

    def __init__(self) -> None:
        self.measured: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def add(self, framework: str, seconds: float, rows: int) -> None:
        with self._lock:
            before = self.measured.get(framework, (0.0, 0))
            self.measured[framework] = (before[0] + seconds, before[1] + rows)


def _start_threads(evaluations: list[Evaluation], evaluator: Evaluator,
                   record: Callable[[Result], None], stop: threading.Event,
                   done: _Done, costs: _Costs | None = None) -> list[threading.Thread]:
    """As many threads as cores, each running lanes (:func:`conformance.schedule.
    plan_lanes`), costliest first, on the lane's own worker, and closing that worker when
    its lane is done; and one thread that judges what the workers return, so that no worker
    waits for the suite's own computation. More workers than cores at once would only take
    turns on the cores and evict each other's caches (measured: 20 % more CPU for the same
    recipes)."""
    lanes = deque(plan_lanes(evaluations))
    lock = threading.Lock()
    judging = _Judging(evaluator, record, stop)
    count = max(1, min(os.cpu_count() or 1, len(lanes)))
    running = [count]

    def next_lane() -> Lane | None:
        with lock:
            return lanes.popleft() if lanes else None

    def slot() -> None:
        try:
            while not stop.is_set() and (lane := next_lane()) is not None:
                _run_lane(lane, evaluator, judging.put, stop, done, costs)
        finally:
            with lock:
                running[0] -= 1
                last = running[0] == 0
            if last:
                judging.finish()

    threads = [threading.Thread(target=slot, name=f"slot-{i}", daemon=True) for i in range(count)]
    threads.append(threading.Thread(target=judging.run, name="judge", daemon=True))
    for thread in threads:
        thread.start()
    return threads


class _Judging:
    """The rows the workers have run, judged one after the other in a thread of their own."""

    _END = object()

    def __init__(self, evaluator: Evaluator, record: Callable[[Result], None], stop: threading.Event):
        self.evaluator, self.record, self.stop = evaluator, record, stop
        self._queue: queue.Queue = queue.Queue()

    def put(self, executed: Executed) -> None:
        self._queue.put(executed)

    def finish(self) -> None:
        self._queue.put(self._END)

    def run(self) -> None:
        while (executed := self._queue.get()) is not self._END:
            if self.stop.is_set():
                continue
            try:
                result = self.evaluator.judge(executed)
            except Exception as exc:  # a bug of ours must not lose this row or the others
                print(f"internal error on {executed.evaluation.name}: {exc!r}", file=sys.stderr)
                result = _internal_error(executed.evaluation, exc)
            self.record(result)


def _run_lane(lane: Lane, evaluator: Evaluator, hand_on: Callable[[Executed], None], stop: threading.Event,
              done: _Done, costs: _Costs | None) -> None:
    count, framework = 0, None
    while not stop.is_set() and (block := lane.work.take()):
        framework = block[0].framework
        count += _run_serial(block, evaluator, hand_on, stop, done, lane.index)
    # The worker's own CPU time, not this thread's wall time: on a shared machine every lane
    # waits for the others, the cheap ones most.
    cpu = evaluator.worker_cpu(framework, lane.index) if framework is not None else None
    if costs is not None and count and cpu and not stop.is_set():
        costs.add(lane.framework, cpu, count)
    if framework is not None:
        evaluator.retire(framework, lane.index)  # its rows are done: free its memory now


def _shut_down(evaluator: Evaluator, threads: list[threading.Thread]) -> None:
    """Stop the workers; after an interrupt, also let the threads see the stop."""
    evaluator.close()  # kills the workers: a thread waiting on one gets its (unrecorded) error now
    for thread in threads:
        thread.join(timeout=5)
    evaluator.close()  # a worker that a thread restarted just before it saw the stop


def _run_serial(evaluations: list[Evaluation], evaluator: Evaluator, hand_on: Callable[[Executed], None],
                stop: threading.Event | None = None, done: _Done | None = None, lane: int = 0) -> int:
    """Run one after the other on the lane's worker, handing each executed row on (to the
    judging thread); returns how many ran."""
    stop = stop if stop is not None else threading.Event()
    done = done if done is not None else _Done([])
    count = 0
    for evaluation in evaluations:
        if stop.is_set():
            return count
        if done.covers(evaluation):
            continue
        for on_device in [evaluation, *evaluator.on_accelerators(evaluation, lane)]:
            if stop.is_set():
                return count
            if done.has(on_device):
                continue
            try:
                executed = evaluator.execute(on_device, lane)
            except Exception as exc:  # a bug of ours must not lose this row or the others
                print(f"internal error on {on_device.name}: {exc!r}", file=sys.stderr)
                executed = Executed(on_device, _internal_error(on_device, exc), None)
            hand_on(executed)
            count += 1
    return count


def _internal_error(evaluation: Evaluation, exc: Exception) -> Result:
    """An error row built from plain fields only, so that building it cannot fail too."""
    case, binding = evaluation.case, evaluation.binding
    return Result(case_id=case.id, loss=case.loss, binding=binding.id, framework=binding.framework.name,
                  dtype=evaluation.dtype, mode=case.mode, status="error",
                  explanation=f"internal error in the suite: {exc!r}", file=case.file, line=case.line)
