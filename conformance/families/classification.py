"""What the probability-based families share: their readings, helpers and aspects.

Cross-entropy, binary cross-entropy and KL divergence all take logits,
probabilities or log-probabilities, and APIs deviate from them in the same
few ways: they read one kind as another, clip probabilities, clamp a log at
-100, take another class axis, divide a mean by something else, smooth labels
differently, or let ``0 * log 0`` become NaN. :class:`Knobs` is that set of
ways; each family's ``variant`` computes its loss under them in float64.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import logsumexp

from conformance.dtypes import MACHINE_EPS, round_to
from conformance.exact import MP, NAN, ONE, ZERO, divide, exp, log, log_q, mp_array, total
from conformance.families.base import Aspect, Family, Reading, Rule

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.dtypes import DType


@dataclass(frozen=True)
class Knobs(Reading):
    """One way of reading a case; the defaults are the canonical loss."""

    reads: str | None = None          # logits | probs | log_probs | renormalised | clip_renormalised
    clip: float | None = None         # probabilities clipped to [clip, 1 - clip]
    clip_target: bool = False         # (KL) the target clipped too
    log_clamp: float | None = None    # each log clamped from below
    class_axis: int | None = None     # axis read as the classes
    denominator: str | None = None    # mean divided by: elements | batch | weights | count
    smoothing: str | None = None      # eps spread as: others | half | last_axis
    nan_zero_log: bool = False        # 0 * log 0 evaluates to NaN
    empty_mean_zero: bool = False     # the mean of nothing is 0
    row_reduce: bool = False          # reduced over the last axis before anything else
    target_reads: str | None = None   # (KL) target read as probs | log_probs
    target_argmax_axis: int | None = None  # (CE) a one-hot target turned into indices along this axis

    def merge(self, other: Reading) -> Reading | None:
        mine, theirs = self.knobs(), other.knobs()
        if "clip" in mine and "clip" in theirs and self.clip_target != getattr(other, "clip_target", False):
            return None  # as before: a clipped target and a clipped input do not pair
        return super().merge(other)

    @property
    def reads_input_as(self) -> str | None:
        """The kind this reading takes the input for, if it changes it."""
        return self.reads

    def describe(self, case: Case) -> str:
        loss, input_kind = case.loss, case.input.kind
        reading = self
        if self.reads == "renormalised" and input_kind != "probs":
            reading = dataclasses.replace(self, reads="renormalised-other")
        words = [_DESCRIBE[name](value, loss) for name, value in reading.knobs().items()]
        if self.reads == "clip_renormalised":
            words = [w for w in words if not w.startswith("clips probabilities")]
            words[words.index(_DESCRIBE["reads"]("clip_renormalised", loss))] = \
                f"clips probabilities to [{self.clip:.3g}, 1-{self.clip:.3g}], then renormalises them"
        return " and ".join(words)


_DESCRIBE = {
    "reads": lambda v, loss: {
        "logits": ("applies sigmoid to the input (reads it as logits)" if loss == "binary_cross_entropy"
                   else "applies softmax to the input (reads it as logits)"),
        "probs": "reads the input as probabilities",
        "log_probs": "reads the input as log-probabilities",
        "renormalised": "renormalises the probabilities to sum to 1",
        "renormalised-other": "reads the input as probabilities and renormalises them",
        "clip_renormalised": "clips, then renormalises"}[v],
    "clip": lambda v, loss: (f"clips probabilities to [{v:.3g}, 1]" if loss == "kl_divergence"
                             else f"clips probabilities to [{v:.3g}, 1-{v:.3g}]"),
    "clip_target": lambda v, d: "clips the target too",
    "log_clamp": lambda v, d: f"clamps each log at {v:g}",
    "class_axis": lambda v, d: f"takes axis {v} as the class axis",
    "denominator": lambda v, d: {"elements": "averages over every element",
                                 "batch": "averages over the first axis (batch) only",
                                 "weights": "divides the mean by the summed target weights",
                                 "count": "divides the mean by the number of positions"}[v],
    "smoothing": lambda v, d: {"others": "smooths labels as eps/(C-1) on the other classes",
                               "half": "smooths labels as eps/2",
                               "last_axis": "smooths labels over the size of the last axis, "
                                            "not the class axis"}[v],
    "nan_zero_log": lambda v, d: "evaluates 0 * log 0 as NaN",
    "empty_mean_zero": lambda v, d: "returns 0 for the mean of nothing",
    "row_reduce": lambda v, d: "averages over the last axis first",
    "target_reads": lambda v, d: f"reads the target as {v.replace('_', '-')}",
    "target_argmax_axis": lambda v, d: (f"turns the one-hot target into class indices along axis {v} "
                                        "(the argmax over the wrong axis), not the class axis"),
}


class ProbabilityFamily(Family):
    """What the probability families share beyond their definitions: their readings are
    :class:`Knobs`, and a reading's float64 loss is ``variant_of`` with NumPy's warnings
    off (a reading that does not fit the case, e.g. another class axis, is None)."""

    def variant(self, case: Case, dtype: DType, reading: Knobs, inputs: np.ndarray | None = None,
                ) -> np.ndarray | None:
        with np.errstate(all="ignore"):
            try:
                return self.variant_of(case, dtype, reading, inputs)
            except (ValueError, IndexError):
                return None

    def variant_of(self, case: Case, dtype: DType, knobs: Knobs, inputs: np.ndarray | None) -> np.ndarray:
        raise NotImplementedError

    def converted_input(self, case: Case, dtype: DType, kind: str) -> np.ndarray:
        """Probabilities as log-probabilities (``log``, exact; log 0 = -inf)."""
        if (case.input.kind, kind) != ("probs", "log_probs") or "log_probs" not in self.inputs:
            return super().converted_input(case, dtype, kind)
        return _as_floats(np.vectorize(log, otypes=[object])(mp_array(case.input.values, dtype)))

    def kink_points(self, reading: Knobs) -> list[float]:
        return kinks(reading)


def common_readings(case: Case, dtype: DType, kinds: set[str]) -> list[Knobs]:
    """The readings every probability family tries: other input kinds, clips, the
    -100 log clamp, NaN for 0 log 0, other class axes and other mean denominators."""
    singles = [Knobs(reads=k) for k in sorted(kinds - {case.input.kind})]
    singles += [Knobs(clip=e) for e in (1e-7, MACHINE_EPS[dtype], 1e-8)]
    return singles


def tail_readings(case: Case, class_axis: bool) -> list[Knobs]:
    singles: list[Knobs] = []
    if class_axis and case.ndim > 1:
        singles += [Knobs(class_axis=a) for a in (1, case.ndim - 1) if a != case.axis]
    if case.reduction in ("mean", "batchmean"):
        singles += [Knobs(denominator=d) for d in ("elements", "batch", "weights", "count")]
        singles.append(Knobs(empty_mean_zero=True))
    return singles


# -- float64 helpers of the variants ------------------------------------------------
def rounded_input(case: Case, dtype: DType, inputs: np.ndarray | None) -> np.ndarray:
    return round_to(case.input.values, dtype) if inputs is None else inputs


def clip(p: np.ndarray, knobs: Knobs, dtype: DType, upper: bool = True) -> np.ndarray:
    """Clip as the framework does: with bounds rounded to its dtype (1 - 1e-7 is
    1 - 2**-23 in float32)."""
    low = float(round_to(knobs.clip, dtype))
    high = float(round_to(1 - knobs.clip, dtype)) if upper else 1.0
    return np.clip(p, low, high)


def clipped_log(p: np.ndarray, knobs: Knobs, dtype: DType) -> np.ndarray:
    if knobs.clip is not None:
        p = clip(p, knobs, dtype)
    out = np.log(p)
    return np.maximum(out, knobs.log_clamp) if knobs.log_clamp is not None else out


def variant_log_q(x: np.ndarray, kind: str, knobs: Knobs, dtype: DType) -> np.ndarray:
    """Log-probabilities with the classes on the last axis, read as ``kind``."""
    if kind == "logits":
        if knobs.clip is None and knobs.log_clamp is None:
            return x - logsumexp(x, axis=-1, keepdims=True)
        return clipped_log(np.exp(x - logsumexp(x, axis=-1, keepdims=True)), knobs, dtype)
    if kind == "renormalised":
        return clipped_log(x / x.sum(axis=-1, keepdims=True), knobs, dtype)
    if kind == "clip_renormalised":
        clipped = clip(x, knobs, dtype)
        return np.log(clipped / clipped.sum(axis=-1, keepdims=True))
    if kind == "probs":
        return clipped_log(x, knobs, dtype)
    return x


def times(coefficient: np.ndarray, log_value: np.ndarray, knobs: Knobs) -> np.ndarray:
    product = coefficient * log_value
    if knobs.nan_zero_log:
        return product
    # As the oracle: only 0 * log 0 is 0; 0 * NaN stays NaN.
    return np.where((coefficient == 0) & np.isneginf(log_value), 0.0, product)


def variant_mean(losses: np.ndarray, weights: np.ndarray, counted: np.ndarray, denominator: str,
                 knobs: Knobs) -> np.ndarray:
    total_ = {"weights": weights.sum(), "count": counted.sum(), "elements": losses.size,
              "batch": losses.shape[0] if losses.ndim else 1}[denominator]
    if total_ == 0:
        return np.asarray(0.0 if knobs.empty_mean_zero else np.nan)
    return np.asarray(losses.sum() / total_)


def reduce_elements(case: Case, losses: np.ndarray, knobs: Knobs, row: str = "mean") -> np.ndarray:
    """Elementwise losses reduced as the case asks, under the reading's knobs."""
    if knobs.row_reduce:
        losses = losses.mean(axis=-1) if row == "mean" else losses.sum(axis=-1)
    if case.reduction == "none":
        return losses
    if case.reduction == "sum":
        return np.asarray(losses.sum())
    denominator = knobs.denominator or ("batch" if case.reduction == "batchmean" else "elements")
    if denominator in ("weights", "count"):
        denominator = "elements"
    ones = np.ones(losses.shape)
    return variant_mean(losses, ones, ones.astype(bool), denominator, knobs)


def kinks(knobs: Knobs) -> list[float]:
    return [0.0, 1.0] + ([knobs.clip, 1 - knobs.clip] if knobs.clip is not None else [])


# -- exact gradients of sum_c a_c log q_c -----------------------------------------------
GRADIENT_READINGS = {
    "renormalised": "the API renormalises the probabilities (p / sum p), so the gradient gains "
                    "A / sum(p) in every class (-a/p + A/sum p), and is finite at p = 0",
    "softmax": "log-probabilities go into an API that takes logits; its softmax renormalises them, "
               "so the gradient is that of the logits, q * A - a, not -a",
}


def scaled(grad: np.ndarray, denominator: Any) -> tuple[np.ndarray, Any]:
    if denominator == 0 or MP.isnan(denominator):
        return np.full(grad.shape, NAN, dtype=object), NAN
    return grad / denominator, ONE / denominator


def per_class_gradient(x: np.ndarray, a: np.ndarray, kind: str, reading: str | None = None) -> np.ndarray:
    """-d/dx of sum_c a_c log q_c(x) for each position (classes last)."""
    if reading is None or kind == "logits":
        if kind == "log_probs":
            return -a
        if kind == "probs":
            return np.vectorize(minus_ratio, otypes=[object])(a, x)
        return _softmax_gradient(x, a)
    if reading == "softmax" and kind == "log_probs":
        return _softmax_gradient(x, a)
    if kind != "probs" or reading != "renormalised":
        raise ValueError(f"reading {reading!r} does not apply to {kind} input")
    ratio = np.vectorize(divide, otypes=[object])  # a row that sums to 0 gives NaN, not an exception
    return np.vectorize(minus_ratio, otypes=[object])(a, x) + ratio(_row_sums(a), _row_sums(x))


def _row_sums(values: np.ndarray) -> np.ndarray:
    summed = np.empty(values.shape[:-1] + (1,), dtype=object)
    for index in np.ndindex(values.shape[:-1]):
        summed[index] = total(values[index])
    return summed


def _softmax_gradient(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    q = np.vectorize(exp, otypes=[object])(log_q(z, "logits"))
    return q * _row_sums(a) - a


def minus_ratio(a: object, p: object) -> object:
    """-a / p, with 0 where the coefficient is 0 (the term is constant)."""
    if MP.isnan(p) or MP.isnan(a):
        return NAN
    if a == 0:
        return ZERO
    return -a / p if p != 0 else -MP.sign(a) * MP.inf


# -- the probes' aspects, as rules over structured readings ----------------------------
def reads_kind(knobs: Mapping[str, Any], input_kind: str) -> str | None:
    """The kind of input a reading says the API takes (``probabilities`` for a
    renormalising reading of another kind), or None where it keeps the case's."""
    reads = knobs.get("reads")
    if reads == "renormalised" and input_kind != "probs":
        return "probabilities"
    return {"logits": "logits", "log_probs": "log-probabilities", "probs": "probabilities"}.get(reads or "")


def _reading_is(kind: str, label: str) -> Rule:
    return Rule(lambda knobs, input_kind: reads_kind(knobs, input_kind) == kind, label)


def _knob(name: str, test: Callable[[Any], bool], label: str) -> Rule:
    return Rule(lambda knobs, input_kind: name in knobs and test(knobs[name]), label)


def _clip_shown(values: tuple[str, ...]) -> Callable[[Any], bool]:
    return lambda v: v is not None and f"{v:.3g}" in values


INPUT = Aspect("input", "what it reads its input as", "probabilities",
               (_reading_is("logits", "logits"), _reading_is("log-probabilities", "log-probabilities")),
               kind_of=reads_kind, kinds=("logits", "log-probabilities", "probabilities"))
UNNORMALISED = Aspect("unnormalised", "probabilities that do not sum to 1", "kept as given",
                      (_knob("reads", lambda v: v in ("renormalised", "clip_renormalised"), "renormalised"),))
ZERO_PROBABILITY = Aspect(
    "zero_probability", "an exact 0 probability", "infinite loss (no clip)",
    (_knob("clip", _clip_shown(("1e-07",)), "clipped at 1e-7"),
     _knob("clip", _clip_shown(("1.19e-07", "2.22e-16")), "clipped at machine eps"),
     _knob("log_clamp", lambda v: v == -100, "log clamped at -100")))
NEG_INF = Aspect("neg_inf", "a -inf logit under a zero target", "finite (0 log 0 = 0)",
                 (_knob("nan_zero_log", bool, "NaN (0 * -inf)"),
                  _knob("clip", lambda v: v is not None, "finite (clipped)")))
CLASS_AXIS = Aspect("class_axis", "the class axis of an (N, C, L) input", "1",
                    (_knob("class_axis", lambda v: v == 2, "last"),),
                    raised="last (raises on (N, C, L))")
SMOOTHING = Aspect("smoothing", "how label smoothing spreads eps", "eps/C",
                   (_knob("smoothing", lambda v: v == "others", "eps/(C-1)"),
                    _knob("smoothing", lambda v: v == "half", "eps/2"),
                    _knob("smoothing", lambda v: v == "last_axis", "eps/(size of last axis)")))


def _as_floats(values: np.ndarray) -> np.ndarray:
    return np.array([float(v) for v in values.flat], dtype=np.float64).reshape(values.shape)
