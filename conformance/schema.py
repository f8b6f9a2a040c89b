"""``conformance schema``: a JSON Schema of the case-file format, generated from the case model.

Editors use it to complete and check case files as they are typed (VS Code's
YAML extension: ``docs/case-format.md``). It is generated, not written: the
fields, their types and enums come from :class:`~conformance.case.Case` and
:class:`~conformance.case.Expectation`, and what each loss takes (its kinds of
input and target, its options) from the loss families, so a new family or
option appears in it without an edit here.

The schema checks the shape of a file; the loader still checks what a schema
cannot say (array shapes that agree, a label inside the class count, a
tolerance that is not loose) and is the one that decides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic.json_schema import GenerateJsonSchema

from conformance import families
from conformance.case import Case
from conformance.number_text import NONFINITE_NAMES
from conformance.vocabulary import Elements

if TYPE_CHECKING:
    from conformance.families import Family

DIALECT = "https://json-schema.org/draft/2020-12/schema"
NUMBERS = {"$ref": "#/$defs/Numbers"}


class _CaseSchema(GenerateJsonSchema):
    """Pydantic's generator, with the arrays (numpy under the hood) as nested lists of numbers."""

    def handle_invalid_for_json_schema(self, schema: Any, error_info: str) -> dict:
        # A marker, made a $ref to Numbers afterwards: pydantic resolves refs it made itself only.
        return dict(_MARK)


_MARK = {"x-conformance-numbers": True}


def _marks_to_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return dict(NUMBERS) if node == _MARK else {k: _marks_to_refs(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_marks_to_refs(v) for v in node]
    return node


def _numbers_def() -> dict:
    return {"description": "a number, inf/-inf/nan, a nested list of them, or a `random` spec",
            "anyOf": [{"type": "number"}, {"enum": sorted(NONFINITE_NAMES)},
                      {"type": "array", "items": NUMBERS},
                      {"type": "object", "required": ["random"], "properties": {"random": {"type": "object"}}}]}


def _kind_schema(elements: Elements) -> dict:
    if elements == Elements.SEQUENCES:
        return {"description": "label sequences: a list of lists of class indices",
                "type": "array", "items": {"type": "array", "items": {"type": "integer"}}}
    return dict(NUMBERS)


def _values(kinds: dict[str, Elements], role: str) -> dict:
    return {"description": f"the {role}: exactly one of its kinds, e.g. {{{next(iter(kinds))}: [...]}}",
            "type": "object", "minProperties": 1, "maxProperties": 1,
            "properties": {kind: _kind_schema(elements) for kind, elements in kinds.items()},
            "additionalProperties": False}


def _family_rule(family: Family, every_option: set[str]) -> dict:
    """What a case of this loss may say: its kinds of input and target, and its options at the top
    level (another family's option is refused)."""
    options = _marks_to_refs(family.options.model_json_schema(schema_generator=_CaseSchema))
    own = options.get("properties", {})
    then = {"properties": {
        "input": _values({k: Elements.FLOAT for k in family.inputs}, "input"),
        "target": _values(dict(family.targets), "target"),
        **{name: False for name in sorted(every_option - set(own))},
        **{name: _without_defs(spec) for name, spec in own.items()}}}
    return {"if": {"properties": {"loss": {"const": family.name}}, "required": ["loss"]}, "then": then}


def _without_defs(spec: dict) -> dict:
    # An option that refers to a model of its family's own $defs would not resolve at the case
    # level: its shape is left open (the loader checks it).
    refs = [r for r in _refs(spec) if r != NUMBERS["$ref"]]
    return {} if refs else spec


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [node["$ref"]] if "$ref" in node else [r for v in node.values() for r in _refs(v)]
    return [r for v in node for r in _refs(v)] if isinstance(node, list) else []


def case_file_schema() -> dict:
    """The JSON Schema (2020-12) of a case file: ``cases:`` (a list of cases) and ``defaults:``."""
    case = _marks_to_refs(Case.model_json_schema(schema_generator=_CaseSchema))
    defs = case.pop("$defs", {})
    properties = case["properties"]
    properties.pop("options", None)  # a family's options are written at the top level of the case
    every_kind = {kind: elements for family in families.families()
                  for kind, elements in (*((k, Elements.FLOAT) for k in family.inputs), *family.targets.items())}
    properties["input"] = _values({k: Elements.FLOAT for f in families.families() for k in f.inputs}, "input")
    properties["target"] = _values({k: every_kind[k] for f in families.families() for k in f.targets}, "target")
    properties["loss"] = {"description": "the loss family", "enum": families.names()}
    # One entry, or a list of them split by dtype or version.
    entry = properties["expect"]["additionalProperties"]["items"]
    properties["expect"]["additionalProperties"] = {"anyOf": [entry, {"type": "array", "items": entry}]}
    # Any family's option may stand at the top level (the loss may come from `defaults:`); its
    # type is checked by the family's own rule where the case names its loss.
    for family in families.families():
        for name in family.options.model_fields:
            properties.setdefault(name, {"description": f"an option (of {family.name}, among others)"})
    # A file's `defaults:` may give any field but the id.
    case["required"] = ["id"]
    case.pop("additionalProperties", None)
    case["unevaluatedProperties"] = False
    every_option = {name for family in families.families() for name in family.options.model_fields}
    case["allOf"] = [_family_rule(family, every_option) for family in families.families()]
    defs["Case"] = case
    # `defaults:` holds the same fields, none required, merged under each case.
    defs["Defaults"] = {**{k: v for k, v in case.items() if k != "required"},
                        "description": "fields every case of the file starts from (a case's own win)"}
    defs["Numbers"] = _numbers_def()
    return {
        "$schema": DIALECT, "$id": "https://loss-conformance.invalid/case-file.schema.json",
        "title": "loss-conformance case file",
        "description": "A list of cases: inputs, targets, options and the expected (canonical) loss. "
                       "Generated by `conformance schema`.",
        "type": "object", "required": ["cases"], "additionalProperties": False,
        "properties": {"cases": {"type": "array", "items": {"$ref": "#/$defs/Case"}},
                       "defaults": {"$ref": "#/$defs/Defaults"}},
        "$defs": defs,
    }
