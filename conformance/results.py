"""Result records: one per evaluation, written as JSON lines as they finish."""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import MISSING, dataclass, field
from pathlib import Path
from collections.abc import Iterable
from typing import Any, Literal

import pandas as pd

Status = Literal["pass", "fail", "known", "difference", "error", "skipped"]
STATUSES: tuple[Status, ...] = ("pass", "known", "difference", "fail", "error", "skipped")
FAILING: frozenset[str] = frozenset({"fail", "error"})
# Away from the mathematics, documented or not.
DEVIATING: frozenset[str] = FAILING | {"known"}
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
    # The error in machine epsilons of the dtype at max(1, |oracle|): the tolerance policy's unit.
    scaled_err: Any = None
    recipe: str = ""
    call: str = ""
    explanation: str = ""
    interpretation: str = ""
    # The interpretation, structured: the knob settings of each reading that reproduces the value.
    readings: list[dict] = field(default_factory=list)
    raised: str | None = None        # the exception the API raised for its value, by name
    message: str = ""
    category: str | None = None
    link: str | None = None
    value_dtype: str | None = None
    grad_status: str | None = None  # None: no gradient was taken (as_is, gradient: false, no autodiff)
    grad_explanation: str = ""
    grad_interpretation: str = ""
    grad_raised: str | None = None  # the exception the gradient raised, by name
    grad_max_abs_err: Any = None
    grad_ulp_err: Any = None
    grad_scaled_err: Any = None     # in machine epsilons at the gradient's size
    grad: Any = None                # d(sum of loss)/d(input); kept up to GRAD_KEPT elements
    grad_oracle: Any = None
    grad_dtype: str | None = None
    # The input the gradient is with respect to: the case's, or the kind the glue converted it
    # to for the API (log-probabilities for an API fed log p); the oracle's is for the same.
    grad_input_kind: str | None = None
    warnings: list[str] = field(default_factory=list)
    input_kind: str = ""
    target_kind: str = ""
    reduction: str = ""
    configuration: str = ""
    title: str = ""
    source: str = ""
    tags: list[str] = field(default_factory=list)
    case_data: dict = field(default_factory=dict)
    # A digest of the case's `expect` entries that can apply to this row (its binding's and
    # those it inherits): `conformance diff` tells an edited documentation from a framework's change.
    expect_digest: str | None = None
    file: str = ""
    line: int = 0

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), allow_nan=False)

    def as_dict(self) -> dict[str, Any]:
        """The fields by name. Shallow: ``dataclasses.asdict`` deep-copies every list of numbers
        and the case's arrays (measured: 3.2 s of CPU in ``to_frame`` alone for 5,960 rows)."""
        return {name: getattr(self, name) for name in _FIELDS}


_FIELDS = tuple(Result.__dataclass_fields__)


class ResultsWriter:
    """Appends results to ``results.jsonl`` as they arrive, from any thread.

    Each row is one write and one flush, so an interrupted run leaves complete
    lines (and at worst a half-written last one, which ``--resume`` drops).
    """

    def __init__(self, path: Path, append: bool = False):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = path.open("a" if append else "w", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, result: Result) -> None:
        with self._lock:
            self._file.write(result.to_json() + "\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()


class ResultsTail:
    """Reads the rows another process is appending to a ``results.jsonl``: each call to
    :meth:`read` returns the complete rows written since the last one."""

    def __init__(self, path: Path):
        self.path = path
        self._offset = 0
        self._line = 0

    def read(self) -> list[Result]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as stream:
            stream.seek(self._offset)
            chunk = stream.read()
        complete = chunk[:chunk.rfind(b"\n") + 1]  # a row still being written waits for the next call
        rows = []
        for raw in complete.splitlines():
            self._line += 1
            if raw.strip():
                rows.append(_result(json.loads(raw), f"{self.path}:{self._line}"))
        self._offset += len(complete)
        return rows


def to_frame(results: list[Result]) -> pd.DataFrame:
    """Results as a DataFrame, sorted by case, binding and dtype."""
    columns = list(Result.__dataclass_fields__)
    frame = pd.DataFrame([r.as_dict() for r in results], columns=columns)
    return frame.sort_values(["file", "line", "case_id", "binding", "dtype"], kind="stable",
                             ignore_index=True)


class ResultsFileError(ValueError):
    """A results file that is not what a run writes; the message names the file and line."""


# The fields a row cannot do without; the others have defaults, so rows written
# before a field existed (no ``device``, no ``grad_status``) still load.
REQUIRED: tuple[str, ...] = tuple(name for name, f in Result.__dataclass_fields__.items()
                                  if f.default is MISSING and f.default_factory is MISSING)


def row_key(result: Result) -> tuple[str, str, str, str]:
    """What makes a row one evaluation: (case_id, binding, dtype, device)."""
    return (result.case_id, result.binding, result.dtype, result.device)


def read_results(path: str | Path) -> pd.DataFrame:
    """Load a ``results.jsonl`` file written by a run.

    Raises :class:`ResultsFileError` (``file:line: what is wrong``) on an empty
    file, a half-written or non-JSON line, missing or unknown keys, or a status
    that is not one of :data:`STATUSES`.
    """
    return to_frame(read_result_rows(path))


def read_result_rows(path: str | Path) -> list[Result]:
    """The rows of a ``results.jsonl`` file as :class:`Result` objects; the errors of
    :func:`read_results`."""
    parsed = _parse(Path(path))
    if parsed.torn_line is not None:
        raise ResultsFileError(f"{path}:{parsed.torn_line}: half-written last line (an interrupted "
                               "run; `conformance run --resume` drops it and goes on)")
    if not parsed.results:
        raise ResultsFileError(f"{path}:1: empty file, no result rows")
    return parsed.results


# What must agree for two rows with one key to be one evaluation (a shard read twice, a
# row in two runs): the framework's version, the recipe run, the oracle, and the outcome.
_SAME_EVALUATION = ("framework_version", "recipe", "oracle", "value", "status", "grad", "grad_status")


class MergeConflict(ResultsFileError):
    """Two results files hold different evaluations under one (case, binding, dtype, device)."""


def results_files(paths: Iterable[str | Path]) -> list[Path]:
    """The results files named, a directory standing for every ``results*.jsonl`` under it
    (the shards of a run, as CI artifacts are downloaded)."""
    files: list[Path] = []
    for given in map(Path, paths):
        if given.is_dir():
            found = sorted(given.rglob("results*.jsonl"))
            if not found:
                raise ResultsFileError(f"{given}: no results*.jsonl under this directory")
            files += found
        else:
            files.append(given)
    return files


def merge_results(paths: Iterable[str | Path]) -> pd.DataFrame:
    """The rows of several results files (shards, or runs on other machines) as one run.

    A row present in two files must be the same evaluation (the same framework version,
    recipe, oracle and outcome): it is kept once. Two different evaluations under one key -
    two framework versions, an edited case - raise :class:`MergeConflict`, since one report
    cannot show both; merge runs of one configuration and compare others with ``diff``.
    """
    kept: dict[tuple[str, str, str, str], tuple[Result, Path]] = {}
    for path in results_files(paths):
        parsed = _parse(path)
        if parsed.torn_line is not None:
            raise ResultsFileError(f"{path}:{parsed.torn_line}: half-written last line (an interrupted "
                                   "run; `conformance run --resume` completes it)")
        if not parsed.results:
            raise ResultsFileError(f"{path}:1: empty file, no result rows")
        for result in parsed.results:
            key = row_key(result)
            if key in kept:
                other, where = kept[key]
                differs = [f for f in _SAME_EVALUATION if getattr(other, f) != getattr(result, f)]
                if differs:
                    field = differs[0]
                    raise MergeConflict(
                        f"{path}: {result.case_id}[{result.binding}-{result.dtype}] on {result.device} is "
                        f"also in {where}, as a different evaluation ({field}: "
                        f"{str(getattr(other, field))[:60]!r} there, {str(getattr(result, field))[:60]!r} "
                        "here); merge the shards of one run, and compare different runs with "
                        "`conformance diff`")
                continue
            kept[key] = (result, path)
    return to_frame([result for result, _ in kept.values()])


def resume_results(path: Path) -> list[Result]:
    """The rows an interrupted run completed, for ``conformance run --resume``.

    A half-written last line is dropped (with a notice on stderr) and the file
    is cut back to its complete lines, so that new rows can be appended to it.
    Any other damage raises :class:`ResultsFileError`: resuming must not
    overwrite rows it cannot read.
    """
    parsed = _parse(path)
    if parsed.torn_line is not None:
        print(f"{path}:{parsed.torn_line}: dropped a half-written last line (the run was "
              "interrupted while writing it); that row runs again", file=sys.stderr)
    with path.open("r+b") as handle:
        handle.truncate(parsed.end)
        if parsed.end:
            handle.seek(parsed.end - 1)
            if handle.read(1) != b"\n":  # a last row complete but for its newline
                handle.write(b"\n")
    return parsed.results


@dataclass
class _Parsed:
    results: list[Result]
    end: int                      # bytes up to the end of the last complete row
    torn_line: int | None = None  # the number of a half-written last line


def _parse(path: Path) -> _Parsed:
    lines = path.read_bytes().splitlines(keepends=True)
    results: list[Result] = []
    end = 0
    for number, raw in enumerate(lines, 1):
        try:
            text = raw.decode("utf-8")
            row = json.loads(text) if text.strip() else None
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError alike
            # A run writes each row with its newline in one write: a last line
            # without one that does not parse is a row cut off by an interruption.
            if number == len(lines) and not raw.endswith(b"\n"):
                return _Parsed(results, end, torn_line=number)
            raise ResultsFileError(f"{path}:{number}: not JSON ({exc})") from None
        if row is not None:
            results.append(_result(row, f"{path}:{number}"))
        end += len(raw)
    return _Parsed(results, end)


def _result(row: object, where: str) -> Result:
    """One parsed line as a Result, or a ResultsFileError saying what is wrong with it."""
    if not isinstance(row, dict):
        raise ResultsFileError(f"{where}: not a JSON object but {json.dumps(row)[:80]}")
    missing = [name for name in REQUIRED if name not in row]
    if missing:
        raise ResultsFileError(f"{where}: missing keys: {', '.join(missing)}")
    unknown = sorted(set(row) - set(Result.__dataclass_fields__))
    if unknown:
        raise ResultsFileError(f"{where}: unknown keys: {', '.join(unknown)}")
    for name, allowed in (("status", STATUSES), ("grad_status", (*STATUSES, None))):
        if row.get(name) not in allowed:
            raise ResultsFileError(f"{where}: {name} {json.dumps(row[name])[:80]} is not one of "
                                   f"{', '.join(json.dumps(s) for s in allowed)}")
    for name in (*REQUIRED, "device"):
        if not isinstance(row.get(name, ""), str):
            raise ResultsFileError(f"{where}: {name} must be a string, not {json.dumps(row[name])[:80]}")
    return Result(**row)


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
