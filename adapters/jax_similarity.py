"""JAX bindings of the similarity families (``optax.losses``).

optax 0.2.8 has ``cosine_similarity(predictions, targets, *, epsilon=0.0,
axis=-1)``, ``a / sqrt(max(|a|^2, epsilon)) . b / sqrt(max(|b|^2, epsilon))``:
epsilon clips each *squared* norm and is 0 by default, so a zero vector gives
NaN as the canonical definition does; ``cosine_distance`` is ``1 -
cosine_similarity``; and ``triplet_margin_loss(anchors, positives, negatives,
axis=-1, norm_degree=2, margin=1.0, eps=1e-6)``, with distances
``(sum((a - p)**norm_degree) + eps)**(1/norm_degree)``: eps under the root and
no absolute value of the differences, so an odd norm_degree sums signed
differences. None reduces and none takes a swap: the glue reduces the
per-position output (float64, rounding once), and swap cases have no optax call.
The faithful calls name the case's axis and options and leave epsilon and eps at
their defaults (the API's). optax has no cosine embedding loss.

This module imports nothing of JAX; its recipes run in the jax worker.
"""

from __future__ import annotations

from collections.abc import Callable

from conformance.adapters.jax_regression import OPS
from conformance.binding import Binding
from conformance.recipe import RecipeWriter, kwargs

DOCS = "https://optax.readthedocs.io/en/latest/api/losses.html#optax.losses.{}"


def _cosine_writer(function: str) -> Callable[[RecipeWriter], None]:
    def write(w: RecipeWriter) -> None:
        axis = None if w.as_is else w.case.axis
        w.emit(f"per_position = optax.losses.{function}({w.input()}, {w.target()}{kwargs(axis=axis)})")
        w.reduce("per_position", OPS)

    write.__name__ = write.__qualname__ = f"_write_{function}"
    return write


def _write_triplet(w: RecipeWriter) -> None:
    negatives = w.floats("negatives", w.case.option("negatives"))
    set_ = w.case.options_set()
    options = kwargs(norm_degree=None if w.as_is and "p" not in set_ else repr(float(w.case.option("p"))),
                     margin=None if w.as_is and "margin" not in set_ else repr(float(w.case.option("margin"))))
    w.emit(f"per_position = optax.losses.triplet_margin_loss({w.input()}, {w.target()}, {negatives}{options})")
    w.reduce("per_position", OPS)


_EMBEDDINGS, _REFERENCES = frozenset({"embeddings"}), frozenset({"references"})

BINDINGS = (
    Binding("jax.optax.cosine_similarity", "cosine_similarity", _EMBEDDINGS, _REFERENCES,
            _cosine_writer("cosine_similarity"),
            reads="returns a/sqrt(max(|a|^2, epsilon)) . b/sqrt(max(|b|^2, epsilon)) along axis=-1 with "
                  "epsilon = 0 (a zero vector gives NaN), unreduced",
            doc=DOCS.format("cosine_similarity"),
            profile={"cosine_sign": "cos", "cosine_guard": "none (NaN at 0)", "cosine_axis": "last"}),
    Binding("jax.optax.cosine_distance", "cosine_distance", _EMBEDDINGS, _REFERENCES,
            _cosine_writer("cosine_distance"),
            reads="returns 1 - cosine_similarity(epsilon=0) along axis=-1, unreduced",
            doc=DOCS.format("cosine_distance"),
            profile={"cosine_guard": "none (NaN at 0)", "cosine_axis": "last"}),
    Binding("jax.optax.triplet_margin_loss", "triplet_margin", frozenset({"anchors"}), frozenset({"positives"}),
            _write_triplet, options=frozenset({"negatives", "margin", "p"}),
            reads="returns max(0, d(a, p) - d(a, n) + margin) per triplet with d = (sum((x - y)**norm_degree) "
                  "+ 1e-6)**(1/norm_degree): eps under the root, no absolute value; norm_degree = 2, margin = 1, "
                  "no swap, unreduced",
            doc=DOCS.format("triplet_margin_loss"),
            profile={"triplet_guard": "1e-6 added under the root",
                     "triplet_abs": "sum of signed differences (no |.|)"}),
)
