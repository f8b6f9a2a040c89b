"""JAX bindings of the binary margin families (``optax.losses``).

optax 0.2.8 has ``hinge_loss(predictor_outputs, targets)``, max(0, 1 - s y), and
``perceptron_loss(predictor_outputs, targets)``, max(0, -s y), both documented
for targets "strictly in the set {-1, 1}" and taking them as they are (a 0 label
is a label of 0). It has no squared hinge and no soft-margin loss of ±1 labels
(``sigmoid_binary_cross_entropy`` takes {0, 1} labels: another family's API).
Both return one loss per element and never reduce, and neither takes weights: the
glue converts ``binary`` targets to ``2 * target - 1`` (exact for 0 and 1),
multiplies the elements by the case's weights and reduces them (in float64,
rounding once). ``as_is`` passes the labels exactly as written.

This module imports nothing of JAX; its recipes run in the jax worker.
"""

from __future__ import annotations

from conformance.adapters.jax_regression import OPS
from conformance.binding import Binding
from conformance.recipe import RecipeWriter

DOCS = "https://optax.readthedocs.io/en/latest/api/losses.html#optax.losses.{}"
SOURCE = "https://github.com/google-deepmind/optax/blob/v0.2.8/optax/losses/_classification.py"


def _labels(w: RecipeWriter) -> str:
    target = w.target()
    if w.as_is or w.case.target.kind != "binary":
        return target
    w.emit(f"signs = 2 * {target} - 1")
    return "signs"


def _writer(function: str):
    """Write ``optax.losses.<function>(scores, labels)`` per element, weighted and reduced by the glue."""

    def write(w: RecipeWriter) -> None:
        labels = _labels(w)
        w.emit(f"per_element = optax.losses.{function}({w.input()}, {labels})")
        if w.case.option("weight") is None:
            w.reduce("per_element", OPS)
            return
        w.emit(f"per_element = per_element * {w.weight()}")
        w.reduce("per_element", OPS, denominator=OPS.total.format(OPS.widen.format(w.weight(), dtype="float64")))

    write.__name__ = write.__qualname__ = f"_write_{function}"
    return write


_SCORES, _LABELS = frozenset({"scores"}), frozenset({"signs", "binary"})
_PROFILE = {"margin_labels": "taken as they are (0 is a label of 0)", "sum": "every element"}

BINDINGS = (
    Binding("jax.optax.hinge_loss", "hinge", _SCORES, _LABELS, _writer("hinge_loss"),
            options=frozenset({"weight"}),
            reads="returns max(0, 1 - predictor_outputs * targets) per element, unreduced, with the targets "
                  "taken as they are (documented for {-1, 1}: a 0 label gives 1)",
            doc=DOCS.format("hinge_loss"), profile=_PROFILE),
    Binding("jax.optax.perceptron_loss", "perceptron", _SCORES, _LABELS, _writer("perceptron_loss"),
            options=frozenset({"weight"}),
            reads="returns max(0, -predictor_outputs * targets) per element, unreduced (shapes must be equal), "
                  "with the targets taken as they are (documented for {-1, 1}: a 0 label gives 0)",
            doc=DOCS.format("perceptron_loss"), profile=_PROFILE),
)
