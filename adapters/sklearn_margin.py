"""scikit-learn's ``sklearn.metrics.hinge_loss``: the average hinge loss of a binary classifier.

``hinge_loss(y_true, pred_decision, sample_weight=...)`` takes labels of shape
``(n_samples,)`` and, in the binary case (at most two distinct labels), decision
values of the same length. It encodes the labels itself with
``LabelBinarizer(neg_label=-1)``: the smaller of the two labels becomes -1 and the
greater +1, so {0, 1} and {-1, 1} both give the ±1 labels (the faithful call gives
the labels as written, of either kind). A batch holding one distinct label is a
single class to the binarizer, which then encodes every label as -1, whatever it
is. It returns Σ w max(0, 1 - y s) / Σ w as a Python float: ``mean`` only. A
column ``(n_samples, 1)`` is accepted (``column_or_1d``); weights are then given
flattened. It has no squared hinge, perceptron or soft-margin metric.

This module imports scikit-learn only inside recipes (the sklearn worker).
"""

from __future__ import annotations

from conformance.binding import Binding
from conformance.case import Case
from conformance.recipe import RecipeWriter, kwargs

DOCS = "https://scikit-learn.org/stable/modules/generated/sklearn.metrics.hinge_loss.html"
SOURCE = "https://github.com/scikit-learn/scikit-learn/blob/1.9.1/sklearn/metrics/_classification.py"


def _limits(case: Case) -> str | None:
    shape = case.input.values.shape
    if len(shape) == 1 or (len(shape) == 2 and shape[1] == 1):
        return None
    return "hinge_loss takes labels and binary decision values of shape (n_samples,) (or one column)"


def _write_hinge(w: RecipeWriter) -> None:
    weight = f"np.ravel({w.weight()})" if w.case.option("weight") is not None else None
    w.emit(f"loss = sklearn.metrics.hinge_loss({w.target()}, {w.input()}{kwargs(sample_weight=weight)})")


BINDINGS = (
    Binding("sklearn.hinge_loss", "hinge", frozenset({"scores"}), frozenset({"signs", "binary"}), _write_hinge,
            options=frozenset({"weight"}), reductions=frozenset({"mean"}), limits=_limits, doc=DOCS,
            reads="reads (y_true, pred_decision), encodes two distinct labels as -1 (the smaller) and +1 "
                  "(the greater) and a single distinct label as -1, and averages max(0, 1 - y s) over the "
                  "samples (weighted by sample_weight), a Python float",
            refuses_dtypes={"bfloat16": "scikit-learn has no bfloat16 (ml_dtypes adds it to NumPy): hinge_loss "
                                        "raises ValueError on it (check_array: dtype='numeric' is not compatible "
                                        "with arrays of bytes/strings)"},
            profile={"margin_labels": "converted to -1, +1"}),
)
