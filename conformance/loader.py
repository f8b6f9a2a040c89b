"""Find and load case files; turn every problem into a ``file:line`` error.

A broken case never stops the suite: each problem becomes a :class:`CaseError`
and every other case still loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Iterable

from pydantic import ValidationError

from conformance.case import Case
from conformance.case_rules import CaseRuleError
from conformance.yaml12 import SourceMap, YamlSyntaxError, load_yaml

TOP_LEVEL_KEYS = {"cases", "defaults"}


@dataclass(frozen=True)
class CaseError:
    """One problem in a case file, located as precisely as we can."""

    file: str
    line: int
    column: int
    field: str
    message: str
    case_id: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        what = f"{self.field}: " if self.field else ""
        case = f" (case {self.case_id})" if self.case_id else ""
        return f"{where}: {what}{self.message}{case}"


@dataclass
class LoadResult:
    cases: list[Case] = field(default_factory=list)
    errors: list[CaseError] = field(default_factory=list)

    def by_file(self, file: str) -> tuple[list[Case], list[CaseError]]:
        return ([c for c in self.cases if c.file == file],
                [e for e in self.errors if e.file == file])


def case_files(paths: Iterable[str | Path]) -> list[Path]:
    """Every ``*.yaml``/``*.yml`` file under ``paths``, sorted, without repeats."""
    found: set[Path] = set()
    for path in map(Path, paths):
        if path.is_dir():
            found.update(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
        else:
            found.add(path)
    return sorted(found)


def load_cases(paths: Iterable[str | Path]) -> LoadResult:
    """Load every case under ``paths``; ids must be unique across all of them."""
    result = LoadResult()
    first_seen: dict[str, Case] = {}
    for path in case_files(paths):
        cases, errors = load_file(path)
        result.errors.extend(errors)
        for case in cases:
            if case.id in first_seen:
                other = first_seen[case.id]
                result.errors.append(CaseError(case.file, case.line, 1, "id", f"duplicate id "
                                     f"{case.id!r}, first defined at {other.file}:{other.line}",
                                     case.id))
                continue
            first_seen[case.id] = case
            result.cases.append(case)
    return result


def load_file(path: str | Path) -> tuple[list[Case], list[CaseError]]:
    """Load one file; returns the valid cases and one error per broken case."""
    name = display_path(Path(path))
    try:
        data, marks = load_yaml(Path(path).read_text(encoding="utf-8"))
    except YamlSyntaxError as exc:
        return [], [CaseError(name, exc.line, exc.column, "", str(exc))]
    except (OSError, UnicodeDecodeError) as exc:
        return [], [CaseError(name, 1, 1, "", f"cannot read file: {exc}")]
    problem = _check_top_level(data)
    if problem:
        key, message = problem
        line, col = marks.locate((key,) if key else ())
        return [], [CaseError(name, line, col, key, message)]
    defaults = data.get("defaults") or {}
    cases, errors = [], []
    for index, raw in enumerate(data["cases"]):
        case, error = _build_case(name, index, raw, defaults, marks)
        if case is not None:
            cases.append(case)
        else:
            errors.append(error)
    return cases, errors


def _check_top_level(data: Any) -> tuple[str, str] | None:
    if not isinstance(data, dict):
        return "", "a case file must be a mapping with a `cases:` list"
    unknown = sorted(set(map(str, data)) - TOP_LEVEL_KEYS)
    if unknown:
        return unknown[0], f"unknown top-level key {unknown[0]!r}; allowed: cases, defaults"
    if not isinstance(data.get("cases"), list):
        return ("cases" if "cases" in data else ""), "`cases:` must be a list of cases"
    if not isinstance(data.get("defaults") or {}, dict):
        return "defaults", "`defaults:` must be a mapping of case fields"
    return None


def _build_case(file: str, index: int, raw: Any, defaults: dict, marks: SourceMap,
                ) -> tuple[Case | None, CaseError | None]:
    line, col = marks.locate(("cases", index))
    if not isinstance(raw, dict):
        return None, CaseError(file, line, col, "", "each case must be a mapping of fields")
    merged = {**defaults, **raw, "file": file, "line": line}
    case_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    try:
        return Case.model_validate(merged), None
    except ValidationError as exc:
        return None, _first_error(file, index, raw, defaults, exc, marks, case_id)


def _first_error(file: str, index: int, raw: dict, defaults: dict, exc: ValidationError,
                 marks: SourceMap, case_id: str | None) -> CaseError:
    error = exc.errors()[0]
    loc = _written_path({**defaults, **raw}, tuple(error["loc"]))
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, CaseRuleError):
        loc = (cause.field,)
    message = str(cause) if cause is not None else error["msg"]
    message = message.removeprefix("Value error, ")
    if error["type"] == "missing":
        message = "required field is missing"
    elif error["type"] == "extra_forbidden":
        message = f"unknown field {loc[-1]!r}"
    from_defaults = bool(loc) and loc[0] in defaults and loc[0] not in raw
    root = ("defaults",) if from_defaults else ("cases", index)
    line, col = marks.locate(root + loc)
    more = len(exc.errors()) - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''} in this case)"
    return CaseError(file, line, col, ".".join(map(str, loc)), message, case_id)


def _written_path(data: Any, loc: tuple) -> tuple:
    """``loc`` without the steps that do not exist in the file as written
    (a single ``expect`` entry is validated as a one-item list)."""
    path = []
    for step in loc:
        if isinstance(data, dict) and isinstance(step, int) and step not in data:
            continue
        path.append(step)
        if isinstance(data, dict):
            data = data.get(step)
        elif isinstance(data, list) and isinstance(step, int) and step < len(data):
            data = data[step]
        else:
            data = None
    return tuple(path)


def display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
