"""PyTorch bindings of the similarity families (``torch.nn.functional`` and ``torch.nn``).

``cosine_similarity(x1, x2, dim=1, eps=1e-8)`` returns the cosine per position,
each norm clamped at eps (its docstring: x1 . x2 / (max(|x1|, eps) max(|x2|, eps)));
it is a function, not a loss, with no reduction: the glue reduces its output (in
float64, rounding once), and the faithful call names the case's feature axis
(``dim=``; as_is: torch's default dim=1). ``cosine_embedding_loss`` /
``CosineEmbeddingLoss`` take (x1, x2, y) with one ±1 label per pair and
``margin`` (default 0), and add ``EPSILON = 1e-12`` to each squared norm (ATen
``Loss.cpp``). ``triplet_margin_loss`` / ``TripletMarginLoss`` take (anchor,
positive, negative, margin=1, p=2, eps=1e-6, swap=False) and measure distances
with ``pairwise_distance``, which adds eps to every coordinate difference;
``triplet_margin_with_distance_loss`` / ``TripletMarginWithDistanceLoss`` use
``pairwise_distance`` with its defaults (p = 2, eps = 1e-6) unless given a
``distance_function``, so they express only p = 2. The margin losses refuse
``margin <= 0`` (ValueError). The faithful glue passes every option
explicitly and leaves each eps at its default: it is the API's.

This module imports torch only inside recipe strings.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from conformance.adapters.torch_regression import OPS
from conformance.binding import Binding, Inherits
from conformance.case import Case
from conformance.recipe import RecipeWriter, kwargs

F = "torch.nn.functional"
DOCS = "https://pytorch.org/docs/stable/generated/torch.nn.functional.{}.html"
MODULE_DOCS = "https://pytorch.org/docs/stable/generated/torch.nn.{}.html"


def _given(w: RecipeWriter, name: str) -> object:
    """An option's value: faithful, always explicit; as_is, only where the case sets it."""
    if w.as_is and name not in w.case.options_set():
        return None
    value = w.case.option(name)
    return repr(float(value)) if isinstance(value, float | int) and not isinstance(value, bool) else repr(value)


def _reduction(w: RecipeWriter) -> str | None:
    return None if w.case.reduction == "mean" else repr(w.case.reduction)


def _call(w: RecipeWriter, function: str, args: str, options: str, module: str | None) -> None:
    if module is None:
        w.emit(f"loss = {F}.{function}({args}{options})")
    else:
        w.emit(f"loss = torch.nn.{module}({options.removeprefix(', ')})({args})")


def _write_cosine_similarity(w: RecipeWriter) -> None:
    dim = None if w.as_is else w.case.axis
    w.emit(f"per_position = {F}.cosine_similarity({w.input()}, {w.target()}{kwargs(dim=dim)})")
    w.reduce("per_position", OPS)


def _write_cosine_embedding(w: RecipeWriter, module: str | None = None) -> None:
    labels = w.floats("labels", w.case.option("labels"))
    options = kwargs(margin=_given(w, "margin"), reduction=_reduction(w))
    _call(w, "cosine_embedding_loss", f"{w.input()}, {w.target()}, {labels}", options, module)


def _write_triplet(w: RecipeWriter, module: str | None = None) -> None:
    negatives = w.floats("negatives", w.case.option("negatives"))
    options = kwargs(margin=_given(w, "margin"), p=_given(w, "p"), swap=_given(w, "swap"), reduction=_reduction(w))
    _call(w, "triplet_margin_loss", f"{w.input()}, {w.target()}, {negatives}", options, module)


def _write_triplet_with_distance(w: RecipeWriter, module: str | None = None) -> None:
    negatives = w.floats("negatives", w.case.option("negatives"))
    options = kwargs(margin=_given(w, "margin"), swap=_given(w, "swap"), reduction=_reduction(w))
    _call(w, "triplet_margin_with_distance_loss", f"{w.input()}, {w.target()}, {negatives}", options, module)


def _euclidean_only(case: Case) -> str | None:
    if case.option("p") != 2:
        return "its default distance is pairwise_distance with p = 2; another p needs a distance_function of our own"
    return None


_TRIPLET_PROFILE = {"triplet_guard": "1e-6 added to each difference",
                    "triplet_abs": "sum of |differences| (with its eps)"}

_FUNCTIONAL = (
    Binding("torch.cosine_similarity", "cosine_similarity", frozenset({"embeddings"}), frozenset({"references"}),
            _write_cosine_similarity,
            reads="returns x1 . x2 / (max(|x1|, 1e-8) max(|x2|, 1e-8)) along dim=1 (default), unreduced (a similarity, "
                  "not a loss); the glue reduces it",
            doc=DOCS.format("cosine_similarity"),
            profile={"cosine_sign": "cos", "cosine_guard": "each norm clamped at 1e-8", "cosine_axis": "1"}),
    Binding("torch.cosine_embedding_loss", "cosine_embedding", frozenset({"embeddings"}), frozenset({"pairs"}),
            _write_cosine_embedding, options=frozenset({"labels", "margin"}),
            reads="computes 1 - cos where y = 1, max(0, cos - margin) where y = -1 (0 for any other y), margin = 0, with "
                  "cos = x1 . x2 / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12)); mean over the pairs",
            doc=DOCS.format("cosine_embedding_loss"),
            profile={"cosine_guard": "1e-12 added to each squared norm"}),
    Binding("torch.triplet_margin_loss", "triplet_margin", frozenset({"anchors"}), frozenset({"positives"}),
            _write_triplet, options=frozenset({"negatives", "margin", "p", "swap"}),
            reads="computes max(0, d(a, p) - d(a, n) + margin) with margin = 1, d = pairwise_distance(p=2, eps=1e-6) = "
                  "|x1 - x2 + eps|_p (eps added to every difference), swap=False; refuses margin <= 0",
            doc=DOCS.format("triplet_margin_loss"), profile=_TRIPLET_PROFILE),
    Binding("torch.triplet_margin_with_distance_loss", "triplet_margin", frozenset({"anchors"}),
            frozenset({"positives"}), _write_triplet_with_distance, options=frozenset({"negatives", "margin", "swap"}),
            limits=_euclidean_only,
            reads="computes max(0, d(a, p) - d(a, n) + margin) with margin = 1 and d = torch.pairwise_distance "
                  "(p = 2, eps = 1e-6 added to every difference) unless a distance_function is given; "
                  "refuses margin <= 0",
            doc=DOCS.format("triplet_margin_with_distance_loss"),
            profile={"triplet_guard": "1e-6 added to each difference"}),
)

_MODULES = {"torch.cosine_embedding_loss": ("CosineEmbeddingLoss", _write_cosine_embedding),
            "torch.triplet_margin_loss": ("TripletMarginLoss", _write_triplet),
            "torch.triplet_margin_with_distance_loss": ("TripletMarginWithDistanceLoss",
                                                        _write_triplet_with_distance)}
_MODULE_FORMS = tuple(
    replace(b, id=f"torch.nn.{_MODULES[b.id][0]}", write=partial(_MODULES[b.id][1], module=_MODULES[b.id][0]),
            documented_by=(Inherits(b.id, shared_only=True),), doc=MODULE_DOCS.format(_MODULES[b.id][0]))
    for b in _FUNCTIONAL if b.id in _MODULES)

BINDINGS = _FUNCTIONAL + _MODULE_FORMS
