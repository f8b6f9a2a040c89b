"""What a loss family declares, and the pieces every family shares.

A family is a subclass of :class:`Family` with one instance registered in
:mod:`conformance.families`. It declares the case schema of its losses (input
and target kinds, options, cross-field rules), the canonical definition
(:meth:`Family.loss`, exact, from which the default gradient follows), the
ways an API is known to read it differently (*readings*, for the
interpretation search) and the aspects its probes measure. Nothing outside
the family module names the family.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from conformance.exact import MP, NAN, ONE, central_slope, divide, mp_array, smallest_magnitude, total
from conformance.vocabulary import Elements, Reduction

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.dtypes import DType


class Options(BaseModel):
    """A family's options, written at the top level of a case (``weight: [...]``).

    Subclass with one field per option; a field left at its default is not
    set. The base class has none.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True,
                              allow_inf_nan=False)

    def given(self) -> tuple[str, ...]:
        """The options set to something other than their default (``0`` smoothing is unset)."""
        return tuple(name for name, info in type(self).model_fields.items()
                     if _is_set(getattr(self, name), info.default))


def _is_set(value: Any, default: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, np.ndarray) or isinstance(default, np.ndarray):
        return True
    return value != default


class Reading:
    """One way an API may read a case other than canonically (a set of *knobs*).

    A family's readings are a frozen dataclass subclassing this; the default
    instance is the canonical reading. :meth:`merge` combines two single-knob
    readings for the search's second level.
    """

    def knobs(self) -> dict[str, Any]:
        """The knobs set away from canonical, by name (the structured interpretation)."""
        canonical = type(self)()
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)  # type: ignore[arg-type]
                if getattr(self, f.name) != getattr(canonical, f.name)}

    def merge(self, other: Reading) -> Reading | None:
        """Both readings at once, or None where they set the same knob."""
        mine, theirs = self.knobs(), other.knobs()
        if set(mine) & set(theirs):
            return None
        return dataclasses.replace(self, **theirs)  # type: ignore[type-var]

    def describe(self, case: Case) -> str:
        """The reading in words (rendered at the edge: reports, explanations)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Rule:
    """A profile label, given to a probe row when one of its readings satisfies
    ``matches(knobs, input_kind)`` (the reading's knob settings, the case's input kind)."""

    matches: Callable[[Mapping[str, Any], str], bool]
    label: str


@dataclass(frozen=True)
class Aspect:
    """One question the probes (cases tagged ``aspect:<name>``) answer about an API."""

    name: str
    question: str
    canonical: str               # the label when the probe row passes
    rules: tuple[Rule, ...] = ()  # first match wins
    raised: str | None = None    # the label when the probe raised (default: "raises <exception>")
    # Set on the aspect that says how an API reads its input: the kind of input a
    # reading takes (its label), so the other aspects can set aside readings that
    # contradict what was measured, and mark probes the API read as another kind.
    kind_of: Callable[[Mapping[str, Any], str], str | None] | None = None
    # ... and the labels ``kind_of`` gives, in the order the other aspects try them.
    kinds: tuple[str, ...] = ()


class Family:
    """One loss family. Subclass, fill in the class attributes and :meth:`loss`, and
    register an instance (:func:`conformance.families.register`)."""

    name: ClassVar[str]
    # The canonical definition in one line (docs, ``conformance list``).
    definition: ClassVar[str] = ""
    inputs: ClassVar[tuple[str, ...]]    # input kinds, in the order messages list them
    targets: ClassVar[Mapping[str, Elements]]
    options: ClassVar[type[Options]] = Options
    reductions: ClassVar[frozenset[Reduction]] = frozenset({Reduction.MEAN, Reduction.SUM, Reduction.NONE})
    # Whether the input has a class axis the loss sums over (the per-position loss drops it).
    class_axis: ClassVar[bool] = False
    # How a drawn probability target is distributed (``random:`` in a case).
    random_target: ClassVar[str] = "uniform"
    aspects: ClassVar[tuple[Aspect, ...]] = ()
    # Gradient readings by name -> the mechanism in words (see :meth:`gradient`).
    gradient_readings: ClassVar[Mapping[str, str]] = {}
    # The metamorphic relations of conformance.fuzz.properties that hold for this family beyond
    # those every family keeps (of its reductions and gradients), by name (e.g. "logit_shift").
    properties: ClassVar[frozenset[str]] = frozenset()
    # (k, option): doubling the input and the target (and the option, a scale such as Huber's
    # delta) multiplies the loss by 2**k; None where no such degree exists.
    homogeneity: ClassVar[tuple[int, str | None] | None] = None

    # -- the case schema ----------------------------------------------------------
    def check(self, case: Case) -> None:
        """The family's own cross-field rules; raise ``CaseRuleError(field, message)``."""

    def output_shape(self, case: Case) -> tuple[int, ...]:
        """The shape of the per-position loss (``reduction: none``)."""
        shape = case.input.values.shape
        return shape[:case.axis] + shape[case.axis + 1:] if self.class_axis else shape

    def target_shape(self, case: Case) -> tuple[int, ...]:
        """The shape the target must have: the per-position shape for class indices, the
        input's shape otherwise."""
        index = self.targets.get(case.target.kind) == Elements.INDEX
        return self.output_shape(case) if index else case.input.values.shape

    # -- the canonical definition -------------------------------------------------
    def loss(self, case: Case, dtype: DType, x: np.ndarray) -> Any:
        """The canonical loss of ``case`` with input ``x`` (an mpf object array; the
        target and options are the case's, rounded to ``dtype``): an mpf, or an object
        array of the output shape for ``reduction: none``."""
        raise NotImplementedError

    def value(self, case: Case, dtype: DType) -> Any:
        """The canonical loss on the case's inputs rounded to ``dtype``."""
        return self.loss(case, dtype, mp_array(case.input.values, dtype))

    def gradient(self, case: Case, dtype: DType, reading: str | None = None) -> tuple[np.ndarray, Any]:
        """d(sum of the loss)/d(input) as an mpf object array of the input's shape, and the
        reduction's scale (``1/D`` for a mean over D, else 1).

        By default it follows from :meth:`loss` by central differences in exact
        arithmetic (:func:`conformance.exact.central_slope`: steps from 1e-20 relative
        down until two agree, below a kink at 0); a family may give an analytic gradient
        instead, checked against this in its tests. ``reading`` names one of :attr:`gradient_readings`.
        """
        if reading is not None:
            raise ValueError(f"{self.name} has no gradient reading {reading!r}")
        x = mp_array(case.input.values, dtype)
        grad = np.empty(x.shape, dtype=object)
        for index in np.ndindex(x.shape):
            grad[index] = self._partial(case, dtype, x, index)
        return grad, self.scale(case, x.shape)

    def converted_input(self, case: Case, dtype: DType, kind: str) -> np.ndarray:
        """The case's input, rounded to ``dtype``, converted exactly to input ``kind`` (float64).

        Glue that feeds an API another kind of input (``log p`` to an API that takes
        log-probabilities) declares it (:meth:`conformance.recipe.RecipeWriter.converted`);
        the gradient is then judged with respect to the converted input, against the
        oracle of the case with this input. A family with such conversions overrides this.
        """
        raise ValueError(f"{self.name} has no conversion of {case.input.kind} input to {kind}")

    def _partial(self, case: Case, dtype: DType, x: np.ndarray, index: tuple[int, ...]) -> Any:
        if not MP.isfinite(x[index]):
            return NAN

        def moved(v: Any) -> Any:
            changed = x.copy()
            changed[index] = v
            return total(self.loss(case, dtype, changed))

        # A kink at 0 (|x|) is as close as the element itself: steps go below it.
        return central_slope(moved, x[index], max(abs(x[index]), ONE), smallest_magnitude(x[index]))

    def divisor(self, case: Case, dtype: DType) -> Any:
        """What the case's reduction divides the summed per-position losses by (1 for ``sum``
        and ``none``); the audit reduces an API's unreduced output with it."""
        return reduction_denominator(case.reduction, self.output_shape(case))

    def scale(self, case: Case, shape: tuple[int, ...]) -> Any:
        """The reduction's factor of one position's loss: ``1/D`` for a mean over D."""
        return ONE / reduction_denominator(case.reduction, self.output_shape(case))

    # -- interpretation -----------------------------------------------------------
    def readings(self, case: Case, dtype: DType) -> list[Reading]:
        """Single-knob readings worth trying for ``case`` (none by default)."""
        return []

    def variant(self, case: Case, dtype: DType, reading: Reading, inputs: np.ndarray | None = None,
                ) -> np.ndarray | None:
        """The loss read as ``reading`` says, in float64 on the dtype-rounded inputs
        (``inputs`` replaces the input), or None where that reading is impossible."""
        return None

    def kink_points(self, reading: Reading) -> list[float]:
        """Input values where the reading's loss has a kink (numerical gradients stay
        on one side of them)."""
        return []


def reduction_denominator(reduction: str, shape: tuple[int, ...]) -> Any:
    """What a plain reduction divides the sum of the per-position losses by."""
    if reduction in (Reduction.NONE, Reduction.SUM):
        return ONE
    if reduction == Reduction.BATCHMEAN:
        return MP.mpf(shape[0] if shape else 1)
    return MP.mpf(int(np.prod(shape)))


def reduce_exact(losses: np.ndarray, reduction: str, denominator: Any = None) -> Any:
    """Per-position losses reduced as asked; ``denominator`` replaces a plain mean's."""
    if reduction == Reduction.NONE:
        return losses
    if reduction == Reduction.SUM:
        return total(losses)
    if denominator is None:
        denominator = reduction_denominator(reduction, losses.shape)
    return divide(total(losses), denominator)

