"""The NumPy/SciPy reference of the focal families: each canonical formula by hand.

Binary: ``log p`` and ``log(1 - p)`` as ``scipy.special.log_expit`` of the logit and
its negation (or ``np.log`` / ``np.log1p`` of the probabilities), ``p`` and ``1 - p``
as their exponentials, so a large logit loses nothing; then
``-(a (1-p)^g log p + b p^g log(1-p))`` with ``a = alpha t``, ``b = (1 - alpha)(1 - t)``
(``t`` and ``1 - t`` without alpha) and ``0 log 0 = 0`` written with ``np.where``.
Categorical: ``scipy.special.log_softmax`` over the class axis, ``1 - q`` as
``-expm1(log q)`` (exact for a confident class), ``-sum_c alpha_c y_c (1-q_c)^g log q_c``.
Label smoothing is applied to the target first (``eps/2`` binary, ``eps/C`` categorical).
Everything is computed in the evaluated dtype; sums accumulate in float64 and are
rounded to the dtype once.

This module imports NumPy and SciPy only inside recipe strings.
"""

from __future__ import annotations

from conformance.adapters.numpy_regression import faithful_only, reduce_elements
from conformance.binding import Binding
from conformance.recipe import RecipeWriter

DOCS = "https://docs.scipy.org/doc/scipy/reference/generated/scipy.special.{}.html"


def _smoothed(w: RecipeWriter, target: str, spread: int) -> str:
    eps = w.case.option("label_smoothing")
    return f"({target} * (1 - {eps}) + {eps} / {spread})" if eps else target


def _write_binary(w: RecipeWriter) -> None:
    case = w.case
    x = w.input()
    if case.input.kind == "logits":
        w.emit(f"log_p, log_not_p = scipy.special.log_expit({x}), scipy.special.log_expit(-{x})")
        w.emit("p, not_p = np.exp(log_p), np.exp(log_not_p)")
    else:
        w.emit(f"log_p, log_not_p = np.log({x}), np.log1p(-{x})")
        w.emit(f"p, not_p = {x}, 1 - {x}")
    w.emit(f"t = {_smoothed(w, w.target(), 2)}")
    alpha = case.option("alpha")
    w.emit("a, b = t, 1 - t" if alpha is None else f"a, b = {alpha!r} * t, {1 - alpha!r} * (1 - t)")
    gamma = float(case.option("gamma"))
    w.emit(f"per_element = -(np.where(a == 0, 0, a * np.power(not_p, {gamma!r}) * log_p) "
           f"+ np.where(b == 0, 0, b * np.power(p, {gamma!r}) * log_not_p))")
    reduce_elements(w, "per_element", None)


def _write_categorical(w: RecipeWriter) -> None:
    case = w.case
    x, axis, classes = w.input(), case.axis, case.num_classes
    target = w.target()
    if case.target.kind == "index":
        target = f"np.moveaxis(np.eye({classes}, dtype={w.dtype!r})[{target}], -1, {axis})"
    y = _smoothed(w, target, classes)
    alpha = case.option("alpha")
    if alpha is not None:
        shape = (classes,) + (1,) * (case.ndim - 1 - axis)
        y = f"{y} * {w.floats('alpha', alpha)}.reshape({shape})"
    w.emit(f"a = {y}")
    if case.input.kind == "logits":
        w.emit(f"log_q = scipy.special.log_softmax({x}, axis={axis})")
        w.emit("not_q = -np.expm1(log_q)")
    else:
        w.emit(f"log_q, not_q = np.log({x}), 1 - {x}")
    gamma = float(case.option("gamma"))
    w.emit(f"per_position = -np.sum(np.where(a == 0, 0, a * np.power(not_q, {gamma!r}) * log_q), axis={axis}, "
           f"dtype=np.float64).astype({w.dtype!r})")
    reduce_elements(w, "per_position", None)


BINDINGS = (
    Binding("numpy.binary_focal", "binary_focal", frozenset({"logits", "probs"}), frozenset({"probs"}),
            _write_binary, options=frozenset({"gamma", "alpha", "label_smoothing"}), limits=faithful_only,
            reads="the canonical formula -(a (1-p)^g log p + b p^g log(1-p)) with log_expit for logits",
            doc=DOCS.format("log_expit")),
    Binding("numpy.categorical_focal", "categorical_focal", frozenset({"logits", "probs"}),
            frozenset({"index", "probs"}), _write_categorical,
            options=frozenset({"gamma", "alpha", "label_smoothing"}), limits=faithful_only,
            reads="the canonical formula -sum_c alpha_c y_c (1-q_c)^g log q_c with log_softmax for logits",
            doc=DOCS.format("log_softmax")),
)
