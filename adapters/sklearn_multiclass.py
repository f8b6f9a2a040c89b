"""scikit-learn's ``sklearn.metrics.hinge_loss`` with more than two classes: Crammer-Singer.

``hinge_loss(y_true, pred_decision, labels=...)`` with ``pred_decision`` of shape
``(n_samples, n_classes)`` and more than two distinct labels computes, per sample,
``max(0, 1 - (s_y - max_{j != y} s_j))`` and returns the (sample-weighted) average
as a Python float: ``mean`` only. Without ``labels`` every class must appear in
``y_true`` (else ValueError): the faithful call passes ``labels=np.arange(C)``, and
``one_hot`` targets as their argmax (data movement). With two classes it takes the
binary path (another family's), so it expresses only C >= 3.

This module imports scikit-learn only inside recipes (the sklearn worker).
"""

from __future__ import annotations

from conformance.binding import Binding
from conformance.case import Case
from conformance.recipe import RecipeWriter, kwargs

DOCS = "https://scikit-learn.org/stable/modules/generated/sklearn.metrics.hinge_loss.html"


def _limits(case: Case) -> str | None:
    if case.ndim != 2 or case.num_classes < 3:
        return "hinge_loss takes multiclass decision values of shape (n_samples, n_classes >= 3) only"
    return None


def _write_hinge(w: RecipeWriter) -> None:
    target = w.target()
    if w.case.target.kind == "one_hot":
        target = f"np.argmax({target}, axis=-1)"
    labels = None if w.as_is else f"np.arange({w.case.num_classes})"
    w.emit(f"loss = sklearn.metrics.hinge_loss({target}, {w.input()}{kwargs(labels=labels)})")


BINDINGS = (
    Binding("sklearn.hinge_loss.multiclass", "multiclass_hinge", frozenset({"scores"}), frozenset({"index", "one_hot"}),
            _write_hinge, reductions=frozenset({"mean"}), limits=_limits, doc=DOCS,
            reads="reads (y_true, pred_decision (n_samples, n_classes)) and averages the Crammer-Singer hinge "
                  "max(0, 1 - (s_y - max_{j != y} s_j)) over the samples, a Python float",
            refuses_dtypes={"bfloat16": "scikit-learn has no bfloat16 (ml_dtypes adds it to NumPy): hinge_loss "
                                        "raises ValueError on it (check_array: dtype='numeric' is not compatible "
                                        "with arrays of bytes/strings)"},
            profile={"multiclass_true_class": "left out"}),
)
