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
import sys
import threading
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from collections.abc import Callable, Iterable, Sequence

import pandas as pd

from conformance import frameworks as registry
from conformance.dtypes import DEFAULT_DTYPES, DType
from conformance.evaluation import Evaluation, Evaluator, plan
from conformance.loader import LoadResult, load_cases
from conformance.user_adapter import UserAdapter
from conformance.results import (Result, ResultsWriter, read_run_info, resume_results, row_key,
                                 run_info, to_frame)


def run(cases: Sequence[str | Path] = ("cases",), frameworks: Iterable[str] | None = None,
        dtypes: Sequence[DType] = DEFAULT_DTYPES, out: str | Path | None = "reports/latest",
        timeout: float = 60.0, on_result: Callable[[Result], None] | None = None,
        loaded: LoadResult | None = None, resume: bool = False,
        startup_timeout: float = 300.0, adapter: UserAdapter | None = None) -> pd.DataFrame:
    """Run cases x bindings x dtypes and return one row per evaluation.

    Args:
      cases: case files or directories.
      frameworks: names (``torch``, ``keras``, ``jax``); default all.
      dtypes: dtypes to evaluate in.
      out: directory for ``results.jsonl`` (and, from the CLI, the reports);
        None writes nothing.
      timeout: per-evaluation time limit in seconds; a hang past it becomes
        an ``error`` row and the worker is restarted.
      on_result: called with each result as it finishes.
      loaded: cases already loaded (skips loading ``cases``).
      startup_timeout: how long a framework's worker may take to import and
        start before its rows become errors.
      adapter: your own loss function under test (:class:`~conformance.user_adapter.UserAdapter`,
        e.g. ``UserAdapter.parse("mypkg.losses:my_ce", "cross_entropy[logits,index]")``); with
        it, ``frameworks`` defaults to none but the adapter.
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

    evaluator = Evaluator(timeout=timeout, startup_timeout=startup_timeout)
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    threads: list[threading.Thread] = []
    completed = False
    try:
        for result in planned:
            if row_key(result) not in done.keys:
                record(result, notify=False)
        threads = _start_threads(evaluations, evaluator, record, stop, done)
        for thread in threads:
            thread.join()
        completed = True
    except KeyboardInterrupt:
        stop.set()
        raise
    finally:
        environment = evaluator.environment()
        _shut_down(evaluator, threads)
        if writer:
            writer.close()
        if out is not None and (completed or stop.is_set()):
            _write_run_info(Path(out), environment, started, resume, interrupted=not completed)
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
                    interrupted: bool) -> None:
    info = run_info(environment, started)
    earlier = read_run_info(out / "results.jsonl") if resume else {}
    if earlier:
        # Frameworks whose rows were all done are not started again: keep what they reported.
        info["frameworks"] = {**earlier.get("frameworks", {}), **info["frameworks"]}
        info["started"], info["resumed"] = earlier.get("started", started), started
    if interrupted:
        info["interrupted"] = True
    out.mkdir(parents=True, exist_ok=True)
    (out / "run.json").write_text(json.dumps(info, indent=2), encoding="utf-8")


def _start_threads(evaluations: list[Evaluation], evaluator: Evaluator,
                   record: Callable[[Result], None], stop: threading.Event,
                   done: _Done) -> list[threading.Thread]:
    """One thread per framework, each feeding that framework's worker."""
    by_framework: dict[str, list[Evaluation]] = defaultdict(list)
    for evaluation in evaluations:
        by_framework[evaluation.binding.framework.name].append(evaluation)
    threads = [threading.Thread(target=_run_serial, args=(items, evaluator, record, stop, done),
                                name=f"worker-{name}", daemon=True)
               for name, items in by_framework.items()]
    for thread in threads:
        thread.start()
    return threads


def _shut_down(evaluator: Evaluator, threads: list[threading.Thread]) -> None:
    """Stop the workers; after an interrupt, also let the threads see the stop."""
    evaluator.close()  # kills the workers: a thread waiting on one gets its (unrecorded) error now
    for thread in threads:
        thread.join(timeout=5)
    evaluator.close()  # a worker that a thread restarted just before it saw the stop


def _run_serial(evaluations: list[Evaluation], evaluator: Evaluator,
                record: Callable[[Result], None], stop: threading.Event | None = None,
                done: _Done | None = None) -> None:
    stop = stop if stop is not None else threading.Event()
    done = done if done is not None else _Done([])
    for evaluation in evaluations:
        if stop.is_set():
            return
        if done.covers(evaluation):
            continue
        for on_device in [evaluation, *evaluator.on_accelerators(evaluation)]:
            if stop.is_set():
                return
            if done.has(on_device):
                continue
            try:
                result = evaluator.evaluate(on_device)
            except Exception as exc:  # a bug of ours must not lose this row or the others
                print(f"internal error on {on_device.name}: {exc!r}", file=sys.stderr)
                result = _internal_error(on_device, exc)
            record(result)


def _internal_error(evaluation: Evaluation, exc: Exception) -> Result:
    """An error row built from plain fields only, so that building it cannot fail too."""
    case, binding = evaluation.case, evaluation.binding
    return Result(case_id=case.id, loss=case.loss, binding=binding.id, framework=binding.framework.name,
                  dtype=evaluation.dtype, mode=case.mode, status="error",
                  explanation=f"internal error in the suite: {exc!r}", file=case.file, line=case.line)
