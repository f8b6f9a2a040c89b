"""Interpretation search: which reading of a case reproduces an API's value?

A framework that deviates from the canonical loss nearly always does so in a
known way, and each family declares those ways as *readings*
(:meth:`conformance.families.Family.readings`) with a float64 model of its
loss under each (:meth:`~conformance.families.Family.variant`). For a row that
did not pass, :func:`search` tries every single reading, then every pair, and
returns the ones that reproduce the API's value within the row's tolerance -
as an :class:`Interpretation`, structured; words are rendered at the edge
(:meth:`Interpretation.describe`).

This is an explanation model, not the oracle: the oracle (mpmath) decides
pass/fail; the variants only explain a deviation already measured.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from conformance.compare import gradient_tolerance, matches_value
from conformance.deadline import TimeLimitExceeded, check
from conformance.dtypes import round_to
from conformance.families.base import Reading
from conformance.tolerance import Tolerance

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.dtypes import DType
    from conformance.tolerance import Tolerance

UNEXPLAINED = "unexplained"
# The knob of the canonical reading computed in a lower precision (no other knob set).
COMPUTED_IN = "computed_in"
# The interpretation text names this many readings, then counts the rest.
SHOWN = 3


@dataclass(frozen=True)
class Interpretation:
    """What an API measurably did: the readings that reproduce its output, the exception
    it raised, or nothing found (``unexplained``); ``note`` qualifies a search cut short."""

    readings: tuple[Reading, ...] = ()
    raised: str | None = None
    note: str = ""
    # The API computed the canonical loss, in the lower precision its binding declares
    # (``Binding.deviations``, ``within: {like: ...}``): no reading to search for.
    canonical_like: str | None = None
    # The readings match only at this coarser precision (a float64 row whose API rounds a
    # constant or an intermediate to float32).
    precision: str | None = None

    @property
    def explained(self) -> bool:
        return bool(self.readings) or self.raised is not None or self.canonical_like is not None

    def describe(self, case: Case) -> str:
        """In words, e.g. ``clips probabilities to [1e-07, 1-1e-07]``."""
        if self.raised is not None:
            return f"raises {self.raised}"
        if self.canonical_like is not None:
            return f"the canonical loss, computed in {self.canonical_like}"
        if self.note and not self.readings:
            return self.note
        if not self.readings:
            return UNEXPLAINED
        words = [r.describe(case) for r in self.readings[:SHOWN]]
        more = f" (or {len(self.readings) - SHOWN} more readings)" if len(self.readings) > SHOWN else ""
        coarse = f" (at {self.precision} precision)" if self.precision else ""
        return " | ".join(words) + more + coarse

    def structured(self) -> list[dict[str, Any]]:
        """The readings as knob settings (what a results row records); the canonical
        reading computed in a lower precision is ``{"computed_in": dtype}``."""
        if self.canonical_like is not None:
            return [{COMPUTED_IN: self.canonical_like}]
        return [r.knobs() for r in self.readings]


def pairs(singles: list[Reading]) -> Iterator[Reading]:
    for a, b in itertools.combinations(singles, 2):
        merged = a.merge(b)
        if merged is not None:
            yield merged


def levels(case: Case, dtype: DType) -> Iterator[list[Reading]]:
    """The readings the search tries, simplest first: every single reading, then every pair."""
    singles = case.family.readings(case, dtype)
    yield singles
    yield list(pairs(singles))


@dataclass(frozen=True)
class Found:
    """Where the search found its readings: the level (0: singles, 1: pairs) and their
    positions in it; no level: none reproduces the value. What a cache keeps of a search."""

    level: int | None = None
    positions: tuple[int, ...] = ()

    def interpretation(self, case: Case, dtype: DType) -> Interpretation | None:
        """The readings at these positions (None where the case has no such readings)."""
        if self.level is None:
            return Interpretation()
        candidates = next(itertools.islice(levels(case, dtype), self.level, None), None)
        if not candidates or not self.positions or max(self.positions) >= len(candidates):
            return None
        return Interpretation(tuple(candidates[i] for i in self.positions))


def search(case: Case, dtype: DType, value: np.ndarray, tol: Tolerance) -> Interpretation:
    """The simplest readings of ``case`` that reproduce ``value`` (none: unexplained)."""
    return locate(case, dtype, value, tol)[0]


def locate(case: Case, dtype: DType, value: np.ndarray, tol: Tolerance) -> tuple[Interpretation, Found | None]:
    """:func:`search`, and where it found its answer (None: cut short by the time limit)."""
    family = case.family
    try:
        for depth, level in enumerate(levels(case, dtype)):
            positions = []
            for position, reading in enumerate(level):
                check()
                variant = family.variant(case, dtype, reading)
                if variant is not None and matches_value(value, variant, tol):
                    positions.append(position)
            if positions:
                return Interpretation(tuple(level[i] for i in positions)), Found(depth, tuple(positions))
    except TimeLimitExceeded:
        return Interpretation(note="not measured: the time limit ran out during the interpretation search"), None
    return Interpretation(), Found()


def variant_loss(case: Case, dtype: DType, reading: Reading, inputs: np.ndarray | None = None,
                 ) -> np.ndarray | None:
    """The loss of ``case`` read as ``reading`` says (float64), or None if impossible."""
    return case.family.variant(case, dtype, reading, inputs)


# -- gradients --------------------------------------------------------------------
# Readings are differentiated numerically (central differences in float64), so a
# clipped probability shows the zero gradient a framework's clip gives it.
GRADIENT_SEARCH_MAX = 256
# A central difference in float64 with the step of `_step` is accurate to about 1e-10 of the
# gradient's size (truncation h**2, rounding eps/h); a reading's gradient is matched at this
# accuracy when it is finer than the dtype's tolerance, since it names what the API did and
# judges nothing.
NUMERICAL_DERIVATIVE_ACCURACY = 1e-7


def variant_gradient(case: Case, dtype: DType, reading: Reading) -> np.ndarray | None:
    """d(sum of the variant loss)/d(input), numerically; None if the reading is impossible."""
    family = case.family
    x = round_to(case.input.values, dtype)
    grad = np.full(x.shape, np.nan)
    kinks = family.kink_points(reading)
    for index in np.ndindex(x.shape):
        check()
        if not np.isfinite(x[index]):
            continue
        h = _step(float(x[index]), kinks)
        up, down = x.copy(), x.copy()
        up[index] += h
        down[index] -= h
        high, low = family.variant(case, dtype, reading, up), family.variant(case, dtype, reading, down)
        if high is None or low is None:
            return None
        with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: NaN, a gradient no reading gives
            grad[index] = (high.sum() - low.sum()) / (up[index] - down[index])
    return grad


def _step(x: float, kinks: list[float]) -> float:
    """A central-difference step that stays on one side of every kink near ``x``
    (0, 1 and the clip bounds), so a clipped value keeps its zero derivative."""
    near = [abs(x - k) for k in kinks if x != k]
    return min([1e-6 * max(abs(x), 1e-3)] + [d / 2 for d in near])


@dataclass(frozen=True)
class GradientInterpretation:
    """What an API's gradient measurably is: readings whose gradient it matches, or
    where it is NaN, in terms of the input's values."""

    readings: tuple[Reading, ...] = ()
    nan_where: str = ""
    note: str = ""
    raised: bool = False

    def describe(self, case: Case) -> str:
        if self.raised:
            return "raises"
        if self.nan_where:
            return self.nan_where
        if self.readings:
            return " | ".join("gradient of the reading that " + r.describe(case) for r in self.readings[:SHOWN])
        return self.note or UNEXPLAINED


def explain_gradient(case: Case, dtype: DType, grad: np.ndarray | None) -> GradientInterpretation:
    """What the API's gradient measurably is: a reading, or where it is NaN."""
    if grad is None:
        return GradientInterpretation(raised=True)
    nan = _nan_pattern(case, dtype, grad)
    if nan:
        return GradientInterpretation(nan_where=nan)
    if grad.size > GRADIENT_SEARCH_MAX:
        return GradientInterpretation(note=f"{UNEXPLAINED} (more than {GRADIENT_SEARCH_MAX} components: "
                                      "not searched)")
    found = []
    try:
        for reading in case.family.readings(case, dtype):
            check()
            variant = variant_gradient(case, dtype, reading)
            if variant is None or not np.isfinite(variant).all():
                continue
            if matches_value(grad, variant, gradient_tolerance(_searched(case.tolerance_for(dtype)), variant)):
                found.append(reading)
    except TimeLimitExceeded:
        return GradientInterpretation(tuple(found), note="not measured: the time limit ran out during the search")
    return GradientInterpretation(tuple(found))


def _searched(tol: Tolerance) -> Tolerance:
    return Tolerance(rtol=max(tol.rtol, NUMERICAL_DERIVATIVE_ACCURACY),
                     atol=max(tol.atol, NUMERICAL_DERIVATIVE_ACCURACY))


def _nan_pattern(case: Case, dtype: DType, grad: np.ndarray) -> str:
    """Where the gradient is NaN, in terms of the input's values."""
    nan = np.isnan(grad)
    if not nan.any():
        return ""
    x = round_to(case.input.values, dtype)
    if x.shape != grad.shape:
        return ""
    for name, where in (("0", x == 0), ("1", x == 1), ("-inf", np.isneginf(x)), ("+inf", np.isposinf(x))):
        if where.any() and (nan == where).all():
            return f"NaN gradient exactly where the input is {name} (autodiff through log or " \
                   "division there: 0 * inf)"
    return f"NaN gradient at {int(nan.sum())} of {nan.size} components"
