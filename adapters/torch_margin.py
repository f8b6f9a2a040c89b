"""PyTorch bindings of the binary margin families (``torch.nn.functional.soft_margin_loss``).

torch has one binary margin loss: ``soft_margin_loss`` (module form
``torch.nn.SoftMarginLoss``), log(1 + exp(-y x)) per element with the labels
``y`` taken as they are. It has no binary hinge, squared hinge or perceptron
loss: ``hinge_embedding_loss`` is the loss of a distance (x where y = 1,
max(0, margin - x) where y = -1) and ``multi_margin_loss`` is the multi-class
hinge over a class axis, other families both. {0, 1} labels (target kind
``binary``) are given to it as ±1: the faithful glue computes ``2 * target - 1``,
exact for 0 and 1; ``as_is`` passes the labels as written, and a 0 label is then a
label of 0 (log 2 whatever the score). Neither form takes weights: the glue
multiplies the unreduced losses by the weights and reduces them (a weighted mean
divides by the summed weights).

This module imports torch only inside recipe strings.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from conformance.adapters.torch_regression import write_call
from conformance.binding import Binding, Inherits
from conformance.recipe import RecipeWriter

DOCS = "https://pytorch.org/docs/stable/generated/torch.nn.functional.{}.html"
MODULE_DOCS = "https://pytorch.org/docs/stable/generated/torch.nn.{}.html"


def _labels(w: RecipeWriter) -> str:
    """The ±1 labels the API wants: ``binary`` targets converted by the glue (exact for 0 and
    1); ``signs`` as they are; as_is: the labels exactly as written."""
    target = w.target()
    if w.as_is or w.case.target.kind != "binary":
        return target
    w.emit(f"signs = 2 * {target} - 1")
    return "signs"


def _write_soft_margin(w: RecipeWriter, module: str | None = None) -> None:
    write_call(w, "soft_margin_loss", f"{w.input()}, {_labels(w)}", {}, module)


SOFT_MARGIN = Binding(
    "torch.soft_margin_loss", "soft_margin", frozenset({"scores"}), frozenset({"signs", "binary"}),
    _write_soft_margin, options=frozenset({"weight"}),
    reads="log1p(exp(-target * input)) per element with the labels taken as they are (a 0 label gives log 2) "
          "and no weights; the faithful glue converts {0, 1} labels to 2t - 1 (exact) and weights the "
          "unreduced output",
    doc=DOCS.format("soft_margin_loss"),
    profile={"margin_labels": "taken as they are (0 is a label of 0)", "sum": "every element"})

SOFT_MARGIN_MODULE = replace(
    SOFT_MARGIN, id="torch.nn.SoftMarginLoss", write=partial(_write_soft_margin, module="SoftMarginLoss"),
    documented_by=(Inherits(SOFT_MARGIN.id, shared_only=True),), doc=MODULE_DOCS.format("SoftMarginLoss"))

BINDINGS = (SOFT_MARGIN, SOFT_MARGIN_MODULE)
