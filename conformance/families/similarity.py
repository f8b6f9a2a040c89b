"""What the similarity families share: vectors compared row by row along a feature axis.

Each position of the case holds a vector along the feature axis (the case's
``class_axis``, the last axis by default): the loss of a position compares the
input's vector with the target's (and, for the triplet loss, with a third array
given as an option), and the feature axis is dropped from the per-position
loss, as a class axis is. ``mean`` divides the sum over positions by their
number (the batch size of an (N, D) input).

The canonical definitions have no guard constant: a zero vector has no
direction (its cosine is 0/0, NaN) and the distance between equal points is 0.
APIs guard them differently, and those guards are the readings
(:class:`SimilarityKnobs`) the interpretation search tries: torch's
``cosine_similarity`` clamps each norm at 1e-8, Keras normalises with each norm
clamped at 1e-7, torch's ``cosine_embedding_loss`` adds 1e-12 to each squared
norm, torch's ``pairwise_distance`` adds 1e-6 to every coordinate difference and
optax's ``triplet_margin_loss`` adds 1e-6 under the root and takes no absolute
value of the differences. Keras' cosine similarity "loss" is the negative
cosine: a constant factor -1 (``factor``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from conformance.dtypes import numpy_dtype, round_to
from conformance.exact import MP, NAN, ONE, ZERO, divide, mp_array, total
from conformance.families.base import Aspect, Family, Reading, Rule, reduce_exact

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.dtypes import DType


@dataclass(frozen=True)
class SimilarityKnobs(Reading):
    """One way of reading a similarity case; the defaults are the canonical loss."""

    factor: float | None = None             # the value times a constant (Keras' -1)
    norm_floor: float | None = None         # each norm clamped from below: max(|x|, eps)
    squared_added: float | None = None      # eps added to each squared norm: sqrt(|x|^2 + eps)
    difference_added: float | None = None   # (triplet) eps added to every coordinate difference
    root_added: float | None = None         # (triplet) eps added to the sum of powers under the root
    signed_differences: bool = False        # (triplet) powers of the signed differences: no |.|
    overflows_in: str | None = None         # squares and sums computed in this dtype (overflow to inf)
    feature_axis: int | None = None         # the vectors taken along this axis, not the case's

    def describe(self, case: Case) -> str:
        return " and ".join(_DESCRIBE[name](value) for name, value in self.knobs().items())


def _factor_words(value: float) -> str:
    return "returns the negative (a loss to minimise: -cos)" if value == -1 else f"multiplies the value by {value:g}"


_DESCRIBE = {
    "factor": _factor_words,
    "norm_floor": lambda v: f"clamps each norm at {v:.3g} (max(|x|, {v:.3g}))",
    "squared_added": lambda v: f"adds {v:.3g} to each squared norm",
    "difference_added": lambda v: f"adds {v:.3g} to every coordinate difference before the norm",
    "root_added": lambda v: f"adds {v:.3g} to the sum of powers under the root",
    "signed_differences": lambda v: "raises the signed differences to the power p (no absolute value)",
    "overflows_in": lambda v: f"computes the squared norms in {v}, where they overflow to inf",
    "feature_axis": lambda v: f"takes the vectors along axis {v}",
}


def _knob(name: str, test: Any, label: str) -> Rule:
    return Rule(lambda knobs, input_kind: name in knobs and test(knobs[name]), label)


def _near(value: float) -> Any:
    return lambda v: v is not None and f"{v:.3g}" == f"{value:.3g}"


COSINE_SIGN = Aspect("cosine_sign", "the sign of the cosine it returns", "cos",
                     (_knob("factor", lambda v: v == -1, "-cos"),))
COSINE_GUARD = Aspect("cosine_guard", "what it does to a zero or tiny vector", "none (NaN at 0)",
                      (_knob("norm_floor", _near(1e-8), "each norm clamped at 1e-8"),
                       _knob("norm_floor", _near(1e-7), "each norm clamped at 1e-7"),
                       _knob("squared_added", _near(1e-12), "1e-12 added to each squared norm")))
COSINE_AXIS = Aspect("cosine_axis", "the feature axis of an (N, L, D) input by default", "last",
                     (_knob("feature_axis", lambda v: v == 1, "1"),
                      # Keras' sign alone explains the probe: the cosines are those of the last axis.
                      Rule(lambda knobs, input_kind: set(knobs) == {"factor"}, "last")))
TRIPLET_GUARD = Aspect("triplet_guard", "what eps enters the distance", "none",
                       (_knob("difference_added", _near(1e-6), "1e-6 added to each difference"),
                        _knob("root_added", _near(1e-6), "1e-6 added under the root")))
TRIPLET_ABS = Aspect("triplet_abs", "the p = 1 distance", "sum of |differences|",
                     (_knob("signed_differences", bool, "sum of signed differences (no |.|)"),
                      # Only an eps explains the probe: the distance itself takes |.|.
                      Rule(lambda knobs, input_kind: bool({"difference_added", "root_added"} & set(knobs)),
                           "sum of |differences| (with its eps)")))


# -- exact helpers ----------------------------------------------------------------
def dot(x: np.ndarray, y: np.ndarray) -> Any:
    return total([a * b for a, b in zip(x, y)])


def cosine(x: np.ndarray, y: np.ndarray) -> Any:
    """x . y / (|x| |y|); 0/0 (a zero vector) is NaN."""
    if any(MP.isnan(v) or MP.isinf(v) for v in list(x) + list(y)):
        return NAN
    return divide(dot(x, y), MP.sqrt(dot(x, x) * dot(y, y)))


def cosine_slope(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """d cos(x, y) / dx = y / (|x| |y|) - cos x / |x|^2 (NaN where a vector is zero)."""
    xx, yy = dot(x, x), dot(y, y)
    if xx == 0 or yy == 0 or MP.isnan(xx) or MP.isnan(yy) or MP.isinf(xx) or MP.isinf(yy):
        return np.full(x.shape, NAN, dtype=object)
    norms = MP.sqrt(xx * yy)
    c = dot(x, y) / norms
    return np.array([b / norms - c * a / xx for a, b in zip(x, y)], dtype=object)


# -- float64 helpers of the variants ----------------------------------------------------
def computed(values: np.ndarray, knobs: SimilarityKnobs) -> np.ndarray:
    """``values`` in the dtype the reading computes in (float64, or the knob's dtype)."""
    return values.astype(numpy_dtype(knobs.overflows_in)) if knobs.overflows_in else values


def norms(x: np.ndarray, knobs: SimilarityKnobs) -> np.ndarray:
    """Each row's norm (features last) under the reading's guards, as float64."""
    squared = (computed(x, knobs) ** 2).sum(axis=-1).astype(np.float64)
    if knobs.squared_added is not None:
        squared = squared + knobs.squared_added
    norm = np.sqrt(squared)
    return np.maximum(norm, knobs.norm_floor) if knobs.norm_floor is not None else norm


def cosine_float(x: np.ndarray, y: np.ndarray, knobs: SimilarityKnobs) -> np.ndarray:
    """x/|x| . y/|y| per row (normalised first: an overflowing norm makes the row 0, not NaN)."""
    a, b = norms(x, knobs)[..., None], norms(y, knobs)[..., None]
    return ((x / a) * (y / b)).sum(axis=-1)


class FeatureFamily(Family):
    """A loss of one input vector and one target vector per position (features on the case's axis)."""

    class_axis = True
    random_target = "normal"
    # The guard constants APIs are known to use, tried as readings.
    norm_floors: tuple[float, ...] = (1e-8, 1e-7)
    squared_guards: tuple[float, ...] = (1e-12,)

    def target_shape(self, case: Case) -> tuple[int, ...]:
        return case.input.values.shape

    # -- the canonical definition ---------------------------------------------------
    def row_loss(self, case: Case, dtype: DType, x: np.ndarray, y: np.ndarray, index: tuple[int, ...]) -> Any:
        """The canonical loss of one position (mpf vectors, features last)."""
        raise NotImplementedError

    def rows(self, case: Case, dtype: DType, values: np.ndarray) -> np.ndarray:
        """An array of the case's shape with the feature axis last."""
        return np.moveaxis(values, case.axis, -1)

    def loss(self, case: Case, dtype: DType, x: np.ndarray) -> Any:
        xs, ys = self.rows(case, dtype, x), self.rows(case, dtype, mp_array(case.target.values, dtype))
        out = np.empty(xs.shape[:-1], dtype=object)
        for index in np.ndindex(out.shape):
            out[index] = self.row_loss(case, dtype, xs[index], ys[index], index)
        return reduce_exact(out, case.reduction)

    def scaled_rows(self, case: Case, grad: np.ndarray) -> tuple[np.ndarray, Any]:
        """A per-row gradient (features last) back on the case's axes, over the mean's divisor."""
        denominator = ONE if case.reduction in ("none", "sum") else MP.mpf(int(np.prod(grad.shape[:-1])))
        return np.moveaxis(grad / denominator, -1, case.axis), ONE / denominator

    # -- interpretation --------------------------------------------------------------
    def readings(self, case: Case, dtype: DType) -> list[SimilarityKnobs]:
        singles = [SimilarityKnobs(norm_floor=e) for e in self.norm_floors]
        singles += [SimilarityKnobs(squared_added=e) for e in self.squared_guards]
        if dtype != "float64":
            singles.append(SimilarityKnobs(overflows_in=dtype))
        if case.ndim > 2:  # torch's cosine_similarity takes dim=1 by default, the others the last axis
            singles += [SimilarityKnobs(feature_axis=a) for a in (1, case.ndim - 1) if a != case.axis]
        return singles + self.own_readings(case, dtype)

    def own_readings(self, case: Case, dtype: DType) -> list[SimilarityKnobs]:
        return []

    def rows_float(self, case: Case, dtype: DType, x: np.ndarray, y: np.ndarray,
                   knobs: SimilarityKnobs) -> np.ndarray | None:
        """Each position's loss in float64 under ``knobs`` (vectors features last)."""
        raise NotImplementedError

    def variant(self, case: Case, dtype: DType, reading: Reading, inputs: np.ndarray | None = None,
                ) -> np.ndarray | None:
        if not isinstance(reading, SimilarityKnobs):
            if reading.knobs():
                return None  # another family's reading
            reading = SimilarityKnobs()
        with np.errstate(all="ignore"):
            x = round_to(case.input.values, dtype) if inputs is None else inputs
            y = round_to(case.target.values, dtype)
            axis = case.axis if reading.feature_axis is None else reading.feature_axis
            losses = self.rows_float(case, dtype, np.moveaxis(x, axis, -1), np.moveaxis(y, axis, -1), reading)
            if losses is None:
                return None
            if reading.factor is not None:
                losses = losses * reading.factor
            if case.reduction == "none":
                return losses
            if case.reduction == "sum":
                return np.asarray(losses.sum())
            return np.asarray(losses.sum() / losses.size)

    def kink_points(self, reading: Reading) -> list[float]:
        return [0.0]


def hinge(value: Any) -> Any:
    """max(0, value), NaN kept."""
    if MP.isnan(value):
        return NAN
    return value if value > 0 else ZERO


def hinge_slope(value: Any) -> Any:
    """d max(0, v) / dv: 1 above 0, 0 below, 1/2 at the kink (the mean of the two sides)."""
    if MP.isnan(value):
        return NAN
    return ONE if value > 0 else (ONE / 2 if value == 0 else ZERO)
