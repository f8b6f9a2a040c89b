"""JAX bindings of the multiclass margin families (``optax.losses``).

optax 0.2.8 has ``multiclass_hinge_loss(scores, labels)``, ``max_j(s_j + 1 -
one_hot_j) - s_y`` (Crammer-Singer), and ``multiclass_perceptron_loss(scores,
labels)``, ``max_j s_j - s_y``, both with integer labels one-hot encoded by
``jax.nn.one_hot`` over the last axis (a label outside [0, C) becomes an all-zero
row, silently). Both return one loss per sample and never reduce: the glue reduces
(in float64, rounding once). ``one_hot`` targets are given as their argmax (data
movement, in both modes). optax has no Weston-Watkins, multilabel margin or hinge
embedding loss.

This module imports nothing of JAX; its recipes run in the jax worker.
"""

from __future__ import annotations

from collections.abc import Callable

from conformance.adapters.jax_regression import OPS
from conformance.binding import Binding
from conformance.recipe import RecipeWriter

DOCS = "https://optax.readthedocs.io/en/latest/api/losses.html#optax.losses.{}"


def _writer(function: str) -> Callable[[RecipeWriter], None]:
    def write(w: RecipeWriter) -> None:
        labels = w.target()
        if w.case.target.kind == "one_hot":
            labels = f"jnp.argmax({labels}, axis=-1)"
        w.emit(f"per_sample = optax.losses.{function}({w.input()}, {labels})")
        w.reduce("per_sample", OPS)

    write.__name__ = write.__qualname__ = f"_write_{function}"
    return write


_SCORES, _LABELS = frozenset({"scores"}), frozenset({"index", "one_hot"})

BINDINGS = (
    Binding("jax.optax.multiclass_hinge_loss", "multiclass_hinge", _SCORES, _LABELS,
            _writer("multiclass_hinge_loss"),
            reads="returns max_j(scores_j + 1 - one_hot(labels)_j) - scores[label] per sample, unreduced",
            doc=DOCS.format("multiclass_hinge_loss"), profile={"multiclass_true_class": "left out"}),
    Binding("jax.optax.multiclass_perceptron_loss", "multiclass_perceptron", _SCORES, _LABELS,
            _writer("multiclass_perceptron_loss"),
            reads="returns max_j scores_j - scores[label] per sample, unreduced",
            doc=DOCS.format("multiclass_perceptron_loss"), profile={"multiclass_true_class": "left out"}),
)
