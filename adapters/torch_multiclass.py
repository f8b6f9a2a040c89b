"""PyTorch bindings of the multiclass and multilabel margin families (``torch.nn.functional``).

torch has ``multi_margin_loss`` (Weston-Watkins: p, margin, class weights),
``multilabel_margin_loss`` (class indices padded with -1), ``multilabel_soft_margin_loss``
(class weights) and ``hinge_embedding_loss`` (margin), each with a module form
(``MultiMarginLoss``, ``MultiLabelMarginLoss``, ``MultiLabelSoftMarginLoss``,
``HingeEmbeddingLoss``). It has no Crammer-Singer multiclass hinge and no multiclass
perceptron loss (those families have no torch binding).

``multi_margin_loss`` and ``multilabel_margin_loss`` divide each sample's sum by C
(their documentation states it): the faithful glue calls them with
``reduction='none'``, multiplies the per-sample output by C in float64 (one rounding
of torch's own result at most) and reduces it; ``as_is`` shows the 1/C. The
hinge embedding loss is given ±1 labels: ``binary`` targets become ``2 * target - 1``
(exact for 0 and 1); ``as_is`` passes {0, 1} as written, and torch then adds both
terms for a 0.

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


def _call(w: RecipeWriter, function: str, args: str, options: dict[str, object], module: str | None,
          reduction: str | None) -> str:
    given = kwargs(**options, reduction=reduction)
    if module is None:
        return f"{F}.{function}({args}{given})"
    return f"torch.nn.{module}({given.removeprefix(', ')})({args})"


def _reduction(w: RecipeWriter) -> str | None:
    return None if w.case.reduction == "mean" else repr(w.case.reduction)


def _write_per_class(w: RecipeWriter, function: str, args: str, options: dict[str, object],
                     module: str | None) -> None:
    """A loss torch divides by C: faithful, C times its per-sample output, reduced by the glue."""
    if w.as_is:
        w.emit(f"loss = {_call(w, function, args, options, module, _reduction(w))}")
        return
    classes = w.case.num_classes
    w.emit(f"per_sample = {_call(w, function, args, options, module, repr('none'))}")
    # torch's documented 1/C undone in float64: C * (S / C) rounds only where torch rounded.
    w.emit(f"sums = {classes} * per_sample.to(torch.float64)")
    if w.case.reduction == "none":
        w.emit(f"loss = sums.to(torch.{w.dtype})")
        return
    w.reduce("sums", OPS)


def _option(w: RecipeWriter, name: str, value: object) -> object:
    """Faithful: every option explicit; as_is: only an option the case sets."""
    return value if not w.as_is or name in w.case.options_set() else None


def _write_multi_margin(w: RecipeWriter, module: str | None = None) -> None:
    case = w.case
    options = {"p": _option(w, "p", case.option("p")),
               "margin": _option(w, "margin", float(case.option("margin"))),
               "weight": w.weight() if case.option("weight") is not None else None}
    _write_per_class(w, "multi_margin_loss", f"{w.input()}, {w.target()}", options, module)


def _write_multilabel_margin(w: RecipeWriter, module: str | None = None) -> None:
    _write_per_class(w, "multilabel_margin_loss", f"{w.input()}, {w.target()}", {}, module)


def _write_multilabel_soft_margin(w: RecipeWriter, module: str | None = None) -> None:
    options = {"weight": w.weight() if w.case.option("weight") is not None else None}
    call = _call(w, "multilabel_soft_margin_loss", f"{w.input()}, {w.target()}", options, module, _reduction(w))
    w.emit(f"loss = {call}")


def _write_hinge_embedding(w: RecipeWriter, module: str | None = None) -> None:
    target = w.target()
    if not w.as_is and w.case.target.kind == "binary":
        w.emit(f"signs = 2 * {target} - 1")
        target = "signs"
    options = {"margin": _option(w, "margin", float(w.case.option("margin")))}
    call = _call(w, "hinge_embedding_loss", f"{w.input()}, {target}", options, module, _reduction(w))
    w.emit(f"loss = {call}")


def _rows(case: Case) -> str | None:
    return None if case.ndim <= 2 else "takes (C,) or (N, C) scores"


_SCORES, _INDEX = frozenset({"scores"}), frozenset({"index"})
# The CPU kernels dispatch on float and double only (AT_DISPATCH_FLOATING_TYPES).
_CPU_HALF = "torch {} has no {} CPU kernel: it raises NotImplementedError (\"{}\" not implemented for '{}')"


def _refuses(function: str, kernel: str) -> dict[str, str]:
    return {dtype: _CPU_HALF.format(function, dtype, kernel, name)
            for dtype, name in (("float16", "Half"), ("bfloat16", "BFloat16"))}


_PER_CLASS = {"pair_sum_scale": "the number of classes C"}

_FUNCTIONAL = (
    Binding("torch.multi_margin_loss", "multi_margin", _SCORES, _INDEX, _write_multi_margin,
            options=frozenset({"p", "margin", "weight"}), limits=_rows,
            reads="sum_{j != y} w_y max(0, margin - x[y] + x[j])^p / C per sample (p=1, margin=1): divided by "
                  "the number of classes C, the true class included; 'mean' is a plain mean over the samples "
                  "(the faithful glue multiplies the per-sample output by C)",
            refuses_dtypes=_refuses("multi_margin_loss", "multi_margin_loss_cpu_kernel"),
            doc=DOCS.format("multi_margin_loss"), profile=_PER_CLASS),
    Binding("torch.multilabel_margin_loss", "multilabel_margin", _SCORES, frozenset({"index_lists"}),
            _write_multilabel_margin, limits=_rows,
            reads="sum over listed targets j and unlisted classes i of max(0, 1 - (x[j] - x[i])) / C per sample, "
                  "the list ending at the first -1 (the faithful glue multiplies the per-sample output by C)",
            refuses_dtypes=_refuses("multilabel_margin_loss", "multilabel_margin_loss_forward_out_frame"),
            doc=DOCS.format("multilabel_margin_loss"),
            profile={**_PER_CLASS, "multilabel_padding": "ignored (the list ends)"}),
    Binding("torch.multilabel_soft_margin_loss", "multilabel_soft_margin", _SCORES, frozenset({"probs"}),
            _write_multilabel_soft_margin, options=frozenset({"weight"}), limits=_rows,
            reads="-1/C sum_i w_i [y_i log sigmoid(x_i) + (1 - y_i) log sigmoid(-x_i)] per sample, mean over samples",
            doc=DOCS.format("multilabel_soft_margin_loss"),
            profile={"multilabel_class_mean": "the number of classes C"}),
    Binding("torch.hinge_embedding_loss", "hinge_embedding", frozenset({"distances"}), frozenset({"signs", "binary"}),
            _write_hinge_embedding, options=frozenset({"margin"}),
            reads="where(y != 1, max(0, margin - x), 0) + where(y != -1, x, 0) per element (margin=1): a label "
                  "that is neither 1 nor -1 adds both terms; the faithful glue gives {0, 1} labels as 2t - 1",
            doc=DOCS.format("hinge_embedding_loss"),
            profile={"embedding_labels": "neither 1 nor -1: adds both terms"}),
)

_MODULES = {"torch.multi_margin_loss": ("MultiMarginLoss", _write_multi_margin),
            "torch.multilabel_margin_loss": ("MultiLabelMarginLoss", _write_multilabel_margin),
            "torch.multilabel_soft_margin_loss": ("MultiLabelSoftMarginLoss", _write_multilabel_soft_margin),
            "torch.hinge_embedding_loss": ("HingeEmbeddingLoss", _write_hinge_embedding)}

BINDINGS = _FUNCTIONAL + tuple(
    replace(b, id=f"torch.nn.{_MODULES[b.id][0]}", write=partial(_MODULES[b.id][1], module=_MODULES[b.id][0]),
            documented_by=(Inherits(b.id, shared_only=True),), doc=MODULE_DOCS.format(_MODULES[b.id][0]))
    for b in _FUNCTIONAL)
