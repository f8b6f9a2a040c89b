"""What the regression and likelihood families share.

Each of these losses is elementwise: one loss per element of a prediction and a
target of the same shape, optionally times an element weight, then reduced.
``mean`` divides the (weighted) sum by the summed weights, or by the number of
elements without weights; ``sum`` adds; ``none`` returns the weighted
elements. A family module gives only its element, exact (:meth:`element`) and
in float64 under a reading (:meth:`element_float`).

APIs deviate from these definitions in a few ways the interpretation search
tries (:class:`Knobs`): a constant factor (optax's ``l2_loss`` halves, torch's
``huber_loss`` is δ times ``smooth_l1_loss``, a percentage as a fraction), a
guard constant (Keras clamps at 1e-7 before a log or a division, torch adds
1e-8 inside the Poisson log and clamps the Gaussian variance at 1e-6), a mean
over the last axis first (every Keras loss function returns per-sample means),
a weighted mean divided by the element count, and prediction and target
exchanged (Keras takes ``(y_true, y_pred)``, torch ``(input, target)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from conformance.arrays import FloatArray
from conformance.case_rules import CaseRuleError
from conformance.dtypes import MACHINE_EPS, round_to
from conformance.exact import MP, NAN, ONE, central_slope, divide, mp_array, smallest_magnitude, total
from conformance.families.base import Aspect, Family, Options, Reading, Rule
from conformance.vocabulary import Reduction

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.dtypes import DType


class WeightedOptions(Options):
    """Element weights, of the input's shape: ``mean`` is then Σ w l / Σ w."""

    weight: FloatArray | None = None


@dataclass(frozen=True)
class Knobs(Reading):
    """One way of reading a regression case; the defaults are the canonical loss."""

    factor: float | None = None       # the loss times a constant
    eps: float | None = None          # the family's guard constant (where it goes is the family's)
    eps_added: float | None = None    # (Gaussian) eps added to the variance instead of a clamp
    denominator: str | None = None    # "elements": a weighted mean divided by the element count
    row_reduce: bool = False          # averaged over the last axis first (a per-sample mean)
    swapped: bool = False             # prediction and target exchanged
    reads: str | None = None          # (Poisson) the input read as rates | log_rates
    stirling: str | None = None       # (Poisson) log Γ(y+1) as: le_1 | zero_to_1 | omitted
    constant: bool | None = None      # (Gaussian) ½ log 2π added (True) or left out (False)
    direct: bool = False              # (log-cosh) log(cosh r) computed directly (overflows)
    nan_zero_log: bool = False        # (Poisson) 0 * log 0 evaluates to NaN
    element_in: str | None = None     # each element's loss computed in this (half) dtype: overflows
    labels: str | None = None         # (margin) labels read as: signs (as given) | binary ({0, 1} -> -1, +1)

    def describe(self, case: Case) -> str:
        family = case.family
        words = []
        for name, value in self.knobs().items():
            if name == "eps":
                words.append(family.eps_words(value))
            else:
                words.append(_DESCRIBE[name](value))
        return " and ".join(words)


def _factor_words(value: float) -> str:
    known = {0.5: "halves the loss (1/2 in front)", 2.0: "doubles the loss", 0.01: "returns a fraction, not a percentage",
             100.0: "returns a percentage, not a fraction"}
    return known.get(value, f"multiplies the loss by {value:g}")


_DESCRIBE = {
    "factor": _factor_words,
    "eps_added": lambda v: f"adds {v:g} to the variance (instead of nothing)",
    "denominator": lambda v: "divides the weighted mean by the number of elements, not the summed weights",
    "row_reduce": lambda v: "averages over the last axis first (one mean per sample)",
    "swapped": lambda v: "reads the prediction as the target and the target as the prediction",
    "reads": lambda v: {"rates": "reads the input as rates", "log_rates": "reads the input as log-rates"}[v],
    "stirling": lambda v: {"le_1": "uses Stirling's approximation y log y - y + 1/2 log(2 pi y) for log(y!), "
                                   "set to 0 where y <= 1",
                           "zero_to_1": "uses Stirling's approximation y log y - y + 1/2 log(2 pi y) for log(y!), "
                                        "set to 0 only where 0 <= y <= 1",
                           "omitted": "leaves out the log(y!) term"}[v],
    "constant": lambda v: "adds 1/2 log(2 pi)" if v else "leaves out 1/2 log(2 pi)",
    "direct": lambda v: "computes log(cosh r) directly, which overflows to inf for large |r|",
    "nan_zero_log": lambda v: "evaluates 0 * log 0 as NaN (a zero count at a zero rate)",
    "labels": lambda v: {"signs": "takes the {0, 1} labels as they are (a 0 label is no class: y s = 0)",
                         "binary": "converts labels in {0, 1} to -1 and +1"}[v],
    "element_in": lambda v: f"computes each element's loss in {v}, where values beyond its range overflow to inf",
}


class ElementwiseFamily(Family):
    """A loss of one prediction and one target per element, weighted and reduced."""

    options = WeightedOptions
    # Whether exchanging prediction and target changes the loss (a reading worth trying).
    asymmetric: bool = False
    # The guard constants APIs are known to use, tried as readings (``eps``).
    guards: tuple[float, ...] = ()
    # Whether the loss has kinks (|r|, a hinge): its numerical slope then steps below the
    # smallest argument, which costs many steps at extreme inputs; a smooth loss needs none.
    kinks: bool = True
    gradient_readings = {
        "left_slope_at_tie": "at a tie (x = y) the slope is the one from the left, e.g. -1 for |x - y|, not 0: "
                             "JAX differentiates abs(t) as select(t >= 0, 1, -1), and Keras computes "
                             "abs(y_true - y_pred)",
    }

    # -- the element, exact and in float64 ------------------------------------------
    def element(self, case: Case, x: Any, y: Any) -> Any:
        """The canonical loss of one element (mpf prediction ``x``, target ``y``)."""
        raise NotImplementedError

    def element_float(self, case: Case, dtype: DType, x: np.ndarray, y: np.ndarray, knobs: Knobs) -> np.ndarray:
        """The elements' losses in float64 under ``knobs`` (the family's own knobs only)."""
        raise NotImplementedError

    def eps_words(self, eps: float) -> str:
        return f"guards with eps = {eps:.3g}"

    # -- the schema -------------------------------------------------------------------
    def check(self, case: Case) -> None:
        check_same_shape(case, "target", case.target.values)
        weight = case.option("weight")
        if weight is not None:
            check_same_shape(case, "weight", weight)

    # -- the canonical definition -----------------------------------------------------
    def loss(self, case: Case, dtype: DType, x: np.ndarray) -> Any:
        return self.reduce(case, dtype, self.elements(case, dtype, x))

    def elements(self, case: Case, dtype: DType, x: np.ndarray) -> np.ndarray:
        y = mp_array(case.target.values, dtype)
        out = np.empty(x.shape, dtype=object)
        for index in np.ndindex(x.shape):
            out[index] = self.element(case, x[index], y[index])
        return out

    def weights(self, case: Case, dtype: DType) -> np.ndarray | None:
        weight = case.option("weight")
        return None if weight is None else mp_array(weight, dtype)

    def reduce(self, case: Case, dtype: DType, losses: np.ndarray) -> Any:
        weights = self.weights(case, dtype)
        if weights is not None:
            losses = losses * weights
        if case.reduction == Reduction.NONE:
            return losses
        if case.reduction == Reduction.SUM:
            return total(losses)
        return divide(total(losses), self.divisor(case, dtype))

    def divisor(self, case: Case, dtype: DType) -> Any:
        if case.reduction in (Reduction.NONE, Reduction.SUM):
            return ONE
        weights = self.weights(case, dtype)
        return total(weights) if weights is not None else MP.mpf(case.input.values.size)

    def gradient(self, case: Case, dtype: DType, reading: str | None = None) -> tuple[np.ndarray, Any]:
        """Each element's derivative by central differences of the element alone (50
        digits; 0 at a kink such as |r| at r = 0, the mean of its one-sided slopes),
        times its weight, over the reduction's divisor."""
        if reading is not None and reading not in self.gradient_readings:
            raise ValueError(f"{self.name} has no gradient reading {reading!r}; known: "
                             f"{', '.join(self.gradient_readings)}")
        x = mp_array(case.input.values, dtype)
        y = mp_array(case.target.values, dtype)
        grad = np.empty(x.shape, dtype=object)
        for index in np.ndindex(x.shape):
            grad[index] = self._slope(case, x[index], y[index], reading)
        weights = self.weights(case, dtype)
        if weights is not None:
            grad = grad * weights
        divisor = self.divisor(case, dtype)
        if divisor == 0 or MP.isnan(divisor):
            return np.full(x.shape, NAN, dtype=object), NAN
        return grad / divisor, ONE / divisor

    def _slope(self, case: Case, x: Any, y: Any, reading: str | None = None) -> Any:
        if not (MP.isfinite(x) and MP.isfinite(y)):
            return NAN
        if reading == "left_slope_at_tie" and x == y:
            step = MP.mpf("1e-20") * max(abs(x), ONE)
            here, low = self.element(case, x, y), self.element(case, x - step, y)
            return (here - low) / step if MP.isfinite(here) and MP.isfinite(low) else NAN
        scale = max(abs(x), abs(y), ONE)
        # A kink (|r| at 0, a hinge at its margin) may be as close as the smallest argument.
        smallest = smallest_magnitude(x, y, x - y) if self.kinks else scale
        return central_slope(lambda v: self.element(case, v, y), x, scale, smallest)

    # -- interpretation -----------------------------------------------------------------
    def readings(self, case: Case, dtype: DType) -> list[Knobs]:
        singles = [Knobs(factor=f) for f in self.factors(case)]
        if self.guards:  # and machine epsilons: of the case's dtype, and float64's (scikit-learn's)
            singles += [Knobs(eps=e) for e in dict.fromkeys(self.guards + (MACHINE_EPS[dtype], 2.0 ** -52))]
        if self.asymmetric:
            singles.append(Knobs(swapped=True))
        if case.reduction != Reduction.MEAN or case.option("weight") is not None:
            # Keras' functions average over the last axis: a 1-D input is one sample.
            singles.append(Knobs(row_reduce=True))
        if case.option("weight") is not None and case.reduction == Reduction.MEAN:
            singles.append(Knobs(denominator="elements"))
        if dtype in ("float16", "bfloat16"):
            singles.append(Knobs(element_in=dtype))
        return singles + self.own_readings(case, dtype)

    def factors(self, case: Case) -> tuple[float, ...]:
        return (0.5, 2.0)

    def own_readings(self, case: Case, dtype: DType) -> list[Knobs]:
        return []

    def variant(self, case: Case, dtype: DType, reading: Knobs, inputs: np.ndarray | None = None,
                ) -> np.ndarray | None:
        if not isinstance(reading, Knobs):
            if reading.knobs():
                return None  # another family's reading
            reading = Knobs()
        with np.errstate(all="ignore"):
            x = round_to(case.input.values, dtype) if inputs is None else inputs
            y = round_to(case.target.values, dtype)
            if reading.swapped:
                x, y = y, x
            losses = self.element_float(case, dtype, x, y, reading)
            if losses is None:
                return None
            if reading.factor is not None:
                losses = losses * reading.factor
            if reading.element_in is not None:
                losses = round_to(losses, reading.element_in)
            return self._reduce_float(case, dtype, losses, reading)

    def _reduce_float(self, case: Case, dtype: DType, losses: np.ndarray, knobs: Knobs) -> np.ndarray | None:
        weight = case.option("weight")
        weights = round_to(weight, dtype) if weight is not None else None
        if knobs.row_reduce:
            if weights is not None or losses.ndim < 1:
                return None
            losses = losses.mean(axis=-1)
        if weights is not None:
            losses = losses * weights
        if case.reduction == Reduction.NONE:
            return losses
        if case.reduction == Reduction.SUM:
            return np.asarray(losses.sum())
        if weights is not None and knobs.denominator != "elements":
            return np.asarray(losses.sum() / weights.sum())
        return np.asarray(losses.sum() / losses.size) if losses.size else np.asarray(np.nan)

    def kink_points(self, reading: Reading) -> list[float]:
        return [0.0]


def check_same_shape(case: Case, field: str, values: np.ndarray) -> None:
    if values.shape != case.input.values.shape:
        raise CaseRuleError(field, f"{case.loss} takes `{field}` of the input's shape "
                                   f"{list(case.input.values.shape)}, got {list(values.shape)}")


# -- the probes' aspects, as rules over structured readings ------------------------------
def _knob(name: str, test: Any, label: str) -> Rule:
    return Rule(lambda knobs, input_kind: name in knobs and test(knobs[name]), label)


def factor_aspect(name: str, question: str, canonical: str, labels: Mapping[float, str]) -> Aspect:
    """The constant in front of the loss. Aspect names are global (the semantic table's
    columns): each family names its own."""
    return Aspect(name, question, canonical,
                  tuple(_knob("factor", lambda v, f=f: v == f, label) for f, label in labels.items()))


# An API whose loss is a multiple of the canonical one (optax's l2_loss) answers the
# reduction's questions only up to that factor.
_SCALED = Rule(lambda knobs, input_kind: set(knobs) == {"factor"}, "n/a: scales the loss")
WEIGHTED_MEAN = Aspect("weighted_mean", "what a weighted mean divides by", "the summed weights",
                       (_knob("denominator", lambda v: v == "elements", "the element count"), _SCALED))
SUM = Aspect("sum", "what `sum` adds up", "every element",
             (_knob("row_reduce", bool, "per-sample means (last axis)"), _SCALED))


def eps_aspect(name: str, question: str, labels: Mapping[float, str]) -> Aspect:
    return Aspect(name, question, "none",
                  tuple(_knob("eps", lambda v, e=e: v is not None and f"{v:.3g}" == f"{e:.3g}", label)
                        for e, label in labels.items()))
