"""JAX bindings of the overlap families: ``optax.losses.dice_loss``.

optax 0.2.8's ``dice_loss(predictions, targets, *, class_weights=None, smooth=1.0,
alpha=0.5, beta=0.5, apply_softmax=True, reduction="mean", ignore_background=False,
axis=None)`` takes channels-last arrays, applies a softmax over the last axis (a sigmoid
for one channel), sums over ``axis`` (default: every axis but the first and the last,
one ratio per sample and class) and returns ``1 - (I + smooth) / (I + alpha (P - I) +
beta (Y - I) + smooth)`` reduced over the classes only: the Tversky loss with ``smooth``
in both places, and with alpha = beta = 1/2 the Dice loss with ``s_n = s_d = 2 smooth``.
So it expresses both families where ``smooth_numerator == smooth_denominator`` (Dice:
``smooth = s/2``), with the default groups (per sample and channel) and
``include_background`` (``ignore_background``). It takes no ``overlap_over``: no argument
pools the classes (a ratio per batch or per sample), so cases that set it are skipped for
JAX, saying so. Nor the squared denominator. ``binary_dice_loss`` is
``dice_loss`` on one channel with a sigmoid: another activation. With
``apply_softmax=False`` it checks that the probabilities sum to 1 with a Python ``if``
on array values, which raises under ``jax.jit`` (TracerBoolConversionError), where the
suite differentiates: probabilities go in as their log instead (a declared conversion,
``softmax(log p) = p`` where p sums to 1 over the classes; elsewhere the API renormalises
them).

Faithful glue: probabilities as ``log p``, the class axis moved last and class indices
one-hot encoded (data movement), ``reduction="none"`` and the groups reduced by the glue in float64 (rounded
once). ``as_is`` calls the defaults (``alpha``/``beta`` as the case sets them).

This module imports nothing of JAX; its recipes run in the jax worker.
"""

from __future__ import annotations

from collections.abc import Callable

from conformance.adapters.jax_regression import OPS
from conformance.binding import Binding
from conformance.case import Case
from conformance.recipe import RecipeWriter, kwargs

DOCS = "https://optax.readthedocs.io/en/latest/api/losses.html#optax.losses.dice_loss"


def _writer(loss: str) -> Callable[[RecipeWriter], None]:
    def write(w: RecipeWriter) -> None:
        case = w.case
        x, target = w.input(), w.target()
        options: dict[str, str | None] = {}
        if case.loss == "tversky" and (not w.as_is or {"alpha", "beta"} & set(case.options_set())):
            options.update(alpha=repr(float(case.option("alpha"))), beta=repr(float(case.option("beta"))))
        if w.as_is:
            # Its default reduces over the classes only; the glue averages the samples' losses.
            w.emit(f"per_group = optax.losses.dice_loss({x}, {target}{kwargs(**options)})")
            w.reduce("per_group", OPS)
            return
        last = case.ndim - 1
        if case.input.kind == "probs":
            x = w.converted("logits", f"jnp.log({x})")
        if case.axis != last:
            x = f"jnp.moveaxis({x}, {case.axis}, -1)"
        if case.target.kind == "index":
            target = f"jax.nn.one_hot({target}, {case.num_classes}, dtype=jnp.{w.dtype})"
        elif case.axis != last:
            target = f"jnp.moveaxis({target}, {case.axis}, -1)"
        smooth = case.option("smooth_numerator")
        options["smooth"] = repr(float(smooth) / 2 if loss == "dice" else float(smooth))
        if not case.option("include_background"):
            options["ignore_background"] = "True"
        w.emit(f"per_group = optax.losses.dice_loss({x}, {target}{kwargs(**options)}, reduction='none')")
        w.reduce("per_group", OPS)
    write.__name__ = write.__qualname__ = f"_write_{loss}"
    return write


def _limits(case: Case) -> str | None:
    if case.mode == "as_is":
        return None
    if case.option("smooth_numerator") != case.option("smooth_denominator"):
        return "dice_loss adds one `smooth` to both the numerator and the denominator"
    if case.num_classes < 2:
        return "dice_loss applies a sigmoid, not a softmax, to one channel"
    if case.ndim < 2 or case.axis == 0:
        return "dice_loss needs a batch axis before the classes"
    return None


_OPTIONS = frozenset({"smooth_numerator", "smooth_denominator", "include_background"})
_INPUTS, _TARGETS = frozenset({"logits", "probs"}), frozenset({"probs", "index"})

BINDINGS = (
    Binding("jax.optax.dice_loss", "dice", _INPUTS, _TARGETS, _writer("dice"), options=_OPTIONS, limits=_limits,
            reads="applies softmax over the last axis (reads its input as logits), one ratio per sample and "
                  "class over the axes between, 1 - (I + 1) / (I + (P - I)/2 + (Y - I)/2 + 1) (Dice with "
                  "2 / 2 smoothing), averaged over the classes and left per sample",
            doc=DOCS, profile={"overlap_grouping": "per (sample, channel)", "overlap_smoothing": "2 / 2"}),
    Binding("jax.optax.dice_loss.tversky", "tversky", _INPUTS, _TARGETS, _writer("tversky"),
            options=_OPTIONS | {"alpha", "beta"}, limits=_limits,
            reads="applies softmax over the last axis (reads its input as logits), one ratio per sample and "
                  "class over the axes between, 1 - (I + 1) / (I + alpha (P - I) + beta (Y - I) + 1), "
                  "averaged over the classes and left per sample",
            doc=DOCS, profile={"overlap_grouping": "per (sample, channel)", "overlap_smoothing": "1 / 1",
                               "tversky_weights": "false positives"}),
)
