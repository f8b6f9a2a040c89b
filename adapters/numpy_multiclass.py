"""The NumPy reference of the multiclass and multilabel margin families: each canonical formula by hand.

The scores are widened to float64 (exact) and each sample's loss is computed there
from the canonical formula, then the samples are reduced in float64 and the result
rounded to the evaluated dtype once (``none``: each sample's loss rounded once).
Class-index targets become a boolean mask of the true class; ``index_lists`` the
mask of the classes listed before the first -1; {0, 1} labels of the hinge
embedding loss are ``2t - 1``. No 1/C where the canonical definition has none.

This module imports NumPy only inside recipe strings.
"""

from __future__ import annotations

from collections.abc import Callable

from conformance.adapters.numpy_regression import faithful_only, reduce_elements
from conformance.binding import Binding
from conformance.recipe import RecipeWriter

DOCS = "https://numpy.org/doc/stable/reference/generated/numpy.{}.html"


def _scores(w: RecipeWriter) -> str:
    w.emit(f"s = {w.input()}.astype(np.float64)")
    return "s"


def _true_class(w: RecipeWriter) -> str:
    """A boolean mask of each sample's true class (index or one-hot target)."""
    target = w.target()
    if w.case.target.kind == "one_hot":
        w.emit(f"is_true = {target} == 1")
    else:
        w.emit(f"is_true = np.arange({w.case.num_classes}) == np.expand_dims({target}, -1)")
    return "is_true"


def _true_and_best_other(w: RecipeWriter) -> tuple[str, str]:
    """(s_y, max_{j != y} s_j) per sample: the true class masked out of the max with -inf."""
    s, is_true = _scores(w), _true_class(w)
    w.emit(f"true_score = np.sum(np.where({is_true}, {s}, 0), axis=-1)")
    w.emit(f"best_other = np.max(np.where({is_true}, -np.inf, {s}), axis=-1)")
    return "true_score", "best_other"


def _multiclass_hinge(w: RecipeWriter) -> str:
    true_score, best_other = _true_and_best_other(w)
    return f"np.maximum(1 + {best_other} - {true_score}, 0)"


def _multiclass_perceptron(w: RecipeWriter) -> str:
    true_score, best_other = _true_and_best_other(w)
    return f"np.maximum({best_other} - {true_score}, 0)"


def _multi_margin(w: RecipeWriter) -> str:
    case = w.case
    s, is_true = _scores(w), _true_class(w)
    margin = w.floats("margin", case.option("margin"))
    w.emit(f"true_score = np.sum(np.where({is_true}, {s}, 0), axis=-1, keepdims=True)")
    w.emit(f"violation = np.power(np.maximum({margin}.astype(np.float64) - true_score + {s}, 0), {case.option('p')})")
    per = f"np.sum(np.where({is_true}, 0, violation), axis=-1)"
    if case.option("weight") is not None:
        per = f"{w.weight()}.astype(np.float64)[{w.target()}] * {per}"
    return per


def _multilabel_margin(w: RecipeWriter) -> str:
    s, target = _scores(w), w.target()
    # The list ends at the first -1: entries before it name the sample's classes.
    w.emit(f"before_padding = np.cumsum(np.less({target}, 0), axis=-1) == 0")
    w.emit(f"listed = np.any(np.logical_and(np.expand_dims({target}, -1) == np.arange({w.case.num_classes}), "
           "np.expand_dims(before_padding, -1)), axis=-2)")
    w.emit(f"pairs = np.maximum(1 - (np.expand_dims({s}, -1) - np.expand_dims({s}, -2)), 0)")
    w.emit("listed_unlisted = np.logical_and(np.expand_dims(listed, -1), np.logical_not(np.expand_dims(listed, -2)))")
    return "np.sum(np.where(listed_unlisted, pairs, 0), axis=(-2, -1))"


def _multilabel_soft_margin(w: RecipeWriter) -> str:
    s = _scores(w)
    w.emit(f"t = {w.target()}.astype(np.float64)")
    # log sigmoid(s) = -logaddexp(0, -s); a 0 coefficient times -inf is 0.
    w.emit(f"terms = np.where(t == 0, 0, t * -np.logaddexp(0, -{s})) "
           f"+ np.where(t == 1, 0, (1 - t) * -np.logaddexp(0, {s}))")
    if w.case.option("weight") is not None:
        w.emit(f"terms = terms * {w.weight()}.astype(np.float64)")
    return f"-np.sum(terms, axis=-1) / {w.case.num_classes}"


def _hinge_embedding(w: RecipeWriter) -> str:
    x = _scores(w)
    target = w.target()
    w.emit(f"y = {'2 * ' + target + ' - 1' if w.case.target.kind == 'binary' else target}")
    margin = w.floats("margin", w.case.option("margin"))
    return f"np.where(y == 1, {x}, np.maximum({margin}.astype(np.float64) - {x}, 0))"


def _writer(per_sample: Callable[[RecipeWriter], str]) -> Callable[[RecipeWriter], None]:
    def write(w: RecipeWriter) -> None:
        w.emit(f"per_sample = {per_sample(w)}")
        if w.case.reduction == "none":  # the samples' float64 losses, each rounded once
            w.emit(f"loss = np.asarray(per_sample).astype({w.dtype!r})")
            return
        reduce_elements(w, "per_sample", None)

    write.__name__ = write.__qualname__ = f"_write_{per_sample.__name__.lstrip('_')}"
    return write


_SCORES = frozenset({"scores"})


def _binding(family: str, per_sample: Callable[[RecipeWriter], str], targets: set[str], reads: str,
             options: frozenset[str] = frozenset(), inputs: frozenset[str] = _SCORES) -> Binding:
    return Binding(f"numpy.{family}", family, inputs, frozenset(targets), _writer(per_sample), options=options,
                   reads=reads, doc=DOCS.format("maximum"), limits=faithful_only)


BINDINGS = (
    _binding("multiclass_hinge", _multiclass_hinge, {"index", "one_hot"},
             "the canonical formula max(0, 1 + max_{j != y} s_j - s_y) in float64"),
    _binding("multiclass_perceptron", _multiclass_perceptron, {"index", "one_hot"},
             "the canonical formula max(0, max_{j != y} s_j - s_y) in float64"),
    _binding("multi_margin", _multi_margin, {"index"},
             "the canonical formula sum_{j != y} w_y max(0, margin - s_y + s_j)^p in float64 (no 1/C)",
             options=frozenset({"p", "margin", "weight"})),
    _binding("multilabel_margin", _multilabel_margin, {"index_lists"},
             "the canonical formula sum_{j listed} sum_{i not listed} max(0, 1 - (s_j - s_i)) in float64, the "
             "list ending at the first -1 (no 1/C)"),
    _binding("multilabel_soft_margin", _multilabel_soft_margin, {"probs"},
             "the canonical formula -1/C sum_i w_i [y_i log sigmoid(s_i) + (1 - y_i) log sigmoid(-s_i)] in float64",
             options=frozenset({"weight"})),
    _binding("hinge_embedding", _hinge_embedding, {"signs", "binary"},
             "the canonical formula: x where y = 1, max(0, margin - x) where y = -1, y = 2t - 1 for {0, 1} labels",
             options=frozenset({"margin"}), inputs=frozenset({"distances"})),
)
