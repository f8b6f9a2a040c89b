"""Documented deviations a framework plugin ships beside its bindings.

A plugin's bindings are not known to the project's case files (a case may only
name installed bindings in ``expect``), so a plugin documents how its APIs
deviate in a YAML file of its own, declared as ``Framework.expectations``
(``package:file.yaml``)::

    ce-probs-unnormalised:                      # a case id
      tinygrad.sparse_categorical_crossentropy:  # one of the plugin's bindings
        value: 1.2039728
        reason: reads its input as logits
        link: https://github.com/tinygrad/tinygrad/blob/v0.14.0/tinygrad/tensor.py#L...

Each entry is an ``expect`` entry (see docs/case-format.md), validated the same way and
merged into the case when the cases load. The file is untrusted like any case
file: it goes through the same bounded YAML loader, and a problem is a
``file:line`` error that costs only that entry.
"""

from __future__ import annotations

from importlib import resources

from pydantic import TypeAdapter, ValidationError

from conformance.binding import Framework, dead_entry
from conformance.case import Case, Expectation
from conformance.case_error import CaseError
from conformance.case_rules import CaseRuleError, check_expected
from conformance.yaml12 import YamlLimits, YamlSyntaxError, load_yaml

_ENTRIES = TypeAdapter(list[Expectation])


def merge(cases: list[Case], frameworks: list[Framework], limits: YamlLimits,
          ) -> tuple[list[Case], list[CaseError]]:
    """``cases`` with every plugin's entries merged in, and the errors found (``CaseError``)."""
    errors: list[CaseError] = []
    by_id = {case.id: case for case in cases}
    for framework in frameworks:
        if not framework.expectations:
            continue
        name, found = _entries(framework, limits)
        if isinstance(found, CaseError):
            errors.append(found)
            continue
        for item in found:
            if isinstance(item, CaseError):
                errors.append(item)
                continue
            (case_id, binding_id, line, column), entries = item
            case = by_id.get(case_id)
            if case is None:
                continue  # a case this run did not load
            problem = _problem(case, framework, binding_id, entries)
            if problem:
                errors.append(CaseError(name, line, column, f"{case_id}.{binding_id}", problem, case_id))
                continue
            merged = case.model_copy(update={"expect": {**case.expect, binding_id: entries}})
            try:
                check_expected(merged)
            except CaseRuleError as exc:
                errors.append(CaseError(name, line, column, f"{case_id}.{binding_id}", str(exc), case_id))
                continue
            by_id[case_id] = merged
    return [by_id[case.id] for case in cases], errors


def _problem(case: Case, framework: Framework, binding_id: str, entries: list[Expectation]) -> str | None:
    if binding_id not in {b.id for b in framework.bindings}:
        return f"{binding_id!r} is not a binding of {framework.name}"
    if binding_id in case.expect:
        return f"case {case.id} documents {binding_id} itself; document it in one place"
    documented = case.model_copy(update={"expect": {**case.expect, binding_id: entries}})
    return dead_entry(documented, binding_id, {b.id: b for b in framework.bindings})


def _entries(framework: Framework, limits: YamlLimits):
    """``(file name, found)``: ``found`` is a ``CaseError`` for a file that cannot be read at
    all, else a list holding ``((case, binding, line, column), entries)`` for every valid
    entry and a ``CaseError`` for every invalid one (it costs only that entry)."""
    package, _, file = framework.expectations.partition(":")
    name = f"{framework.expectations}"
    try:
        text = resources.files(package).joinpath(file).read_text(encoding="utf-8")
        data, marks = load_yaml(text, limits)
    except YamlSyntaxError as exc:
        return name, CaseError(name, exc.line, exc.column, "", str(exc))
    except (OSError, ModuleNotFoundError, UnicodeDecodeError) as exc:
        return name, CaseError(name, 1, 1, "", f"cannot read {framework.name}'s expectations: {exc}")
    if not isinstance(data, dict):
        return name, CaseError(name, 1, 1, "", "a mapping of case ids to {binding id: expect entry}")
    found: list = []
    for case_id, per_binding in data.items():
        if not isinstance(per_binding, dict):
            line, column = marks.locate((case_id,))
            found.append(CaseError(name, line, column, str(case_id), "a mapping {binding id: expect entry}"))
            continue
        for binding_id, raw in per_binding.items():
            line, column = marks.locate((case_id, binding_id))
            try:
                entries = _ENTRIES.validate_python(raw if isinstance(raw, list) else [raw],
                                                   context={"variants": {b.variant for b in framework.bindings}})
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(map(str, first["loc"][1:]))
                message = first["msg"].removeprefix("Value error, ")
                if first["type"] == "extra_forbidden":
                    message = f"unknown field {first['loc'][-1]!r}"
                found.append(CaseError(name, line, column, f"{case_id}.{binding_id}.{where}", message,
                                       str(case_id)))
                continue
            found.append(((str(case_id), str(binding_id), line, column), entries))
    return name, found
