"""Find and load case files; turn every problem into a ``file:line`` error.

A broken case never stops the suite: each problem becomes a :class:`CaseError`
and every other case still loads.
"""

from __future__ import annotations

import difflib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Collection, Iterable

from pydantic import ValidationError

from conformance.binding import dead_entry
from conformance.case import Case
from conformance.case_error import CaseError
from conformance.case_rules import CaseRuleError
from conformance.yaml12 import SourceMap, YamlLimits, YamlSyntaxError, load_yaml

TOP_LEVEL_KEYS = {"cases", "defaults"}
DEFAULT_MAX_ELEMENTS = 10_000_000
# More cases than this in one file is a generator gone wrong, not a suite: split it.
MAX_CASES_PER_FILE = 10_000


@dataclass
class ElementBudget:
    """Values every case loaded so far may still hold (literal and drawn), for one load:
    each case is bounded by ``max_elements``, and all of them together by this."""

    left: int

    def spend(self, count: int) -> bool:
        """Take ``count`` values from the budget; False (taking nothing) if it has not got them."""
        if count > self.left:
            return False
        self.left -= count
        return True


@dataclass(frozen=True)
class LoadLimits:
    """How much one case may hold, checked before anything is allocated for it.

    ``max_elements`` bounds the values of one case (arrays written out, aliases
    expanded, and ``random`` shapes); a whole file may hold that many values plus
    100000 more, so its memory is bounded before any case is looked at.
    """

    max_elements: int = DEFAULT_MAX_ELEMENTS
    max_depth: int = 64

    @property
    def max_total(self) -> int:
        """Values all the cases of one load may hold together (drawn arrays included)."""
        return 4 * self.max_elements

    @property
    def yaml(self) -> YamlLimits:
        return YamlLimits(max_values=self.max_elements + 100_000, max_depth=self.max_depth)

    @property
    def max_file_bytes(self) -> int:
        # About 32 characters per number, with room for the text around them.
        return 32 * self.yaml.max_values


@dataclass
class LoadResult:
    cases: list[Case] = field(default_factory=list)
    errors: list[CaseError] = field(default_factory=list)
    # The errors of the plugins' expectations files (also in ``errors``): they belong to
    # no case file, so pytest reports them on their own.
    plugin_errors: list[CaseError] = field(default_factory=list)

    def by_file(self, file: str) -> tuple[list[Case], list[CaseError]]:
        return ([c for c in self.cases if c.file == file],
                [e for e in self.errors if e.file == file])


def case_files(paths: Iterable[str | Path]) -> list[Path]:
    """Every ``*.yaml``/``*.yml`` file under ``paths``, sorted, without repeats.

    A path given by name is kept even if it cannot be read (it becomes that
    file's error); directories are walked without following links to other
    directories, so a link loop cannot trap the walk.
    """
    found: set[Path] = set()
    for path in map(Path, paths):
        if _is_real_dir(path):
            found.update(_walk(path))
        else:
            found.add(path)
    return sorted(found)


def _is_real_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _walk(root: Path) -> Iterable[Path]:
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            path = Path(entry.path)
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(path)
                elif path.suffix in (".yaml", ".yml"):
                    yield path
            except OSError:
                continue


def known_variants() -> frozenset[str]:
    """The variants an ``expect`` entry's ``backends`` may name (``Binding.variant``)."""
    from conformance import frameworks as registry

    return frozenset(b.variant for b in registry.all_bindings().values() if b.variant)


def load_cases(paths: Iterable[str | Path], limits: LoadLimits = LoadLimits(),
               bindings: Collection[str] | None = None) -> LoadResult:
    """Load every case under ``paths``; ids must be unique across all of them.

    ``bindings``: the ids ``expect`` may name (default: every adapter's bindings).
    """
    budget = ElementBudget(limits.max_total)
    result = LoadResult()
    first_seen: dict[str, Case] = {}
    for path in case_files(paths):
        cases, errors = load_file(path, limits, bindings, budget)
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
    return _with_plugin_expectations(result, limits)


def _with_plugin_expectations(result: LoadResult, limits: LoadLimits) -> LoadResult:
    from conformance import frameworks as registry
    from conformance.plugin_expectations import merge

    cases, errors = merge(result.cases, registry.frameworks(), limits.yaml)
    return LoadResult(cases, result.errors + errors, errors)


def load_file(path: str | Path, limits: LoadLimits = LoadLimits(),
              bindings: Collection[str] | None = None, budget: ElementBudget | None = None,
              ) -> tuple[list[Case], list[CaseError]]:
    """Load one file; returns the valid cases and one error per broken case.

    ``budget``: the values still allowed in this load (shared by the files of one
    :func:`load_cases`); a file loaded alone gets ``limits.max_total``.
    """
    name = display_path(Path(path))
    try:
        data, marks = load_yaml(_read(Path(path), limits), limits.yaml)
    except YamlSyntaxError as exc:
        return [], [CaseError(name, exc.line, exc.column, "", str(exc))]
    except (OSError, UnicodeDecodeError, _TooLarge) as exc:
        return [], [CaseError(name, 1, 1, "", f"cannot read file: {exc}")]
    # With the adapters' own bindings (not a caller's list of ids), an entry is also checked
    # against what its binding can express.
    runnable = _binding_objects() if bindings is None else {}
    bindings = frozenset(runnable) if bindings is None else bindings
    budget = ElementBudget(limits.max_total) if budget is None else budget
    context = {"max_elements": limits.max_elements, "bindings": bindings, "budget": budget,
               "variants": known_variants(), "runnable": runnable}
    problem = _check_top_level(data)
    if problem:
        key, message = problem
        line, col = marks.locate((key,) if key else ())
        return [], [CaseError(name, line, col, key, message)]
    defaults = data.get("defaults") or {}
    cases, errors = [], []
    for index, raw in enumerate(data["cases"]):
        case, error = _build_case(name, index, raw, defaults, marks, context)
        if case is not None:
            cases.append(case)
        else:
            errors.append(error)
    return cases, errors


class _TooLarge(Exception):
    pass


def _read(path: Path, limits: LoadLimits) -> str:
    """The file's text, refused before reading when it is larger than any allowed case file."""
    info = os.stat(path)  # before opening: opening a named pipe would wait for a writer
    if not stat.S_ISREG(info.st_mode):
        raise _TooLarge("not a regular file")
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limits.max_file_bytes:
            raise _TooLarge(f"{size} bytes is more than a case file may hold ({limits.max_file_bytes} "
                            "bytes at this --max-elements)")
        return handle.read(limits.max_file_bytes + 1).decode("utf-8")


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
    if len(data["cases"]) > MAX_CASES_PER_FILE:
        return "cases", (f"the file holds {len(data['cases'])} cases, more than {MAX_CASES_PER_FILE}: "
                         "split it into several files")
    return None


def _build_case(file: str, index: int, raw: Any, defaults: dict, marks: SourceMap, context: dict,
                ) -> tuple[Case | None, CaseError | None]:
    line, col = marks.locate(("cases", index))
    if not isinstance(raw, dict):
        return None, CaseError(file, line, col, "", "each case must be a mapping of fields")
    merged = {**defaults, **raw}
    case_id = raw.get("id") if isinstance(raw.get("id"), str) and len(raw["id"]) < 200 else None
    count = value_count(merged)
    if count > context["max_elements"]:
        return None, CaseError(file, line, col, "", f"the case holds {count} values, more than the "
                               f"limit of {context['max_elements']} (raise it with --max-elements)",
                               case_id)
    if not context["budget"].spend(count):
        return None, CaseError(file, line, col, "", _over_budget(count, context["budget"]), case_id)
    try:
        fields = {key: marks.locate((*(("defaults",) if key not in raw else ("cases", index)), key))
                  for key in merged if isinstance(key, str)}
        case = Case.model_validate(merged, context=context).located(file, line, fields)
    except ValidationError as exc:
        return None, _first_error(file, index, raw, defaults, exc, marks, case_id)
    except Exception as exc:  # noqa: BLE001 - a bug of ours must cost this case, not the file
        return None, CaseError(file, line, col, "", f"could not be read ({type(exc).__name__}: "
                               f"{str(exc)[:200]}); please report this case", case_id)
    dead = _dead_entry(case, context["runnable"])
    if dead is not None:
        key_line, key_col = marks.locate_key((*(("defaults",) if "expect" not in raw else ("cases", index)),
                                              "expect", dead[0]))
        return None, CaseError(file, key_line, key_col, "expect", dead[1], case_id)
    return case, None


def _binding_objects() -> dict:
    from conformance import frameworks as registry

    return registry.all_bindings()


def _dead_entry(case: Case, runnable: dict) -> tuple[str, str] | None:
    """The first ``expect`` key whose entries document nothing on ``case``, and why. A key
    this install does not have (a plugin's) cannot be told apart: it passes."""
    for binding_id in case.expect:
        why = dead_entry(case, binding_id, runnable)
        if why is not None:
            return binding_id, why
    return None


def _over_budget(count: int, budget: ElementBudget) -> str:
    return (f"the case holds {count} values, more than the {budget.left} left to all the cases "
            "loaded together (4 x --max-elements)")


def value_count(data: Any) -> int:
    """How many scalar values ``data`` holds, every shared (aliased) part counted each
    time it appears but measured once - so an alias bomb is cheap to measure."""
    sizes: dict[int, int] = {}
    pending: list[tuple[Any, bool]] = [(data, False)]
    while pending:
        item, children_done = pending.pop()
        if not isinstance(item, (list, dict)) or id(item) in sizes:
            continue
        children = list(item.values()) if isinstance(item, dict) else item
        if children_done:
            sizes[id(item)] = sum(sizes.get(id(c), 1) for c in children)
            continue
        pending.append((item, True))
        pending.extend((c, False) for c in children if isinstance(c, (list, dict)) and id(c) not in sizes)
    return sizes.get(id(data), 1) if isinstance(data, (list, dict)) else 1


def _first_error(file: str, index: int, raw: dict, defaults: dict, exc: ValidationError,
                 marks: SourceMap, case_id: str | None) -> CaseError:
    error = exc.errors()[0]
    loc = _written_path({**defaults, **raw}, tuple(error["loc"]))
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, CaseRuleError):
        loc = tuple(int(step) if step.isdigit() else step for step in cause.field.split("."))
    message = str(cause) if cause is not None else error["msg"]
    message = message.removeprefix("Value error, ")
    if error["type"] == "missing":
        message = "required field is missing"
    elif error["type"] == "extra_forbidden":
        message = f"unknown field {loc[-1]!r}{_closest_field(loc[-1], raw.get('loss', defaults.get('loss')))}"
    from_defaults = bool(loc) and loc[0] in defaults and loc[0] not in raw
    root = ("defaults",) if from_defaults else ("cases", index)
    line, col = (marks.locate_key if error["type"] == "extra_forbidden" else marks.locate)(root + loc)
    # Field names as written may hold anything (a lone surrogate): printable, and short.
    others = [".".join(map(str, _written_path({**defaults, **raw}, tuple(e["loc"]))))[:60]
              .encode("utf-8", "backslashreplace").decode("utf-8") or "the case" for e in exc.errors()[1:]]
    if others:
        message += (f" (and {len(others)} more problem{'s' if len(others) > 1 else ''} in this case: "
                    f"{', '.join(dict.fromkeys(others[:5]))}{', ...' if len(others) > 5 else ''})")
    return CaseError(file, line, col, ".".join(map(str, loc)), message, case_id)


def _closest_field(name: object, loss: object) -> str:
    """`` (did you mean 'beta'?)`` for a misspelt case field or option of the case's loss
    (every family's, where the loss is not known), else nothing."""
    from conformance import families

    named = [f for f in families.families() if f.name == loss] or families.families()
    known = {*Case.model_fields, *(o for f in named for o in f.options.model_fields)} - {"options"}
    close = difflib.get_close_matches(str(name)[:100], sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


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
    """``path`` relative to the working directory where it lies under it; always printable
    (an undecodable file name shows its bytes escaped)."""
    try:
        shown = str(path.resolve().relative_to(Path.cwd()))
    except (ValueError, OSError, RuntimeError):  # outside the cwd, or a link loop
        shown = str(path)
    return os.fsencode(shown).decode("utf-8", "backslashreplace")
