"""JAX bindings of the focal families (``optax.losses.sigmoid_focal_loss``).

optax 0.2.8 has one focal loss, ``sigmoid_focal_loss(logits, labels, *, alpha=None,
gamma=2.0)``: a binary focal loss per element, unreduced, ``alpha=None`` meaning no
weighting. It computes ``log(1 - p_t)`` in log space (``logsumexp`` of the two
log-sigmoids weighted by the labels), so saturated logits keep finite values and
gradients, and weights a soft label's whole sigmoid BCE by
``alpha_t (1 - p_t)^gamma`` with ``p_t = t p + (1 - t)(1 - p)``. It has no
softmax (categorical) focal loss and no label smoothing.

The faithful glue gives probabilities as their logits (``logit(p)``, declared as
a conversion) and reduces the elements in float64, rounding once.

This module imports nothing of JAX; its recipes run in the jax worker.
"""

from __future__ import annotations

from conformance.adapters.jax_regression import OPS
from conformance.binding import Binding
from conformance.recipe import RecipeWriter, kwargs

DOCS = "https://optax.readthedocs.io/en/latest/api/losses.html#optax.losses.sigmoid_focal_loss"


def _write_sigmoid_focal(w: RecipeWriter) -> None:
    case = w.case
    x = w.input()
    if case.input.kind == "probs" and not w.as_is:
        x = w.converted("logits", f"jax.scipy.special.logit({x})")
    given = case.options_set()
    options = kwargs(alpha=repr(case.option("alpha")) if case.option("alpha") is not None else None,
                     gamma=repr(float(case.option("gamma"))) if not w.as_is or "gamma" in given else None)
    w.emit(f"per_element = optax.losses.sigmoid_focal_loss({x}, {w.target()}{options})")
    w.reduce("per_element", OPS)


BINDINGS = (
    Binding("jax.optax.sigmoid_focal_loss", "binary_focal", frozenset({"logits", "probs"}), frozenset({"probs"}),
            _write_sigmoid_focal, options=frozenset({"gamma", "alpha"}),
            reads="reads logits, returns alpha_t (1 - p_t)^gamma BCE(t, p) per element (p_t = t p + (1 - t)(1 - p), "
                  "no alpha unless given), unreduced",
            doc=DOCS,
            profile={"focal_input": "logits", "focal_soft_labels": "a_t (1-p_t)^g BCE, p_t = tp + (1-t)(1-p)",
                     "focal_alpha": "applied", "focal_alpha_default": "none"}),
)
