"""Hypothesis strategies for cases: small composable values, built from a family's schema.

A case is drawn as the dictionary a case file would hold - shapes and a class axis,
an input of one of the family's kinds, a target of one of its kinds, options from
the family's options model, a reduction - then validated by the same rules as a
file (:func:`conformance.case_rules.check_case`); a draw the rules refuse is
rejected, so a family's own constraints (a target of the input's shape, class
weights one per class) need no strategy of their own. ``expected`` is the oracle's
float64 value, filled in once the case is valid.

Values cover each kind's whole range: ordinary numbers, huge and tiny magnitudes,
exact 0 and 1 probabilities, infinities where the kind allows them, subnormals and
near-ties (two equal logits), because that is where frameworks differ.

Importing this module imports hypothesis; nothing else of the suite does.
"""

from __future__ import annotations

import enum
import typing
from enum import StrEnum
from typing import Any

import numpy as np
from hypothesis import assume, strategies as st

from conformance.case import Case
from conformance.case_rules import check_case
from conformance.families import Family
from conformance.number_text import encode
from conformance.oracle import evaluate


class Domain(StrEnum):
    """The values an input or target kind holds."""

    REAL = "real"
    UNIT = "unit"                # probabilities: [0, 1]
    NONPOSITIVE = "nonpositive"  # log-probabilities: [-inf, 0]
    NONNEGATIVE = "nonnegative"  # rates, counts
    SIGNS = "signs"              # -1 or +1
    BINARY = "binary"            # 0 or 1
    INDEX = "index"              # a class index in [0, C)
    ONE_HOT = "one_hot"          # a one-hot row over the classes


# The domain of every kind a built-in family reads; a family with a kind not listed
# here is fuzzed once the kind is added (its cases are otherwise not drawn).
KIND_DOMAINS: dict[str, Domain] = {
    **{kind: Domain.REAL for kind in ("logits", "scores", "predictions", "means", "embeddings", "anchors",
                                      "distances", "log_rates", "values", "references", "pairs", "positives")},
    "probs": Domain.UNIT, "log_probs": Domain.NONPOSITIVE, "rates": Domain.NONNEGATIVE,
    "counts": Domain.NONNEGATIVE, "signs": Domain.SIGNS, "binary": Domain.BINARY, "index": Domain.INDEX,
    "one_hot": Domain.ONE_HOT,
}

# The domain of an option array by its name (weights, variances: not negative; CosineEmbedding's
# labels: signs; triplets' negatives: any real); one not listed holds non-negative numbers.
OPTION_DOMAINS: dict[str, Domain] = {"labels": Domain.SIGNS, "negatives": Domain.REAL}

_ORDINARY = st.floats(-8.0, 8.0, allow_nan=False).map(lambda v: round(v, 3))
_EXTREMES = st.sampled_from([0.0, -0.0, 1.0, -1.0, 1e-30, -1e-30, 1e30, -1e30, 5e-324, 1e-310, 3.4e38, 88.7, -88.7,
                             709.0, -745.0, 16.0, 1e-7])
_INFINITE = st.sampled_from([float("inf"), float("-inf")])
_UNIT_EXTREMES = st.sampled_from([0.0, 1.0, 1e-7, 1 - 1e-7, 1e-30, 5e-324, 0.5, 1e-45])


def scalars(domain: Domain, extremes: bool = True, infinite: bool = True) -> st.SearchStrategy[float]:
    """One number of ``domain``; with ``extremes``, the edges of its range as often as ordinary
    values (and, with ``infinite``, the infinities)."""
    if domain == Domain.REAL:
        if not extremes:
            return _ORDINARY
        return st.one_of(_ORDINARY, _EXTREMES, _INFINITE) if infinite else st.one_of(_ORDINARY, _EXTREMES)
    if domain == Domain.UNIT:
        ordinary = st.floats(0.0, 1.0).map(lambda v: round(v, 4))
        return st.one_of(ordinary, _UNIT_EXTREMES) if extremes else ordinary
    if domain == Domain.NONPOSITIVE:
        return scalars(Domain.REAL, extremes, infinite).map(lambda v: -abs(v))
    if domain == Domain.NONNEGATIVE:
        return scalars(Domain.REAL, extremes, infinite).map(abs)
    if domain == Domain.SIGNS:
        return st.sampled_from([-1.0, 1.0])
    if domain == Domain.BINARY:
        return st.sampled_from([0.0, 1.0])
    raise ValueError(f"{domain} is not a domain of single numbers")


@st.composite
def arrays(draw: st.DrawFn, domain: Domain, shape: tuple[int, ...], classes: int = 2,
           extremes: bool = True, infinite: bool = True) -> list:
    """A nested list of ``shape``; index and one-hot domains hold classes of ``classes``."""
    size = int(np.prod(shape))
    if domain == Domain.INDEX:
        flat: list = draw(st.lists(st.integers(0, classes - 1), min_size=size, max_size=size))
    elif domain == Domain.ONE_HOT:
        rows = draw(st.lists(st.integers(0, classes - 1), min_size=size // classes, max_size=size // classes))
        flat = [float(c == r) for r in rows for c in range(classes)]
    else:
        flat = draw(st.lists(scalars(domain, extremes, infinite), min_size=size, max_size=size))
        if domain == Domain.REAL and size >= 2 and draw(st.booleans()):
            flat[1] = flat[0]  # a near-tie: two equal logits
    return np.asarray(flat, dtype=object).reshape(shape).tolist()


_SHAPES = st.sampled_from([(1, 2), (2, 2), (2, 3), (3, 4), (4,), (2, 3, 2), (1, 1), (3,)])


def _option(name: str, field: Any, classes: int, shape: tuple[int, ...]) -> st.SearchStrategy[Any] | None:
    """A value for one option, from its annotation; None for options left at their default
    (arrays a family needs in a shape of its own are drawn as one per class or one per element)."""
    annotation = str(field.annotation)
    if "ndarray" in annotation:
        if "index_array" in annotation:
            return None
        # One per class, per element or per row: the family's rules keep the shape it takes.
        domain = OPTION_DOMAINS.get(name, Domain.NONNEGATIVE)
        return st.one_of(*(arrays(domain, s, extremes=False) for s in ((classes,), shape, shape[:1])))
    kind = field.annotation
    if kind is bool:
        return st.booleans()
    if typing.get_origin(kind) is typing.Literal:
        return st.sampled_from(typing.get_args(kind))
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return st.sampled_from([member.value for member in kind])
    if kind is float or "float" in annotation:
        return st.one_of(st.floats(0.0, 1.0).map(lambda v: round(v, 3)), st.sampled_from([0.0, 0.5, 2.0, 1e-6, 10.0]))
    if kind is int or "int" in annotation:
        return st.integers(-1, 3)
    return None


@st.composite
def case_dicts(draw: st.DrawFn, family: Family, inputs: frozenset[str] | None = None,
               targets: frozenset[str] | None = None, reductions: frozenset[str] | None = None,
               infinite: bool = True, extremes: bool = True) -> dict:
    """The dictionary of one case of ``family``, restricted to the input and target kinds and the
    reductions given (those a binding takes, or a property needs); ``extremes``: the edges of each
    kind's range among the values, ``infinite``: ±inf too."""
    input_kind = draw(st.sampled_from(sorted(k for k in (inputs or family.inputs) if k in family.inputs
                                             and k in KIND_DOMAINS)))
    target_kind = draw(st.sampled_from(sorted(k for k in (targets or family.targets) if k in family.targets
                                              and k in KIND_DOMAINS)))
    shape = draw(_SHAPES)
    class_axis = draw(st.sampled_from([-1, 1])) if len(shape) == 3 else -1
    classes = shape[class_axis]
    without_classes = tuple(n for axis, n in enumerate(shape) if axis != class_axis % len(shape))
    target_domain = KIND_DOMAINS[target_kind]
    target_shape = without_classes if target_domain == Domain.INDEX else shape
    fields: dict[str, Any] = {
        "id": "fuzz", "loss": family.name,
        "input": {input_kind: draw(arrays(KIND_DOMAINS[input_kind], shape, extremes=extremes, infinite=infinite))},
        "target": {target_kind: draw(arrays(target_domain, target_shape, classes, extremes, infinite))},
        "reduction": draw(st.sampled_from(sorted(r for r in family.reductions if not reductions or r in reductions))),
        "expected": 0.0,
    }
    if class_axis != -1:
        fields["class_axis"] = class_axis
    for name, field in family.options.model_fields.items():
        option = _option(name, field, classes, shape)
        if option is not None and draw(st.booleans()):
            fields[name] = draw(option)
    return fields


def written(case: Case) -> dict[str, Any]:
    """The fields of ``case`` as a case file writes them (no id, no ``expected``): the loss, its
    arrays (index arrays as integers, inf and nan spelled out), class axis, options, reduction."""
    def plain(values: np.ndarray) -> Any:
        return values.tolist() if values.dtype.kind in "iu" else encode(np.asarray(values, dtype=np.float64))

    fields: dict[str, Any] = {"loss": case.loss, "input": {case.input.kind: plain(case.input.values)},
                              "target": {case.target.kind: plain(case.target.values)}}
    if case.class_axis != -1:
        fields["class_axis"] = case.class_axis
    for name in sorted(case.options_set()):
        value = case.option(name)
        fields[name] = plain(value) if isinstance(value, np.ndarray) else getattr(value, "value", value)
    fields["reduction"] = str(case.reduction)
    return fields


def validated(fields: dict) -> Case:
    """The case of ``fields`` (whatever their ``expected``) with the oracle's float64 value as
    ``expected``; raises ValueError (a CaseRuleError, pydantic's ValidationError) where the rules
    of a case file refuse it."""
    fields = {**fields, "expected": 0.0}
    if fields.get("reduction") == "none":  # `expected` has the loss's shape: a case to ask it of
        shaped = Case.model_validate({**fields, "reduction": "sum"})
        fields["expected"] = np.zeros(shaped.family.output_shape(shaped)).tolist()
    case = Case.model_validate(fields).model_copy(update={"expected": None})
    check_case(case)
    oracle = evaluate(case, "float64").as_float()
    return case.model_copy(update={"expected": np.array(oracle, dtype=np.float64)})


def build(fields: dict) -> Case | None:
    """:func:`validated`, or None where the rules of a case file refuse ``fields``."""
    try:
        return validated(fields)
    except ValueError:
        return None


def cases(family: Family, inputs: frozenset[str] | None = None, targets: frozenset[str] | None = None,
          reductions: frozenset[str] | None = None, infinite: bool = True,
          extremes: bool = True) -> st.SearchStrategy[Case]:
    """Valid cases of ``family`` (of the kinds and reductions given); draws the case rules refuse
    are rejected."""
    def valid(fields: dict) -> Case:
        case = build(fields)
        assume(case is not None)
        return case

    return case_dicts(family, inputs, targets, reductions, infinite, extremes).map(valid)
