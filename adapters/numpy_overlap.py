"""The NumPy reference of the overlap families (Dice, Tversky): each canonical formula by hand.

Logits go through a softmax over the class axis (shifted by the maximum, the sum in
float64); class indices become their one-hot (``np.eye``); the classes are moved last,
channel 0 dropped without ``include_background``, and the elements grouped as
``overlap_over`` says. Each group's sums accumulate in float64 and are rounded to the
dtype once; the ratio, its smoothing constants and ``1 -`` are computed in the dtype, as
a careful user writes them: Dice ``1 - (2 I + s_n) / (P + Y + s_d)`` (squared sums
with ``squared``), Tversky ``1 - (I + s_n) / (I + alpha FP + beta FN + s_d)`` with
``FP = sum p (1 - y)`` and ``FN = sum (1 - p) y``. No eps: an empty group is 0/0 = NaN.
The groups' losses are reduced as :mod:`conformance.adapters.numpy_regression` reduces.

This module imports NumPy only inside recipe strings.
"""

from __future__ import annotations

from conformance.adapters.numpy_regression import faithful_only, reduce_elements
from conformance.binding import Binding
from conformance.recipe import RecipeWriter

DOCS = "https://numpy.org/doc/stable/reference/generated/numpy.{}.html"

_OPTIONS = frozenset({"overlap_over", "smooth_numerator", "smooth_denominator", "include_background"})


def _sum(w: RecipeWriter, array: str) -> str:
    """Each group's sum, accumulated in float64 and rounded to the dtype once."""
    return f"np.sum({array}, axis=1, dtype=np.float64).astype({w.dtype!r})"


def _grouped(w: RecipeWriter, name: str) -> None:
    """``g_<name>``: the (groups, members) view of ``name`` (classes last) that ``overlap_over`` names."""
    over = w.case.option("overlap_over")
    layout = {"batch": f"{name}.reshape(1, -1)",
              "sample": f"{name}.reshape({name}.shape[0], -1)",
              "channel": f"np.moveaxis({name}, -1, 0).reshape({name}.shape[-1], -1)",
              "sample_channel": f"np.moveaxis({name}, -1, 1).reshape({name}.shape[0] * {name}.shape[-1], -1)"}
    w.emit(f"g_{name} = {layout[over]}")


def _prepared(w: RecipeWriter) -> None:
    """``p`` and ``y``: per-channel probabilities and targets of the dtype, classes last."""
    case = w.case
    x, axis = w.input(), case.axis
    if case.input.kind == "logits":
        w.emit(f"e = np.exp({x} - np.max({x}, axis={axis}, keepdims=True))")
        w.emit(f"p = e / np.sum(e, axis={axis}, keepdims=True, dtype=np.float64).astype({w.dtype!r})")
        x = "p"
    w.emit(f"p = np.moveaxis({x}, {axis}, -1)")
    target = w.target()
    if case.target.kind == "index":
        w.emit(f"y = np.eye({case.num_classes}, dtype={w.dtype!r})[{target}]")
    else:
        w.emit(f"y = np.moveaxis({target}, {axis}, -1)")
    if not case.option("include_background"):
        w.emit("p, y = np.delete(p, 0, axis=-1), np.delete(y, 0, axis=-1)")
    _grouped(w, "p")
    _grouped(w, "y")


def _finish(w: RecipeWriter, numerator: str, denominator: str) -> None:
    sn = w.floats("smooth_numerator", w.case.option("smooth_numerator"))
    sd = w.floats("smooth_denominator", w.case.option("smooth_denominator"))
    shape = w.case.output_shape
    w.emit(f"per_group = (1 - ({numerator} + {sn}) / ({denominator} + {sd})).reshape({shape})")
    reduce_elements(w, "per_group", None)


def _write_dice(w: RecipeWriter) -> None:
    _prepared(w)
    squared = w.case.option("squared")
    w.emit(f"intersection = {_sum(w, 'g_p * g_y')}")
    p, y = ("np.square(g_p)", "np.square(g_y)") if squared else ("g_p", "g_y")
    w.emit(f"predicted, true = {_sum(w, p)}, {_sum(w, y)}")
    _finish(w, "2 * intersection", "predicted + true")


def _write_tversky(w: RecipeWriter) -> None:
    _prepared(w)
    alpha = w.floats("alpha", w.case.option("alpha"))
    beta = w.floats("beta", w.case.option("beta"))
    w.emit(f"intersection = {_sum(w, 'g_p * g_y')}")
    w.emit(f"false_positive = {_sum(w, 'g_p * (1 - g_y)')}")
    w.emit(f"false_negative = {_sum(w, '(1 - g_p) * g_y')}")
    _finish(w, "intersection", f"intersection + {alpha} * false_positive + {beta} * false_negative")


_INPUTS, _TARGETS = frozenset({"probs", "logits"}), frozenset({"probs", "index"})

BINDINGS = (
    Binding("numpy.dice", "dice", _INPUTS, _TARGETS, _write_dice, options=_OPTIONS | {"squared"},
            reads="the canonical formula 1 - (2 sum p y + s_n) / (sum p + sum y + s_d) per group, "
                  "softmax over the class axis for logits, no eps",
            doc=DOCS.format("sum"), limits=faithful_only),
    Binding("numpy.tversky", "tversky", _INPUTS, _TARGETS, _write_tversky, options=_OPTIONS | {"alpha", "beta"},
            reads="the canonical formula 1 - (sum p y + s_n) / (sum p y + alpha sum p (1 - y) + "
                  "beta sum (1 - p) y + s_d) per group, softmax over the class axis for logits, no eps",
            doc=DOCS.format("sum"), limits=faithful_only),
)
