"""The NumPy/SciPy reference of CTC: the forward (alpha) recursion by hand.

``scipy.special.log_softmax`` of logits (log-probabilities as given), then the
recursion over the blank-interleaved labels of the whole batch at once, in log
space with ``np.logaddexp`` and a true ``-inf`` (a label with no alignment gives
inf): one line per frame, ``alpha = step(alpha, t)``, where a frame past a
sequence's input length leaves its alpha unchanged. The states each state may come
from (itself, the one before, and the label two before where the labels differ)
are written out as masks. It computes in float64 and rounds the result to the
dtype once (as SciPy does for float16 and bfloat16); sums accumulate in float64.

This module imports NumPy and SciPy only inside recipe strings.
"""

from __future__ import annotations

from conformance.adapters.ctc_glue import input_length_vector, label_lengths
from conformance.adapters.numpy_regression import faithful_only
from conformance.binding import Binding
from conformance.families.ctc import extended, frame_count
from conformance.recipe import RecipeWriter
from conformance.sequences import unpadded

DOCS = "https://numpy.org/doc/stable/reference/generated/numpy.logaddexp.html"


def _states(w: RecipeWriter) -> tuple[str, str, str]:
    """(the class of each state, whether a state may skip from two before, its last state),
    (N, S) padded with blank states that no valid state comes from."""
    blank = w.case.option("blank")
    rows = [extended(label, blank) for label in unpadded(w.case.target.values)]
    width = max(len(r) for r in rows)
    states = [r + [blank] * (width - len(r)) for r in rows]
    skips = [[int(s >= 2 and r[s] != blank and r[s] != r[s - 2]) for s in range(width)] for r in states]
    return (w.ints("state_class", states), w.ints("may_skip", skips),
            w.ints("last_state", [[len(r) - 1] for r in rows]))


def _write(w: RecipeWriter) -> None:
    case = w.case
    x = f"{w.input()}.astype(np.float64)"
    if case.option("time_major"):
        x = f"np.swapaxes({x}, 0, 1)"
    if case.input.kind == "logits":
        x = f"scipy.special.log_softmax({x}, axis=-1)"
    state_class, may_skip, last_state = _states(w)
    frames = input_length_vector(w)
    w.emit(f"logp = {x}")
    # emit[n, t, s] = log p_t(class of state s) of sequence n
    w.emit(f"emit = np.take_along_axis(logp, np.expand_dims({state_class}, 1), axis=2)")
    w.emit(f"alpha = np.where(np.less(np.arange({state_class}.shape[1]), 2), np.take(emit, 0, axis=1), -np.inf)")
    w.emit("step = lambda alpha, t: np.where(np.expand_dims(np.less(t, " + frames + "), 1), np.logaddexp("
           "np.logaddexp(alpha, np.where(np.greater(np.arange(alpha.shape[1]), 0), np.roll(alpha, 1, axis=1), "
           f"-np.inf)), np.where(np.equal({may_skip}, 1), np.roll(alpha, 2, axis=1), -np.inf)) "
           "+ np.take(emit, t, axis=1), alpha)")
    for t in range(1, frame_count(case)):
        w.emit(f"alpha = step(alpha, {t})")
    w.emit(f"final = np.take_along_axis(alpha, {last_state}, axis=1)")
    w.emit(f"before_final = np.where(np.greater({last_state}, 0), "
           f"np.take_along_axis(alpha, np.maximum({last_state} - 1, 0), axis=1), -np.inf)")
    w.emit("per_sequence = -np.reshape(np.logaddexp(final, before_final), -1)")
    if case.option("zero_infinity"):
        w.emit("per_sequence = np.where(np.isposinf(per_sequence), 0.0, per_sequence)")
    if case.reduction == "none":
        w.emit(f"loss = per_sequence.astype({w.dtype!r})")
        return
    if case.reduction == "sum":
        w.emit(f"loss = np.asarray(np.sum(per_sequence)).astype({w.dtype!r})")
        return
    if case.reduction == "length_mean":
        w.emit(f"per_sequence = per_sequence / np.maximum({label_lengths(w)}, 1)")
    w.emit(f"loss = np.asarray(np.mean(per_sequence)).astype({w.dtype!r})")


BINDINGS = (
    Binding("numpy.ctc", "ctc", frozenset({"logits", "log_probs"}), frozenset({"labels"}), _write,
            options=frozenset({"blank", "input_lengths", "zero_infinity", "time_major"}),
            reductions=frozenset({"mean", "sum", "none", "length_mean"}),
            reads="the canonical forward recursion in float64 (log_softmax of logits), rounded once",
            doc=DOCS, limits=faithful_only),
)
