"""The case model: what one YAML case means, validated.

A case says which loss to compute, on what input and target, with which
options, and what the answer is. The field names and meanings are a contract
documented in docs/case-format.md; extend them, don't change them.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError,
                      ValidationInfo, field_validator, model_validator)

from conformance import families
from conformance.arrays import FloatArray, Integer, float_array, index_array, short as _short
from conformance.case_rules import CaseRuleError, check_case
from conformance.dtypes import DTYPES, DType
from conformance.sequences import label_sequences
from conformance.tolerance import MAX_TOLERANCE, Bound, Tolerance, default_tolerance
from conformance.families.base import Options
from conformance.generate import RandomDraw, RandomSpec
from conformance.vocabulary import Category, Elements, Mode, Reduction

if TYPE_CHECKING:
    from conformance.binding import Inherits
    from conformance.families import Family

CASE_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
BINDING_ID = re.compile(r"^[a-z0-9_]+\.[A-Za-z0-9_.]+$")


def _as_list(value: Any) -> Any:
    """One ``expect`` entry, or a list of them split by dtype or version."""
    return value if isinstance(value, list) else [value]




class _Strict(BaseModel):
    # An infinite tolerance or bound would pass anything: scalar options are finite.
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True,
                              allow_inf_nan=False, use_enum_values=True)


@dataclass(frozen=True)
class Values:
    """An input or a target: its ``kind`` (``logits``, ``probs``, ``index``...) and its array."""

    kind: str
    values: np.ndarray

    @classmethod
    def parse(cls, role: str, raw: Any, kinds: dict[str, Elements], loss: str | None = None) -> Values:
        """``{kind: array}`` with exactly one of ``kinds`` (those of ``loss``, if given);
        errors name the field to fix."""
        if isinstance(raw, Values):
            return raw
        if not isinstance(raw, dict):
            raise CaseRuleError(role, f"{role} is a mapping {{kind: array}} with one of "
                                f"{', '.join(kinds)}, e.g. {{{next(iter(kinds))}: [...]}}; got {_short(raw)}")
        given = list(raw)
        if len(given) == 1 and given[0] not in kinds and loss is not None:
            raise CaseRuleError(role, f"{loss} takes {role} {' | '.join(sorted(kinds))}, not {_short(given[0])}")
        if len(given) != 1 or given[0] not in kinds:
            known = families.array_elements()
            unknown = [k for k in given if k not in known]
            if unknown:
                raise CaseRuleError(f"{role}.{unknown[0]}", f"{_short(unknown[0])} is not a kind of {role}; "
                                    f"use one of {', '.join(kinds)}")
            raise CaseRuleError(role, f"needs exactly one of {', '.join(kinds)}; got "
                                f"{', '.join(given) if given else 'none'}")
        kind = given[0]
        try:
            parse = {Elements.INDEX: index_array, Elements.SEQUENCES: label_sequences}.get(kinds[kind], float_array)
            array = parse(raw[kind])
        except ValueError as exc:
            raise CaseRuleError(f"{role}.{kind}", str(exc)) from None
        return cls(kind, array)


def _values_field(role: str) -> Any:
    # Reached only when the loss is unknown: then any kind a family knows is read.
    return BeforeValidator(lambda raw: Values.parse(role, raw, families.array_elements()))


class Expectation(_Strict):
    """A documented deviation of one binding from the canonical loss."""

    value: FloatArray | None = None
    raises: str | None = None
    # The gradient d(sum of the loss)/d(input) the API returns, when it
    # deviates from the oracle's; an entry may document it alone.
    grad: FloatArray | None = None
    # A precision loss too order-dependent to reproduce exactly: the API stays
    # within this looser tolerance (of the value, or of the gradient), for the reason given.
    within: Bound | None = None
    grad_within: Bound | None = None
    # The gradient a named mechanism gives (conformance.oracle.GRADIENT_READINGS),
    # computed exactly by the oracle: for arrays too large to write out.
    grad_reading: str | None = None
    reason: str = Field(min_length=1)
    category: Category | None = None
    link: str | None = None
    versions: str | None = None
    dtypes: list[DType] | None = None
    # The variants of the API it applies to (see Binding.variant: for Keras, its backends
    # tensorflow, jax, torch); default all.
    backends: list[str] | None = None
    # Whether bindings that share this binding's expectations (module and
    # function forms) inherit this entry; false when the cause lies in a part
    # of the API they do not use (e.g. a class's own reduction).
    shared: bool = True
    # The reductions it applies to (default all): for a binding-level entry
    # (Binding.deviations) whose mechanism is in the API's own reduction.
    reductions: list[Reduction] | None = None

    @model_validator(mode="after")
    def _value_or_raises(self) -> Expectation:
        if self.value is not None and self.raises is not None:
            raise ValueError("give `value` (the number the API returns) or `raises` (the "
                             "exception name it raises), not both")
        if not (self.documents("value") or self.documents("grad")):
            raise ValueError("needs `value` (the number the API returns), `raises` (the exception "
                             "name it raises), `grad` (the gradient it returns), or `within` / "
                             "`grad_within` (the looser tolerance a precision loss stays in)")
        if self.within is not None and (self.value is not None or self.raises is not None):
            raise ValueError("`within` documents an imprecise value; give it without `value`/`raises`")
        if self.grad_within is not None and self.grad is not None:
            raise ValueError("`grad_within` documents an imprecise gradient; give it without `grad`")
        return self

    def documents(self, about: str) -> bool:
        """Whether this entry documents the ``value`` (or raise) or the ``grad``."""
        if about == "grad":
            return any(x is not None for x in (self.grad, self.grad_within, self.grad_reading))
        return self.value is not None or self.raises is not None or self.within is not None

    @field_validator("grad_reading")
    @classmethod
    def _known_reading(cls, name: str | None) -> str | None:
        readings = {r for f in families.families() for r in f.gradient_readings}
        if name is not None and name not in readings:
            raise ValueError(f"unknown gradient reading {name!r}; known: {', '.join(sorted(readings))}")
        return name

    @field_validator("backends")
    @classmethod
    def _known_variants(cls, names: list[str] | None, info: ValidationInfo) -> list[str] | None:
        known = (info.context or {}).get("variants")
        for name in names or []:
            if known is not None and name not in known:
                raise ValueError(f"{_short(name)} is not a variant of any binding; known: {', '.join(sorted(known))}")
        return names

    @field_validator("reason")
    @classmethod
    def _trimmed(cls, text: str) -> str:
        return text.strip()

    @field_validator("versions")
    @classmethod
    def _specifier(cls, text: str | None) -> str | None:
        if text is not None:
            try:
                SpecifierSet(text)
            except InvalidSpecifier:
                raise ValueError(f"{text!r} is not a PEP 440 version specifier (e.g. '>=2.1,<2.14')") from None
        return text

    def applies_to(self, version: str | None, dtype: DType, variant: str | None = None,
                   reduction: str | None = None) -> bool:
        """Whether this entry describes the API at ``version`` in ``dtype`` (in ``variant``, for
        the case's ``reduction``)."""
        if self.dtypes is not None and dtype not in self.dtypes:
            return False
        if self.reductions is not None and reduction not in self.reductions:
            return False
        if self.backends is not None and variant not in self.backends:
            return False
        if self.versions is None or version is None:
            return True
        return SpecifierSet(self.versions).contains(version.split("+")[0], prereleases=True)


class Case(_Strict):
    """One conformance case. See docs/case-format.md for the meaning of every field."""

    id: str
    title: str | None = None
    description: str | None = None
    source: str | None = None
    tags: list[str] = []
    loss: str
    input: Annotated[Values, _values_field("input")]
    target: Annotated[Values, _values_field("target")]
    class_axis: Integer = -1
    reduction: Reduction = Field(default=Reduction.MEAN, validate_default=True)  # stored as its word
    # The family's options, written at the top level of the case (``weight: [...]``).
    options: Options = Options()
    mode: Mode = Field(default=Mode.FAITHFUL, validate_default=True)
    expected: FloatArray | None = None
    tolerance: Tolerance | None = None
    dtypes: list[DType] | None = None
    expect: dict[str, Annotated[list[Expectation], BeforeValidator(_as_list)]] = {}
    # Whether faithful evaluations also compute and judge d(loss)/d(input).
    gradient: bool = True
    # Not fields: nothing a case file says can set them. Arrays drawn from
    # ``random`` specs (role -> draw), and where the case came from.
    _drawn: dict[str, RandomDraw] = PrivateAttr(default_factory=dict)
    _file: str = PrivateAttr(default="<memory>")
    _line: int = PrivateAttr(default=0)
    _field_marks: dict[str, tuple[int, int]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _by_family(cls, data: Any, handler: Any, info: ValidationInfo) -> Case:
        """The family's schema: its options and its kinds of input and target; then the
        arrays drawn from ``random`` specs."""
        context = info.context or {}
        family = _family_of(data)
        if family is not None:
            data = _with_options(family, data)
        data, drawn = draw_random_arrays(data, context.get("max_elements"), context.get("budget"))
        if family is not None:
            kinds = {"input": {k: Elements.FLOAT for k in family.inputs}, "target": dict(family.targets)}
            for role in ("input", "target"):
                if role in data:  # a missing one is pydantic's "required field is missing"
                    data[role] = Values.parse(role, data[role], kinds[role], family.name)
        case = handler(data)
        case._drawn = drawn
        if case.expected is None and not drawn:
            raise CaseRuleError("expected", "`expected` is required: the canonical loss for these inputs")
        return case

    @property
    def drawn(self) -> dict[str, RandomDraw]:
        """The arrays drawn from ``random`` specs, by role (``input``, ``target``)."""
        return self._drawn

    @property
    def file(self) -> str:
        return self._file

    @property
    def line(self) -> int:
        return self._line

    def located(self, file: str, line: int, field_marks: dict[str, tuple[int, int]] | None = None) -> Case:
        """This case, recorded as read from ``file`` at ``line`` (done by the loader), with
        the (line, column) of each of its fields."""
        self._file, self._line, self._field_marks = file, line, dict(field_marks or {})
        return self

    def mark_of(self, field: str) -> tuple[int, int]:
        """Where ``field`` is written (the case's own line if it is not)."""
        return self._field_marks.get(field, (self._line, 1))

    @field_validator("id")
    @classmethod
    def _id_form(cls, value: str) -> str:
        if not CASE_ID.match(value):
            raise ValueError(f"{value!r} is not a valid id: use lowercase letters, digits, "
                             "'_', '.', '-', starting with a letter or digit")
        return value

    @field_validator("loss")
    @classmethod
    def _known_loss(cls, value: str) -> str:
        try:
            families.family(value)
        except KeyError as exc:
            raise ValueError(str(exc.args[0])) from None
        return value

    @field_validator("tolerance")
    @classmethod
    def _not_loose(cls, value: Tolerance | None) -> Tolerance | None:
        if value is not None and max(value.rtol, value.atol) > MAX_TOLERANCE:
            raise ValueError(f"a case's tolerance may be at most {MAX_TOLERANCE} (rtol and atol): looser, "
                             "it would pass almost anything; document a precision loss with an "
                             "`expect` entry's `within` instead")
        return value

    @field_validator("tags", mode="before")
    @classmethod
    def _tags_text(cls, value: Any) -> Any:
        return value.split() if isinstance(value, str) else value

    @field_validator("expect")
    @classmethod
    def _binding_ids(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        known = (info.context or {}).get("bindings")
        for key in value:
            if not BINDING_ID.match(key):
                raise ValueError(f"{_short(key)} is not a binding id of the form <framework>.<api>")
            if known is not None and key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else " (`conformance validate` lists none)"
                raise ValueError(f"{key!r} is not a known binding{hint}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Case:
        check_case(self)
        return self

    def expectations(self, binding_id: str) -> list[Expectation]:
        """Every ``expect`` entry of a binding (one, or a list split by dtype/version)."""
        return self.expect.get(binding_id, [])

    def expectation_for(self, documentation: tuple[Inherits, ...], version: str | None, dtype: DType,
                        about: str = "value", variant: str | None = None) -> Expectation | None:
        """The first entry along ``documentation`` (a binding's own entries, then those it
        inherits) that applies to ``version``, ``dtype`` and ``variant`` and documents
        ``about`` (value or grad)."""
        for link in documentation:
            for entry in self.expectations(link.binding):
                if link.shared_only and not entry.shared:
                    continue
                if entry.documents(about) and entry.applies_to(version, dtype, variant):
                    return entry
        return None

    # -- derived facts used by the oracle and the bindings ------------------
    @property
    def ndim(self) -> int:
        return self.input.values.ndim

    @property
    def axis(self) -> int:
        """The class axis as a non-negative index into the input's shape."""
        return self.class_axis % self.ndim if self.ndim else 0

    @property
    def num_classes(self) -> int:
        return int(self.input.values.shape[self.axis])

    @property
    def class_axis_is_last(self) -> bool:
        return self.axis == self.ndim - 1

    @property
    def family(self) -> Family:
        """The loss family the case belongs to (its schema, oracle and readings)."""
        return families.family(self.loss)

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Shape of the per-position loss (``reduction: none``)."""
        return self.family.output_shape(self)

    def options_set(self) -> tuple[str, ...]:
        """The names of the family options this case sets."""
        return self.options.given()

    def option(self, name: str) -> Any:
        """The value of option ``name``, or None where the case's family has no such option."""
        return getattr(self.options, name, None)

    def with_input(self, kind: str, values: np.ndarray) -> Case:
        """This case with its input converted to ``kind`` (the gradient's glue uses it)."""
        copy = self.model_copy(update={"input": Values(kind, values)})
        copy._drawn = {role: d for role, d in self.drawn.items() if role != "input"}
        return copy

    def with_target(self, kind: str, values: np.ndarray) -> Case:
        """This case with another target (a gradient reading uses it)."""
        return self.model_copy(update={"target": Values(kind, values)})

    @property
    def configuration(self) -> str:
        """The canonical configuration in words, e.g. ``cross_entropy: logits vs index,
        weight, mean`` - cases with equal configurations port with the same calls."""
        parts = [f"{self.input.kind} vs {self.target.kind}"]
        if self.ndim > 1 and not self.class_axis_is_last:
            parts.append(f"classes on axis {self.axis} of {self.ndim}")
        parts += list(self.options_set())
        parts.append(self.reduction)
        return f"{self.loss}: " + ", ".join(parts)

    def tolerance_for(self, dtype: DType) -> Tolerance:
        return self.tolerance or default_tolerance(dtype)

    def dtypes_in(self, requested: tuple[DType, ...]) -> list[DType]:
        allowed = self.dtypes or list(DTYPES)
        return [d for d in requested if d in allowed]


def _family_of(data: Any) -> Family | None:
    """The family ``data`` names, or None (the ``loss`` field's own check then says why)."""
    loss = data.get("loss") if isinstance(data, dict) else None
    if not isinstance(loss, str):
        return None
    try:
        return families.family(loss)
    except KeyError:
        return None


def _with_options(family: Family, data: dict) -> dict:
    """``data`` with the family's options moved from the top level into ``options``."""
    if "options" in data:
        raise CaseRuleError("options", "write a case's options at its top level (e.g. `weight: [...]`), "
                            "not under `options:`")
    fields = set(Case.model_fields)
    own = family.options.model_fields
    data, given = dict(data), {}
    for key in [k for k in data if k not in fields]:
        if key in own:
            given[key] = data.pop(key)
            continue
        elsewhere = sorted(f.name for f in families.families() if key in f.options.model_fields)
        if elsewhere and all(_is_default(f, key, data[key]) for f in families.families()
                             if key in f.options.model_fields):
            del data[key]  # `label_smoothing: 0` beside a loss without it says nothing: as before
            continue
        if elsewhere:
            own = ", ".join(f"`{name}`" for name in own) or "none"
            where = " and ".join(elsewhere) if len(elsewhere) <= 3 else f"{len(elsewhere)} other losses"
            raise CaseRuleError(key, f"{family.name} has no option `{key}` (it applies to {where}); "
                                     f"the options of {family.name}: {own}")
    try:
        data["options"] = family.options.model_validate(given)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise CaseRuleError(where, first["msg"].removeprefix("Value error, ")) from None
    return data


def _is_index(kind: str) -> bool:
    """Whether arrays of ``kind`` hold class indices (for every family that knows it)."""
    return families.array_elements().get(kind) == Elements.INDEX


def _is_default(family: Family, option: str, value: Any) -> bool:
    default = family.options.model_fields[option].default
    return value is None or (not isinstance(value, (bool, list, dict)) and value == default)


def draw_random_arrays(data: Any, max_elements: int | None = None, budget: Any = None,
                       ) -> tuple[Any, dict[str, RandomDraw]]:
    """Replace ``{random: {...}}`` in ``input``/``target`` by the arrays they describe.

    The input needs ``shape``; an index target gets the input's shape without
    the class axis and values in [0, C); a probability target gets the input's
    shape. Returns the data and the draws by role. The element count is checked
    against ``max_elements`` (per case) and ``budget`` (an object whose ``spend(n)``
    says whether the whole load may still hold ``n`` more) before anything is drawn.
    """
    if not isinstance(data, dict):
        return data, {}
    data, drawn = dict(data), {}
    axis_given = data.get("class_axis", -1)
    for role in ("input", "target"):
        entry = data.get(role)
        if not (isinstance(entry, dict) and len(entry) == 1):
            continue
        (kind, value), = entry.items()
        if not (isinstance(value, dict) and "random" in value):
            continue
        where = f"{role}.{kind}.random"
        if len(value) != 1:
            raise CaseRuleError(f"{role}.{kind}", "`random` stands alone: {random: {shape: ..., seed: ...}}")
        spec = _random_spec(role, kind, value["random"], data.get("loss"))
        try:
            shape, classes, axis = _draw_shape(role, kind, spec, data, axis_given)
        except ValueError as exc:
            raise CaseRuleError(where, str(exc)) from None
        draw = RandomDraw(spec, shape, classes, axis)
        if max_elements is not None and draw.size > max_elements:
            raise CaseRuleError(f"{where}.shape", f"{draw.size} elements is more than the limit of "
                                f"{max_elements} per case (raise it with --max-elements)")
        if budget is not None and not budget.spend(draw.size):
            raise CaseRuleError(f"{where}.shape", f"{draw.size} elements is more than the "
                                f"{budget.left} left to all the cases loaded together "
                                "(4 x --max-elements)")
        data[role] = {kind: draw.draw()}
        drawn[role] = draw
    return data, drawn


def _random_spec(role: str, kind: str, raw: Any, loss: Any) -> RandomSpec:
    """The spec, with the distribution a target of this kind needs unless one is given."""
    if isinstance(raw, dict) and "distribution" not in raw:
        if _is_index(kind):
            raw = {**raw, "distribution": "integers"}
        elif role == "target":
            family = _family_of({"loss": loss})
            raw = {**raw, "distribution": family.random_target if family else "dirichlet"}
    try:
        spec = RandomSpec.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        message = first["msg"].removeprefix("Value error, ")
        raise CaseRuleError(f"{role}.{kind}.random" + (f".{where}" if where else ""), message) from None
    if (spec.distribution == "integers") != _is_index(kind):
        raise CaseRuleError(f"{role}.{kind}.random.distribution",
                            "class indices are drawn with `integers`, and only they are"
                            if _is_index(kind) else "`integers` draws class indices; use normal, "
                            "uniform or dirichlet")
    return spec


def _draw_shape(role: str, kind: str, spec: RandomSpec, data: dict, axis_given: Any,
                ) -> tuple[tuple[int, ...], int | None, int]:
    if role == "input":
        if spec.shape is None:
            raise ValueError("a random input needs `shape`, e.g. {random: {shape: [64, 1000], seed: 0}}")
        axis = axis_given if isinstance(axis_given, int) and not isinstance(axis_given, bool) else -1
        if not -len(spec.shape) <= axis < len(spec.shape):
            raise ValueError(f"class_axis {axis} is out of range for shape {list(spec.shape)}")
        return spec.shape, None, axis % len(spec.shape)
    if spec.shape is not None:
        raise ValueError("a random target takes its shape from the input; leave out `shape`")
    values = next(iter(data["input"].values())) if isinstance(data.get("input"), dict) else None
    if not isinstance(values, np.ndarray):
        raise ValueError("a random target needs a random input to take its shape from")
    axis = axis_given % values.ndim if isinstance(axis_given, int) else values.ndim - 1
    if _is_index(kind):
        return values.shape[:axis] + values.shape[axis + 1:], values.shape[axis], -1
    return values.shape, None, axis
