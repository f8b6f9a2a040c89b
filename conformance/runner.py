"""Run the matrix: every framework in its own worker, side by side.

Each framework gets one thread in this process that feeds its worker, so the
frameworks run in parallel on separate cores while this process imports
none of them. Results are appended to ``results.jsonl`` as they finish.
"""

from __future__ import annotations

import datetime
import json
import sys
import threading
from collections import defaultdict
from pathlib import Path
from collections.abc import Callable, Iterable, Sequence

import pandas as pd

import adapters
from conformance.dtypes import DEFAULT_DTYPES, DType
from conformance.evaluation import Evaluation, Evaluator, plan
from conformance.loader import LoadResult, load_cases
from conformance.results import Result, ResultsWriter, run_info, to_frame


def run(cases: Sequence[str | Path] = ("cases",), frameworks: Iterable[str] | None = None,
        dtypes: Sequence[DType] = DEFAULT_DTYPES, out: str | Path | None = "reports/latest",
        timeout: float = 60.0, on_result: Callable[[Result], None] | None = None,
        loaded: LoadResult | None = None) -> pd.DataFrame:
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
    """
    loaded = loaded or load_cases(cases)
    chosen = [adapters.framework(name) for name in (frameworks or adapters.ADAPTER_MODULES)]
    evaluations, rows = plan(loaded.cases, chosen, tuple(dtypes))
    writer = ResultsWriter(Path(out) / "results.jsonl") if out is not None else None
    lock = threading.Lock()

    def record(result: Result) -> None:
        with lock:
            rows.append(result)
        if writer:
            writer.write(result)
        if on_result:
            on_result(result)

    for result in list(rows):
        if writer:
            writer.write(result)
    evaluator = Evaluator(timeout=timeout)
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    try:
        _run_parallel(evaluations, evaluator, record)
        if out is not None:
            info = run_info(evaluator.environment(), started)
            (Path(out) / "run.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    finally:
        evaluator.close()
        if writer:
            writer.close()
    return to_frame(rows)


def _run_parallel(evaluations: list[Evaluation], evaluator: Evaluator,
                  record: Callable[[Result], None]) -> None:
    by_framework: dict[str, list[Evaluation]] = defaultdict(list)
    for evaluation in evaluations:
        by_framework[evaluation.binding.framework].append(evaluation)
    threads = [threading.Thread(target=_run_serial, args=(items, evaluator, record),
                                name=f"worker-{name}", daemon=True)
               for name, items in by_framework.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _run_serial(evaluations: list[Evaluation], evaluator: Evaluator,
                record: Callable[[Result], None]) -> None:
    for evaluation in evaluations:
        for on_device in [evaluation, *evaluator.on_accelerators(evaluation)]:
            try:
                result = evaluator.evaluate(on_device)
            except Exception as exc:  # a bug of ours must not lose this row or the others
                print(f"internal error on {on_device.name}: {exc!r}", file=sys.stderr)
                result = _internal_error(on_device, exc)
            record(result)


def _internal_error(evaluation: Evaluation, exc: Exception) -> Result:
    """An error row built from plain fields only, so that building it cannot fail too."""
    case, binding = evaluation.case, evaluation.binding
    return Result(case_id=case.id, loss=case.loss, binding=binding.id, framework=binding.framework,
                  dtype=evaluation.dtype, mode=case.mode, status="error",
                  explanation=f"internal error in the suite: {exc!r}", file=case.file, line=case.line)
