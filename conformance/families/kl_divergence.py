r"""Kullback-Leibler divergence KL(target || input): :math:`t (\log t - \log q)` per element, in nats.

``q`` is the input read as its kind (softmax over the class axis for logits),
``t`` the target as probabilities (``exp`` of log-probabilities). ``none``
returns the pointwise terms (the input's shape); ``sum`` adds them, ``mean``
divides the sum by the number of elements and ``batchmean`` by the size of the
first axis. A zero target term is 0 even where ``q`` is 0.

Gradient (analytic, checked against numerical differentiation):
log-probabilities :math:`-t`; probabilities :math:`-t/q`; logits
:math:`q_j \sum_c t_c - t_j`; scaled by the reduction.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import logsumexp

from conformance.dtypes import round_to
from conformance.exact import NAN, ZERO, exp, is_nan, log, log_q, mp_array
from conformance.families import classification as shared
from conformance.families.base import reduce_exact, reduction_denominator
from conformance.families.classification import Knobs
from conformance.vocabulary import Elements, Reduction

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.dtypes import DType


class KLDivergence(shared.ProbabilityFamily):
    name = "kl_divergence"
    definition = "t (log t - log q) per element; batchmean divides the sum by the first axis"
    inputs = ("logits", "probs", "log_probs")
    targets = {"probs": Elements.FLOAT, "log_probs": Elements.FLOAT}
    reductions = frozenset({Reduction.MEAN, Reduction.SUM, Reduction.NONE, Reduction.BATCHMEAN})
    random_target = "dirichlet"
    aspects = (shared.INPUT, shared.ZERO_PROBABILITY, shared.NEG_INF)
    gradient_readings = shared.GRADIENT_READINGS

    def output_shape(self, case: Case) -> tuple[int, ...]:
        return case.input.values.shape   # pointwise: the class axis stays

    def loss(self, case: Case, dtype: DType, x: np.ndarray) -> Any:
        logq = np.moveaxis(log_q(np.moveaxis(x, case.axis, -1), case.input.kind), -1, case.axis)
        raw = mp_array(case.target.values, dtype)
        if case.target.kind == "log_probs":
            log_t, t = raw, np.vectorize(exp, otypes=[object])(raw)
        else:
            log_t, t = np.vectorize(log, otypes=[object])(raw), raw
        terms = np.empty(raw.shape, dtype=object)
        for index in np.ndindex(raw.shape):
            terms[index] = _term(t[index], log_t[index], logq[index])
        return reduce_exact(terms, case.reduction)

    def gradient(self, case: Case, dtype: DType, reading: str | None = None) -> tuple[np.ndarray, Any]:
        if reading is not None and reading not in self.gradient_readings:
            raise ValueError(f"unknown gradient reading {reading!r}; known: {', '.join(self.gradient_readings)}")
        x = np.moveaxis(mp_array(case.input.values, dtype), case.axis, -1)
        raw = np.moveaxis(mp_array(case.target.values, dtype), case.axis, -1)
        t = np.vectorize(exp, otypes=[object])(raw) if case.target.kind == "log_probs" else raw
        grad, scale = shared.scaled(shared.per_class_gradient(x, t, case.input.kind, reading),
                                    reduction_denominator(case.reduction, raw.shape))
        return np.moveaxis(grad, -1, case.axis), scale

    def readings(self, case: Case, dtype: DType) -> list[Knobs]:
        singles = shared.common_readings(case, dtype, {"logits", "probs", "log_probs"})
        singles += [Knobs(log_clamp=-100.0), Knobs(nan_zero_log=True)]
        singles += [Knobs(clip=1e-7, clip_target=True), Knobs(row_reduce=True)]
        singles += [Knobs(target_reads=k) for k in ("probs", "log_probs") if k != case.target.kind]
        return singles + shared.tail_readings(case, class_axis=True)

    def variant_of(self, case: Case, dtype: DType, knobs: Knobs, inputs: np.ndarray | None) -> np.ndarray:
        return _variant(case, dtype, knobs, inputs)


def _term(t: object, log_t: object, log_q_value: object) -> object:
    if is_nan(t) or is_nan(log_q_value):
        return NAN
    if t == 0:
        return ZERO
    return t * (log_t - log_q_value)


def _variant(case: Case, dtype: DType, knobs: Knobs, inputs: np.ndarray | None) -> np.ndarray:
    axis = knobs.class_axis if knobs.class_axis is not None else case.axis
    x = np.moveaxis(shared.rounded_input(case, dtype, inputs), axis, -1)
    kind = knobs.reads or case.input.kind
    if knobs.clip is not None and kind != "log_probs":
        probs = np.exp(x - logsumexp(x, axis=-1, keepdims=True)) if kind == "logits" else x
        logq = np.log(shared.clip(probs, knobs, dtype, upper=False))
    else:
        logq = shared.variant_log_q(x, kind, replace(knobs, clip=None), dtype)
    raw = np.moveaxis(round_to(case.target.values, dtype), axis, -1)
    target_kind = knobs.target_reads or case.target.kind
    t = np.exp(raw) if target_kind == "log_probs" else raw
    if knobs.clip_target:
        t = shared.clip(t, knobs, dtype, upper=False)
    terms = t * (np.log(t) - logq)
    if not knobs.nan_zero_log:
        terms = np.where((t == 0) & ~np.isnan(logq), 0.0, terms)
    return shared.reduce_elements(case, np.moveaxis(terms, -1, axis) if not knobs.row_reduce else terms,
                                  knobs, row="sum")


FAMILY = KLDivergence()
