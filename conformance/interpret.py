"""Interpretation search: which reading of a case reproduces an API's value?

A framework that deviates from the canonical loss nearly always does so in a
known way: it reads probabilities as logits, clips them, clamps a log at -100,
takes the wrong class axis, divides a mean by something else, smooths labels
differently, or lets ``0 * log 0`` become NaN. Each such way is a *knob* of a
variant loss computed here in float64 NumPy on the dtype-rounded inputs. For a
row that did not pass, :func:`search` tries every single knob, then every
pair, and names the ones that reproduce the API's value within the row's
tolerance - or says ``unexplained``.

This is an explanation model, not the oracle: the oracle (mpmath) decides
pass/fail; these variants only explain a deviation already measured.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, fields, replace
from collections.abc import Iterator

import numpy as np
from scipy.special import log_expit, logsumexp

from conformance.case import Case, Tolerance
from conformance.compare import gradient_tolerance, matches_value
from conformance.deadline import check
from conformance.dtypes import MACHINE_EPS, DType, round_to

UNEXPLAINED = "unexplained"


@dataclass(frozen=True)
class Knobs:
    """One way of reading a case; ``None`` everywhere is the canonical loss."""

    reads: str | None = None          # logits | probs | log_probs | renormalised
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

    def describe(self, loss: str, input_kind: str = "probs") -> str:
        reading = self
        if self.reads == "renormalised" and input_kind != "probs":
            reading = replace(self, reads="renormalised-other")
        words = [_DESCRIBE[f.name](getattr(reading, f.name), loss) for f in fields(reading)
                 if getattr(reading, f.name) not in (None, False)]
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
}




def candidates(case: Case, dtype: DType) -> list[Knobs]:
    """Single-knob readings that make sense for ``case``."""
    singles: list[Knobs] = []
    kinds = {"logits", "probs", "log_probs"} - {case.input.kind}
    if case.loss == "cross_entropy":
        kinds.add("renormalised")
    singles += [Knobs(reads=k) for k in sorted(kinds) if case.loss != "binary_cross_entropy"
                or k in ("logits", "probs")]
    singles += [Knobs(clip=e) for e in (1e-7, MACHINE_EPS[dtype], 1e-8)]
    if case.loss == "cross_entropy":
        singles.append(Knobs(reads="clip_renormalised", clip=1e-7))
    singles += [Knobs(log_clamp=-100.0), Knobs(nan_zero_log=True)]
    if case.loss == "kl_divergence":
        singles += [Knobs(clip=1e-7, clip_target=True), Knobs(row_reduce=True)]
        singles += [Knobs(target_reads=k) for k in ("probs", "log_probs") if k != case.target.kind]
    if case.loss == "binary_cross_entropy":
        singles.append(Knobs(row_reduce=True))
    if case.loss != "binary_cross_entropy" and case.ndim > 1:
        singles += [Knobs(class_axis=a) for a in (1, case.ndim - 1) if a != case.axis]
    if case.reduction in ("mean", "batchmean"):
        singles += [Knobs(denominator=d) for d in ("elements", "batch", "weights", "count")]
        singles.append(Knobs(empty_mean_zero=True))
    if case.label_smoothing:
        singles += [Knobs(smoothing=s) for s in ("others", "half", "last_axis")]
    return singles


def pairs(singles: list[Knobs]) -> Iterator[Knobs]:
    for a, b in itertools.combinations(singles, 2):
        merged = _merge(a, b)
        if merged is not None:
            yield merged


def _merge(a: Knobs, b: Knobs) -> Knobs | None:
    changes = {}
    for f in fields(Knobs):
        va, vb = getattr(a, f.name), getattr(b, f.name)
        if va not in (None, False) and vb not in (None, False):
            if f.name == "clip" and a.clip_target != b.clip_target:
                continue
            return None
        changes[f.name] = va if va not in (None, False) else vb
    return replace(Knobs(), **changes)


def search(case: Case, dtype: DType, value: np.ndarray, tol: Tolerance) -> list[str]:
    """Descriptions of the simplest readings that reproduce ``value``, else ``[UNEXPLAINED]``."""
    singles = candidates(case, dtype)
    for level in (singles, list(pairs(singles))):
        found = []
        for knobs in level:
            check()
            variant = variant_loss(case, dtype, knobs)
            if variant is not None and matches_value(value, variant, tol):
                found.append(knobs.describe(case.loss, case.input.kind))
        if found:
            return found
    return [UNEXPLAINED]


# -- the variant loss ---------------------------------------------------------
def variant_loss(case: Case, dtype: DType, knobs: Knobs, inputs: np.ndarray | None = None,
                 ) -> np.ndarray | None:
    """The loss of ``case`` read as ``knobs`` say, or None if that reading is impossible.

    ``inputs`` replaces the case's input (already in float64), for differentiation.
    """
    with np.errstate(all="ignore"):
        try:
            return _VARIANTS[case.loss](case, dtype, knobs, inputs)
        except (ValueError, IndexError):
            return None


def _input(case: Case, dtype: DType, inputs: np.ndarray | None) -> np.ndarray:
    return round_to(case.input.values, dtype) if inputs is None else inputs


def _clip(p: np.ndarray, knobs: Knobs, dtype: DType, upper: bool = True) -> np.ndarray:
    """Clip as the framework does: with bounds rounded to its dtype (1 - 1e-7 is
    1 - 2**-23 in float32)."""
    low = float(round_to(knobs.clip, dtype))
    high = float(round_to(1 - knobs.clip, dtype)) if upper else 1.0
    return np.clip(p, low, high)


def _log(p: np.ndarray, knobs: Knobs, dtype: DType) -> np.ndarray:
    if knobs.clip is not None:
        p = _clip(p, knobs, dtype)
    out = np.log(p)
    return np.maximum(out, knobs.log_clamp) if knobs.log_clamp is not None else out


def _log_q(x: np.ndarray, kind: str, knobs: Knobs, dtype: DType) -> np.ndarray:
    """Log-probabilities with the classes on the last axis."""
    if kind == "logits":
        if knobs.clip is None and knobs.log_clamp is None:
            return x - logsumexp(x, axis=-1, keepdims=True)
        return _log(np.exp(x - logsumexp(x, axis=-1, keepdims=True)), knobs, dtype)
    if kind == "renormalised":
        return _log(x / x.sum(axis=-1, keepdims=True), knobs, dtype)
    if kind == "clip_renormalised":
        clipped = _clip(x, knobs, dtype)
        return np.log(clipped / clipped.sum(axis=-1, keepdims=True))
    if kind == "probs":
        return _log(x, knobs, dtype)
    return x


def _times(coefficient: np.ndarray, log_value: np.ndarray, knobs: Knobs) -> np.ndarray:
    product = coefficient * log_value
    if knobs.nan_zero_log:
        return product
    # As the oracle: only 0 * log 0 is 0; 0 * NaN stays NaN.
    return np.where((coefficient == 0) & np.isneginf(log_value), 0.0, product)


def _cross_entropy(case: Case, dtype: DType, knobs: Knobs, inputs: np.ndarray | None = None,
                   ) -> np.ndarray:
    axis = knobs.class_axis if knobs.class_axis is not None else case.axis
    x = np.moveaxis(_input(case, dtype, inputs), axis, -1)
    logq = _log_q(x, knobs.reads or case.input.kind, knobs, dtype)
    classes = logq.shape[-1]
    weight = round_to(case.weight, dtype) if case.weight is not None else np.ones(classes)
    if case.target.kind == "index" and knobs.class_axis is not None:
        # The one-hot target sits on the case's class axis; the API reads another.
        one_hot = np.eye(case.num_classes)[np.where(case.target.index < 0, 0, case.target.index)]
        target = np.moveaxis(np.moveaxis(one_hot, -1, case.axis), axis, -1)
        counted = np.ones(target.shape[:-1], bool)
        if target.shape[-1] != classes:
            raise ValueError("one-hot target does not fit this class axis")
    elif case.target.kind == "index":
        labels = case.target.index
        counted = labels != case.ignore_index if case.ignore_index is not None else np.ones(labels.shape, bool)
        if labels.shape != logq.shape[:-1]:
            raise ValueError("target does not fit this class axis")
        target = np.zeros(labels.shape + (classes,))
        target[counted, labels[counted]] = 1.0
    else:
        target = np.moveaxis(round_to(case.target.probs, dtype), axis, -1)
        counted = np.ones(target.shape[:-1], bool)
    target = _smooth(case, target, knobs, classes)
    losses = np.where(counted, -_times(weight * target, logq, knobs).sum(axis=-1), 0.0)
    if case.reduction != "mean":
        return losses if case.reduction == "none" else np.asarray(losses.sum())
    if case.target.kind == "index" and knobs.class_axis is None:
        safe = np.where(counted, case.target.index, 0)
        weights = np.where(counted, weight[safe], 0.0)
    else:
        weights = np.ones(losses.shape)
    default = "weights" if case.target.kind == "index" else "count"
    return _mean(losses, weights, counted, knobs.denominator or default, knobs)


def _smooth(case: Case, target: np.ndarray, knobs: Knobs, classes: int) -> np.ndarray:
    eps = case.label_smoothing
    if not eps:
        return target
    if knobs.smoothing == "others":
        return target * (1 - eps) + (1 - target) * eps / (classes - 1)
    spread = {"half": 2, "last_axis": case.input.values.shape[-1]}.get(knobs.smoothing, classes)
    return target * (1 - eps) + eps / spread


def _mean(losses: np.ndarray, weights: np.ndarray, counted: np.ndarray, denominator: str,
          knobs: Knobs) -> np.ndarray:
    total = {"weights": weights.sum(), "count": counted.sum(), "elements": losses.size,
             "batch": losses.shape[0] if losses.ndim else 1}[denominator]
    if total == 0:
        return np.asarray(0.0 if knobs.empty_mean_zero else np.nan)
    return np.asarray(losses.sum() / total)


def _binary_cross_entropy(case: Case, dtype: DType, knobs: Knobs, inputs: np.ndarray | None = None,
                          ) -> np.ndarray:
    x = _input(case, dtype, inputs)
    y = round_to(case.target.probs, dtype)
    pos = round_to(case.pos_weight, dtype) if case.pos_weight is not None else 1.0
    kind = knobs.reads or case.input.kind
    if kind == "logits" and knobs.clip is None and knobs.log_clamp is None:
        log_p, log_not_p = log_expit(x), log_expit(-x)
    else:
        p = 1 / (1 + np.exp(-x)) if kind == "logits" else x
        log_p, log_not_p = _log(p, knobs, dtype), _log(1 - p, knobs, dtype)
    losses = -(_times(pos * y, log_p, knobs) + _times(1 - y, log_not_p, knobs))
    return _reduce_elements(case, losses, knobs)


def _reduce_elements(case: Case, losses: np.ndarray, knobs: Knobs) -> np.ndarray:
    if knobs.row_reduce:
        losses = losses.mean(axis=-1) if case.loss == "binary_cross_entropy" else losses.sum(axis=-1)
    if case.reduction == "none":
        return losses
    if case.reduction == "sum":
        return np.asarray(losses.sum())
    denominator = knobs.denominator or ("batch" if case.reduction == "batchmean" else "elements")
    if denominator in ("weights", "count"):
        denominator = "elements"
    ones = np.ones(losses.shape)
    return _mean(losses, ones, ones.astype(bool), denominator, knobs)


def _kl_divergence(case: Case, dtype: DType, knobs: Knobs, inputs: np.ndarray | None = None,
                   ) -> np.ndarray:
    axis = knobs.class_axis if knobs.class_axis is not None else case.axis
    x = np.moveaxis(_input(case, dtype, inputs), axis, -1)
    kind = knobs.reads or case.input.kind
    if knobs.clip is not None and kind != "log_probs":
        probs = np.exp(x - logsumexp(x, axis=-1, keepdims=True)) if kind == "logits" else x
        logq = np.log(_clip(probs, knobs, dtype, upper=False))
    else:
        logq = _log_q(x, kind, replace(knobs, clip=None), dtype)
    raw = np.moveaxis(round_to(case.target.values, dtype), axis, -1)
    target_kind = knobs.target_reads or case.target.kind
    t = np.exp(raw) if target_kind == "log_probs" else raw
    if knobs.clip_target:
        t = _clip(t, knobs, dtype, upper=False)
    log_t = np.log(t)
    terms = t * (log_t - logq)
    if not knobs.nan_zero_log:
        terms = np.where((t == 0) & ~np.isnan(logq), 0.0, terms)
    return _reduce_elements(case, np.moveaxis(terms, -1, axis) if not knobs.row_reduce else terms, knobs)


_VARIANTS = {
    "cross_entropy": _cross_entropy,
    "binary_cross_entropy": _binary_cross_entropy,
    "kl_divergence": _kl_divergence,
}


# -- gradients --------------------------------------------------------------------
# Readings are differentiated numerically (central differences in float64), so a
# clipped probability shows the zero gradient a framework's clip gives it.
GRADIENT_SEARCH_MAX = 256


def variant_gradient(case: Case, dtype: DType, knobs: Knobs) -> np.ndarray | None:
    """d(sum of the variant loss)/d(input), numerically; None if the reading is impossible."""
    x = round_to(case.input.values, dtype)
    grad = np.full(x.shape, np.nan)
    for index in np.ndindex(x.shape):
        check()
        if not np.isfinite(x[index]):
            continue
        h = _step(float(x[index]), knobs)
        up, down = x.copy(), x.copy()
        up[index] += h
        down[index] -= h
        high, low = variant_loss(case, dtype, knobs, up), variant_loss(case, dtype, knobs, down)
        if high is None or low is None:
            return None
        grad[index] = (high.sum() - low.sum()) / (up[index] - down[index])
    return grad


def _step(x: float, knobs: Knobs) -> float:
    """A central-difference step that stays on one side of every kink near ``x``
    (0, 1 and the clip bounds), so a clipped value keeps its zero derivative."""
    kinks = [0.0, 1.0] + ([knobs.clip, 1 - knobs.clip] if knobs.clip is not None else [])
    near = [abs(x - k) for k in kinks if x != k]
    return min([1e-6 * max(abs(x), 1e-3)] + [d / 2 for d in near])


def explain_gradient(case: Case, dtype: DType, grad: np.ndarray | None) -> str:
    """What the API's gradient measurably is: a knob reading, or where it is NaN."""
    if grad is None:
        return "raises"
    nan = _nan_pattern(case, dtype, grad)
    if nan:
        return nan
    if grad.size > GRADIENT_SEARCH_MAX:
        return f"{UNEXPLAINED} (more than {GRADIENT_SEARCH_MAX} components: not searched)"
    found = []
    for knobs in candidates(case, dtype):
        check()
        variant = variant_gradient(case, dtype, knobs)
        if variant is None or not np.isfinite(variant).all():
            continue
        if matches_value(grad, variant, gradient_tolerance(case.tolerance_for(dtype), variant)):
            found.append("gradient of the reading that " + knobs.describe(case.loss, case.input.kind))
    return " | ".join(found[:3]) if found else UNEXPLAINED


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
