"""The NumPy reference of the binary margin families: each canonical formula by hand.

The labels are ``y = 2t - 1`` for ``binary`` targets (exact for 0 and 1) and
the targets as they are for ``signs``; the margin ``m = y s`` and each element's
loss are computed in the evaluated dtype as a careful user writes them:
``np.maximum(1 - m, 0)`` (hinge), its square (squared hinge), ``np.maximum(-m, 0)``
(perceptron) and ``np.logaddexp(0, -m)`` (soft margin: log(1 + e^(-m)) without
overflow). Weights multiply each element's loss; sums accumulate in float64 and are
rounded to the dtype once, and a weighted mean divides by the summed weights (as
:mod:`conformance.adapters.numpy_regression` reduces).

This module imports NumPy only inside recipe strings.
"""

from __future__ import annotations

from collections.abc import Callable

from conformance.adapters.numpy_regression import elementwise_writer, faithful_only
from conformance.binding import Binding
from conformance.recipe import RecipeWriter

DOCS = "https://numpy.org/doc/stable/reference/generated/numpy.{}.html"


def _margin(w: RecipeWriter) -> str:
    target = w.target()
    labels = f"(2 * {target} - 1)" if w.case.target.kind == "binary" else target
    w.emit(f"m = {labels} * {w.input()}")
    return "m"


def _hinge(w: RecipeWriter) -> str:
    return f"np.maximum(1 - {_margin(w)}, 0)"


def _squared_hinge(w: RecipeWriter) -> str:
    w.emit(f"h = {_hinge(w)}")
    if w.case.reduction == "none":
        return "np.square(h)"
    # Squared where the sum accumulates, in float64: h^2 can overflow float16 where the mean does not.
    return "np.square(h.astype(np.float64))"


def _perceptron(w: RecipeWriter) -> str:
    return f"np.maximum(-{_margin(w)}, 0)"


def _soft_margin(w: RecipeWriter) -> str:
    return f"np.logaddexp(0, -{_margin(w)})"


def _binding(family: str, element: Callable[[RecipeWriter], str], reads: str, doc: str) -> Binding:
    return Binding(f"numpy.{family}", family, frozenset({"scores"}), frozenset({"signs", "binary"}),
                   elementwise_writer(element), options=frozenset({"weight"}), reads=reads, doc=doc,
                   limits=faithful_only)


BINDINGS = (
    _binding("hinge", _hinge, "the canonical formula max(0, 1 - y s), y = 2t - 1 for {0, 1} labels",
             DOCS.format("maximum")),
    _binding("squared_hinge", _squared_hinge,
             "the canonical formula max(0, 1 - y s)^2, y = 2t - 1 for {0, 1} labels", DOCS.format("square")),
    _binding("perceptron", _perceptron, "the canonical formula max(0, -y s), y = 2t - 1 for {0, 1} labels",
             DOCS.format("maximum")),
    _binding("soft_margin", _soft_margin,
             "the canonical formula log(1 + e^(-y s)) as logaddexp(0, -y s), y = 2t - 1 for {0, 1} labels",
             DOCS.format("logaddexp")),
)
