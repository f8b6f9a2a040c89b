r"""Connectionist temporal classification: :math:`-\log \sum_{\pi \in B^{-1}(l)} \prod_t p_t(\pi_t)` per sequence.

``B`` collapses repeated symbols and then removes the blank, so the sum runs
over every frame-by-frame path ``π`` of the sequence's input length that reads
as the label ``l``. It is computed by the forward (α) recursion over the
blank-interleaved label :math:`l' = (b, l_1, b, l_2, \dots, l_L, b)` (length
``2L + 1``) in log space, at 50 digits, with a true :math:`-\infty`:

* a label that cannot be aligned within the input length (it needs
  :math:`L + \#\{i : l_i = l_{i+1}\}` frames) has no path: the loss is
  :math:`+\infty` (``zero_infinity`` makes it 0, with a zero gradient);
* an empty label has the one all-blank path: :math:`-\sum_t \log p_t(b)`.

Shapes: input ``logits`` (softmax over the class axis inside the loss) or
``log_probs`` (used as given, not renormalised), batch-major ``(N, T, C)``
with the classes last (``time_major: true``: written ``(T, N, C)``); target
``labels``, a list of ``N`` label lists (ragged, lengths implied; see
:mod:`conformance.sequences`). Options: ``blank`` (the blank's class index,
default 0; a label may not contain it), ``input_lengths`` (frames used per
sequence, default all ``T``), ``zero_infinity``, ``time_major``. Reductions:
``none`` (one loss per sequence), ``sum``, ``mean`` (the plain batch mean) and
``length_mean`` (each loss divided by its label length, at least 1, before the
batch mean: PyTorch's ``'mean'``).

Example::

    loss: ctc
    input: {log_probs: [[[-0.69314718056, -0.69314718056]]]}   # T = 1, C = 2: p = (1/2, 1/2)
    target: {labels: [[1]]}
    expected: 0.69314718056      # one path: (1)

Gradient (analytic, forward-backward, checked against numerical
differentiation in ``tests/test_ctc_family.py``): with the occupation
:math:`\gamma_t(k) = \sum_{s: l'_s = k} \alpha_t(s)\beta_t(s) / P` (the
probability that the alignment emits ``k`` at frame ``t``),
:math:`\partial\ell/\partial \log p_t(k) = -\gamma_t(k)` and
:math:`\partial\ell/\partial z_t(k) = \mathrm{softmax}(z_t)_k - \gamma_t(k)`
for frames inside the input length, 0 beyond it; NaN for an infeasible
sequence (the loss is the constant :math:`+\infty`), 0 under ``zero_infinity``.
A component's error is judged at the size :math:`\max_n w_n (1 + \ell_n)`
(:math:`w_n`: the sequence's factor in the reduction): its exponent is a
difference of log-space sums as large as the loss, so a correct
implementation's rounding grows with the loss (see ``_conditioned_scale``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field
from scipy.special import log_softmax as float_log_softmax

from conformance.arrays import IndexArray, Integer
from conformance.case_rules import CaseRuleError
from conformance.deadline import check as check_time
from conformance.dtypes import round_to
from conformance.exact import INF, MP, NAN, ONE, ZERO, exp, log_q, mp_array, total
from conformance.families.base import Aspect, Family, Options, Reading, Rule
from conformance.families.regression import _knob  # regression's Rule-from-a-knob: one copy, not one per family
from conformance.sequences import lengths as label_lengths, unpadded
from conformance.vocabulary import Elements, Reduction

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.dtypes import DType

# TensorFlow's dense path writes log 0 as log(1e-307) rounded to float32 (ctc_state_log_probs).
TF_LOG_ZERO = float(np.float32(math.log(1e-307)))
# optax's default log_epsilon.
OPTAX_LOG_ZERO = -1e5
# The most alignment-lattice cells, sum over the batch of T_n (2 L_n + 1), a case may need: the
# exact forward-backward does a 50-digit log-sum-exp per cell (and keeps T x S of them for the
# gradient), so a case file past this would take hours and gigabytes. About 4x the largest case
# in cases/ctc (the speech batch: 27,315 cells).
MAX_ALIGNMENT_CELLS = 100_000


class CtcOptions(Options):
    blank: Integer = Field(default=0, ge=0)
    input_lengths: IndexArray | None = None
    zero_infinity: bool = False
    time_major: bool = False
    # as_is only: the labels reach the API padded on the left (with 0), as a pipeline that pads that
    # way hands them over; the loss is still that of the labels (every API here reads from the left).
    left_padded: bool = False


@dataclass(frozen=True)
class CtcKnobs(Reading):
    """One way of reading a CTC case; the defaults are the canonical loss."""

    reads: str | None = None              # the input read as logits | log_probs
    masked_state_log: float | None = None  # (TF dense) log 0 of the final-state mask is this number
    forbidden_step_log: float | None = None  # (optax) a later start and a repeat without blank cost this log
    mean_by: str | None = None             # a mean (or length_mean) divided by: batch | label_lengths
    blank: int | None = None               # the blank read at this class index
    zero_infinity: bool | None = None      # an infinite loss read as 0 (True) or kept (False)
    first_entries: bool = False            # a left-padded label read as the first L entries of its row

    def describe(self, case: Case) -> str:
        return " and ".join(_DESCRIBE[name](value) for name, value in self.knobs().items())


_DESCRIBE = {
    "reads": lambda v: {"logits": "applies log_softmax to the input (reads it as logits)",
                        "log_probs": "reads the input as log-probabilities (no log_softmax)"}[v],
    "masked_state_log": lambda v: (f"takes log 0 as {v:.6g} in its final-state mask, so a path may end short of "
                                   "the label at that cost (log(1e-307) in float32: no alignment costs about 707, "
                                   "not inf)"),
    "forbidden_step_log": lambda v: (f"takes log 0 as {v:g} for a start past the first state and for a repeat "
                                     "without a blank (an infeasible alignment costs about 1e5, not inf)"),
    "mean_by": lambda v: {"batch": "divides the mean by the batch size",
                          "label_lengths": "divides each loss by its label length (at least 1) before "
                                           "the batch mean"}[v],
    "blank": lambda v: f"takes class {v} as the blank",
    "zero_infinity": lambda v: "returns 0 for an infinite loss" if v else "keeps an infinite loss",
    "first_entries": lambda v: ("reads each label as the first entries of its left-padded row (the padding "
                                "becomes labels, the end of the label is lost)"),
}


def _reads_kind(knobs: Any, input_kind: str) -> str | None:
    return {"logits": "logits", "log_probs": "log-probabilities"}.get(knobs.get("reads") or "")


CTC_INPUT = Aspect("ctc_input", "what it reads its (N, T, C) input as", "logits",
                   (Rule(lambda knobs, kind: _reads_kind(knobs, kind) == "log-probabilities", "log-probabilities"),))
CTC_INFEASIBLE = Aspect(
    "ctc_infeasible", "a label too long for its input (no alignment)", "inf",
    (_knob("masked_state_log", lambda v: v is not None, "about 707 (log 0 = log 1e-307)"),
     _knob("forbidden_step_log", lambda v: v is not None, "about 1e5 (log 0 = -1e5)")))
CTC_MEAN = Aspect("ctc_mean", "what a batch mean divides the sequence losses by", "batch size",
                  (_knob("mean_by", lambda v: v == "label_lengths", "each loss by its label length, then batch"),))


class Ctc(Family):
    name = "ctc"
    definition = "-log sum over the alignments of the label of prod_t p_t(path_t) per sequence"
    inputs = ("logits", "log_probs")
    targets = {"labels": Elements.SEQUENCES}
    options = CtcOptions
    reductions = frozenset({Reduction.MEAN, Reduction.SUM, Reduction.NONE, Reduction.LENGTH_MEAN})
    class_axis = True
    aspects = (CTC_INPUT, CTC_INFEASIBLE, CTC_MEAN)
    gradient_readings = {
        "ctc_softmax_assumed": "the API's backward assumes its log-probabilities came from a log_softmax and "
                               "returns the gradient with respect to the logits, exp(log p) * sum_k gamma - gamma, "
                               "not -gamma",
    }

    # -- schema -------------------------------------------------------------------
    def check(self, case: Case) -> None:
        options: CtcOptions = case.options
        shape = case.input.values.shape
        if len(shape) != 3:
            raise CaseRuleError("input", f"ctc takes a 3-d input, (N, T, C) (time_major: (T, N, C)); "
                                f"got shape {shape}")
        if case.axis != 2:
            raise CaseRuleError("class_axis", "ctc takes the classes on the last axis")
        batch, frames, classes = batch_size(case), frame_count(case), shape[2]
        labels = case.target.values
        if labels.shape[0] != batch:
            raise CaseRuleError("target", f"{labels.shape[0]} label sequences for a batch of {batch} "
                                f"(input shape {shape}{', time-major' if options.time_major else ''})")
        if not options.blank < classes:
            raise CaseRuleError("blank", f"blank {options.blank} is not a class of a {classes}-class input")
        for n, sequence in enumerate(unpadded(labels)):
            for label in sequence:
                if label >= classes:
                    raise CaseRuleError("target", f"label {label} of sequence {n} is outside [0, {classes})")
                if label == options.blank:
                    raise CaseRuleError("target", f"sequence {n} holds the blank ({label}) as a label")
        if options.input_lengths is not None:
            given = options.input_lengths
            if given.shape != (batch,):
                raise CaseRuleError("input_lengths", f"input_lengths needs one length per sequence ({batch}), "
                                    f"got shape {given.shape}")
            if ((given < 1) | (given > frames)).any():
                raise CaseRuleError("input_lengths", f"input lengths are in [1, {frames}] (the input has "
                                    f"{frames} frames); got {given.tolist()}")
        if options.left_padded and case.mode != "as_is":
            raise CaseRuleError("left_padded", "left_padded shows how an API reads left-padded labels: "
                                "it needs mode: as_is")
        cells = sum(frames_n * (2 * len(label) + 1) for frames_n, label in sequences(case))
        if cells > MAX_ALIGNMENT_CELLS:
            raise CaseRuleError("target", f"the alignment lattice, sum over the sequences of input length x "
                                f"(2 x label length + 1), has {cells} cells; the exact oracle takes at most "
                                f"{MAX_ALIGNMENT_CELLS}: use fewer frames (or input_lengths), shorter labels or "
                                f"a smaller batch")

    def output_shape(self, case: Case) -> tuple[int, ...]:
        return (batch_size(case),)

    def target_shape(self, case: Case) -> tuple[int, ...]:
        return case.target.values.shape  # ragged: checked sequence by sequence in check()

    # -- the canonical definition -------------------------------------------------
    def loss(self, case: Case, dtype: DType, x: np.ndarray) -> Any:
        logp = log_q(batch_major(case, x), case.input.kind)
        losses = np.empty(batch_size(case), dtype=object)
        for n, (frames, label) in enumerate(sequences(case)):
            losses[n] = -_log_likelihood(logp[n, :frames], extended(label, case.options.blank))
            if case.options.zero_infinity and losses[n] == INF:
                losses[n] = ZERO
        if case.reduction == "none":
            return losses
        if case.reduction == "sum":
            return total(losses)
        weights = self._weights(case)
        return total([loss * w for loss, w in zip(losses, weights)])

    def _weights(self, case: Case) -> list[Any]:
        """Each sequence's factor in ``mean`` (1/N) or ``length_mean`` (1/(N max(L_n, 1)))."""
        batch = MP.mpf(batch_size(case))
        if case.reduction != Reduction.LENGTH_MEAN:
            return [ONE / batch] * int(batch)
        return [ONE / (batch * max(int(length), 1)) for length in label_lengths(case.target.values)]

    def divisor(self, case: Case, dtype: DType) -> Any:
        """What the summed losses are divided by; for ``length_mean`` the losses are those the
        glue has already divided by their label lengths (a product per sequence, like class weights)."""
        if case.reduction in ("none", "sum"):
            return ONE
        return MP.mpf(batch_size(case))

    def scale(self, case: Case, shape: tuple[int, ...]) -> Any:
        return ONE if case.reduction in ("none", "sum") else max(self._weights(case))

    def gradient(self, case: Case, dtype: DType, reading: str | None = None) -> tuple[np.ndarray, Any]:
        if reading is not None and reading not in self.gradient_readings:
            raise ValueError(f"ctc has no gradient reading {reading!r}")
        x = batch_major(case, mp_array(case.input.values, dtype))
        logp = log_q(x, case.input.kind)
        weights = (self._weights(case) if case.reduction in ("mean", "length_mean")
                   else [ONE] * batch_size(case))
        grad = np.full(x.shape, ZERO, dtype=object)
        losses: list[Any] = []
        for n, (frames, label) in enumerate(sequences(case)):
            gamma, log_total = _occupation(logp[n, :frames], extended(label, case.options.blank))
            losses.append(-log_total)
            if gamma is None:  # no alignment: a constant +inf (or 0 under zero_infinity)
                grad[n, :frames] = ZERO if case.options.zero_infinity else NAN
                continue
            softmax = np.vectorize(exp, otypes=[object])(logp[n, :frames])
            if case.input.kind == "logits" or reading == "ctc_softmax_assumed":
                row_mass = np.array([[total(g)] for g in gamma], dtype=object)
                grad[n, :frames] = (softmax * row_mass - gamma) * weights[n]
            else:
                grad[n, :frames] = -gamma * weights[n]
        grad = np.swapaxes(grad, 0, 1) if case.options.time_major else grad
        return grad, _conditioned_scale(weights, losses)

    def converted_input(self, case: Case, dtype: DType, kind: str) -> np.ndarray:
        """Logits as log-probabilities (exact log_softmax over the classes)."""
        if (case.input.kind, kind) != ("logits", "log_probs"):
            return super().converted_input(case, dtype, kind)
        exact = log_q(mp_array(case.input.values, dtype), "logits")
        return np.array([float(v) for v in exact.flat], dtype=np.float64).reshape(exact.shape)

    # -- interpretation -----------------------------------------------------------
    def readings(self, case: Case, dtype: DType) -> list[CtcKnobs]:
        options: CtcOptions = case.options
        other = "log_probs" if case.input.kind == "logits" else "logits"
        singles = [CtcKnobs(reads=other), CtcKnobs(masked_state_log=TF_LOG_ZERO),
                   CtcKnobs(forbidden_step_log=OPTAX_LOG_ZERO), CtcKnobs(zero_infinity=not options.zero_infinity)]
        if case.reduction in ("mean", "length_mean"):
            singles.append(CtcKnobs(mean_by="batch" if case.reduction == "length_mean" else "label_lengths"))
        if options.left_padded:
            singles.append(CtcKnobs(first_entries=True))
        classes = case.input.values.shape[-1]
        singles += [CtcKnobs(blank=b) for b in sorted({0, classes - 1} - {options.blank})]
        return singles

    def variant(self, case: Case, dtype: DType, reading: CtcKnobs, inputs: np.ndarray | None = None,
                ) -> np.ndarray | None:
        if not isinstance(reading, CtcKnobs):
            if reading.knobs():  # another family's knob: not a way of reading CTC
                return None
            reading = CtcKnobs()  # any family's canonical reading is the canonical loss
        with np.errstate(all="ignore"):
            return _variant(case, dtype, reading, inputs)


def _conditioned_scale(weights: list[Any], losses: list[Any]) -> Any:
    """The size a gradient component's error is measured against: max_n w_n (1 + loss_n).

    A component is gamma = sum exp(alpha + beta - log P): the exponent is a difference of
    log-space sums as large as the sequence's loss, so a correct implementation's rounding
    there, a few ULPs of |loss_n|, is an absolute error of about gamma |loss_n| ULPs in the
    component (hundreds at T = 200). The conditioning of the problem, not an API's deviation:
    the tolerance's atol scales with it, as it scales with 1/N under a mean."""
    sizes = [w * (ONE + abs(loss)) for w, loss in zip(weights, losses) if MP.isfinite(loss)]
    return max(sizes, default=max(weights))


# -- the case's shapes ----------------------------------------------------------------
def batch_size(case: Case) -> int:
    return int(case.input.values.shape[1 if case.options.time_major else 0])


def frame_count(case: Case) -> int:
    return int(case.input.values.shape[0 if case.options.time_major else 1])


def batch_major(case: Case, x: np.ndarray) -> np.ndarray:
    """The input as (N, T, C)."""
    return np.swapaxes(x, 0, 1) if case.options.time_major else x


def input_lengths(case: Case) -> list[int]:
    given = case.options.input_lengths
    return [frame_count(case)] * batch_size(case) if given is None else [int(v) for v in given]


def sequences(case: Case) -> list[tuple[int, list[int]]]:
    """(input length, label) of each sequence."""
    return list(zip(input_lengths(case), unpadded(case.target.values)))


def extended(label: list[int], blank: int) -> list[int]:
    """The blank-interleaved label (b, l1, b, l2, ..., lL, b)."""
    out = [blank]
    for symbol in label:
        out += [symbol, blank]
    return out


def feasible_frames(label: list[int]) -> int:
    """The fewest frames that can emit ``label``: one per label, one more per repeat."""
    return len(label) + sum(a == b for a, b in zip(label, label[1:]))


# -- exact recursions (log space, mpf, -inf for log 0) --------------------------------
def _lse(values: list[Any]) -> Any:
    if any(MP.isnan(v) for v in values):
        return NAN
    finite = [v for v in values if v != -INF]
    if not finite:
        return -INF
    top = max(finite)
    if top == INF:
        return NAN
    return top + MP.log(MP.fsum(MP.exp(v - top) for v in finite))


def _predecessors(ext: list[int], s: int) -> list[int]:
    """The states a path can come from into state ``s``: itself, the one before, and the one
    two before where ``s`` is a label that differs from the label two before (skipping a blank)."""
    found = [s] + ([s - 1] if s >= 1 else [])
    if s >= 2 and ext[s] != ext[0] and ext[s] != ext[s - 2]:
        found.append(s - 2)
    return found


def _forward_rows(logp: np.ndarray, ext: list[int]) -> Iterator[list[Any]]:
    """alpha_t, frame by frame (log P(frames ..t, in state s at t)); each row is a new list."""
    frames, states = logp.shape[0], len(ext)
    alpha = [-INF] * states
    for s in range(min(2, states)):
        alpha[s] = logp[0][ext[s]]
    yield alpha
    for t in range(1, frames):
        check_time()  # an untrusted case must not outlast the evaluation's time limit
        alpha = [_lse([alpha[p] for p in _predecessors(ext, s)]) + logp[t][ext[s]] for s in range(states)]
        yield alpha


def _forward(logp: np.ndarray, ext: list[int]) -> list[list[Any]]:
    """The whole T_n x S forward table (the gradient needs every row)."""
    return list(_forward_rows(logp, ext))


def _log_likelihood(logp: np.ndarray, ext: list[int]) -> Any:
    """log P(label | input) of one sequence (``logp``: its frames, (T_n, C))."""
    if logp.shape[0] == 0:
        return ZERO if len(ext) == 1 else -INF
    last: list[Any] = []
    for last in _forward_rows(logp, ext):  # only the value: keep one row, not the table
        pass
    return _lse(last[-2:])


def _occupation(logp: np.ndarray, ext: list[int]) -> tuple[np.ndarray | None, Any]:
    """(gamma_t(k), (T_n, C): the probability that the alignment emits class k at frame t;
    log P of the label). gamma is None where the label has no alignment."""
    frames, states = logp.shape[0], len(ext)
    alpha = _forward(logp, ext)
    log_total = _lse(alpha[-1][-2:])
    if log_total == -INF or MP.isnan(log_total):
        return None, log_total
    beta = [[-INF] * states for _ in range(frames)]  # log P(frames t+1.. | state s at t), emission at t excluded
    for s in range(max(0, states - 2), states):
        beta[-1][s] = ZERO
    for t in range(frames - 2, -1, -1):
        check_time()
        for s in range(states):
            following = [q for q in (s, s + 1, s + 2) if q < states and s in _predecessors(ext, q)]
            beta[t][s] = _lse([beta[t + 1][q] + logp[t + 1][ext[q]] for q in following])
    gamma = np.full(logp.shape, ZERO, dtype=object)
    for t in range(frames):
        check_time()
        for s in range(states):
            if alpha[t][s] != -INF and beta[t][s] != -INF:
                gamma[t][ext[s]] += MP.exp(alpha[t][s] + beta[t][s] - log_total)
    return gamma, log_total


# -- float64 readings ------------------------------------------------------------------
def _variant(case: Case, dtype: DType, knobs: CtcKnobs, inputs: np.ndarray | None) -> np.ndarray | None:
    x = batch_major(case, round_to(case.input.values, dtype) if inputs is None else inputs)
    kind = knobs.reads or case.input.kind
    logp = float_log_softmax(x, axis=-1) if kind == "logits" else x
    blank = case.options.blank if knobs.blank is None else knobs.blank
    labels = unpadded(case.target.values)
    if knobs.first_entries:
        width = max(len(label) for label in labels)
        labels = [([0] * (width - len(label)) + label)[:len(label)] for label in labels]
    elif any(blank in label for label in labels):
        return None
    zero_infinity = case.options.zero_infinity if knobs.zero_infinity is None else knobs.zero_infinity
    losses = np.empty(batch_size(case))
    for n, frames in enumerate(input_lengths(case)):
        losses[n] = -_float_log_likelihood(logp[n, :frames], extended(labels[n], blank), knobs)
        if zero_infinity and losses[n] == math.inf:
            losses[n] = 0.0
    if case.reduction == "none":
        return losses
    if case.reduction == "sum":
        return np.asarray(losses.sum())
    by_length = case.reduction == "length_mean" if knobs.mean_by is None else knobs.mean_by == "label_lengths"
    if by_length:
        losses = losses / np.maximum(label_lengths(case.target.values), 1)
    return np.asarray(losses.mean())


def _float_log_likelihood(logp: np.ndarray, ext: list[int], knobs: CtcKnobs) -> float:
    """log P in float64; with a finite log 0 the way TensorFlow's dense path or optax write it.

    A virtual frame before the first starts in state 0 (log 1); optax also starts in any other
    state at its log 0. TensorFlow's dense path (as measured) ends in any state, at its log 0
    where the label is not complete."""
    states, blank = len(ext), ext[0]
    start = knobs.forbidden_step_log if knobs.forbidden_step_log is not None else -math.inf
    alpha = np.full(states, start)
    alpha[0] = 0.0
    for t in range(logp.shape[0]):
        check_time()
        new = np.full(states, -math.inf)
        for s in range(states):
            terms = [alpha[s]] + ([alpha[s - 1]] if s >= 1 else [])
            if s >= 2 and ext[s] != blank:
                if ext[s] != ext[s - 2]:
                    terms.append(alpha[s - 2])
                elif knobs.forbidden_step_log is not None:
                    terms.append(alpha[s - 2] + knobs.forbidden_step_log)
            new[s] = np.logaddexp.reduce(terms) + logp[t, ext[s]]
        alpha = new
    ends = list(alpha[-2:]) if states > 1 else [alpha[-1]]
    if knobs.masked_state_log is not None:
        ends += [a + knobs.masked_state_log for a in alpha[:max(states - 2, 0)]]
    return float(np.logaddexp.reduce(ends))


FAMILY = Ctc()
