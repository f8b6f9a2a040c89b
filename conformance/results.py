"""Result records: one per evaluation, written as JSON lines as they finish."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

Status = Literal["pass", "fail", "known", "difference", "error", "skipped"]
STATUSES: tuple[Status, ...] = ("pass", "known", "difference", "fail", "error", "skipped")
FAILING: frozenset[str] = frozenset({"fail", "error"})
# Gradients larger than this are judged in full but not stored in the row.
GRAD_KEPT = 4096


def failing(frame: pd.DataFrame) -> pd.Series:
    """Rows whose value or gradient is ``fail`` or ``error``."""
    grad = frame["grad_status"] if "grad_status" in frame else pd.Series(None, index=frame.index)
    return frame["status"].isin(FAILING) | grad.isin(FAILING)


@dataclass
class Result:
    """One evaluation of one case by one binding in one dtype.

    Numbers are JSON-ready: non-finite values are the strings ``"inf"``,
    ``"-inf"``, ``"nan"``; ``value``/``oracle`` are lists for
    ``reduction: none``.
    """

    case_id: str
    loss: str
    binding: str
    framework: str
    dtype: str
    mode: str
    status: Status
    framework_version: str | None = None
    device: str = "cpu"
    value: Any = None
    oracle: Any = None
    expected: Any = None
    abs_err: Any = None
    rel_err: Any = None
    ulp_err: Any = None
    recipe: str = ""
    call: str = ""
    explanation: str = ""
    interpretation: str = ""
    message: str = ""
    category: str | None = None
    link: str | None = None
    value_dtype: str | None = None
    grad_status: str | None = None  # None: no gradient was taken (as_is, gradient: false, no autodiff)
    grad_explanation: str = ""
    grad_interpretation: str = ""
    grad_max_abs_err: Any = None
    grad_ulp_err: Any = None
    grad: Any = None                # d(sum of loss)/d(input); kept up to GRAD_KEPT elements
    grad_oracle: Any = None
    grad_dtype: str | None = None
    warnings: list[str] = field(default_factory=list)
    input_kind: str = ""
    target_kind: str = ""
    reduction: str = ""
    configuration: str = ""
    title: str = ""
    source: str = ""
    tags: list[str] = field(default_factory=list)
    case_data: dict = field(default_factory=dict)
    file: str = ""
    line: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), allow_nan=False)


class ResultsWriter:
    """Appends results to ``results.jsonl`` as they arrive, from any thread."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = path.open("w", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, result: Result) -> None:
        with self._lock:
            self._file.write(result.to_json() + "\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()


def to_frame(results: list[Result]) -> pd.DataFrame:
    """Results as a DataFrame, sorted by case, binding and dtype."""
    columns = list(Result.__dataclass_fields__)
    frame = pd.DataFrame([asdict(r) for r in results], columns=columns)
    return frame.sort_values(["file", "line", "case_id", "binding", "dtype"], kind="stable",
                             ignore_index=True)


def read_results(path: str | Path) -> pd.DataFrame:
    """Load a ``results.jsonl`` file written by a run."""
    with Path(path).open(encoding="utf-8") as handle:
        return to_frame([Result(**json.loads(line)) for line in handle if line.strip()])


def run_info(environment: dict[str, dict], started: str) -> dict:
    """The environment of a run, stored beside its results as ``run.json``."""
    import datetime
    import platform
    import sys

    program = "python -m conformance" if sys.argv[0].endswith("__main__.py") else Path(sys.argv[0]).name
    return {"started": started, "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"), "command": " ".join([program, *sys.argv[1:]]),
            "python": platform.python_version(),
            "platform": platform.platform(), "frameworks": environment}


def read_run_info(results_path: str | Path) -> dict:
    """``run.json`` beside a results file, or {} when there is none."""
    path = Path(results_path).with_name("run.json")
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
