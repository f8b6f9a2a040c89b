"""PyTorch bindings (``torch.nn.functional``).

PyTorch puts the class axis at dim 1 ((N, C, d1, ...)), or dim 0 for a 1-D
input. ``cross_entropy`` applies log-softmax to its input itself;
``nll_loss`` and ``kl_div`` want log-probabilities; ``binary_cross_entropy``
wants probabilities and clamps each log at -100.

This module imports torch only inside the worker-side functions at the end.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any

from conformance.adapters.torch_ctc import BINDINGS as CTC_BINDINGS
from conformance.adapters.torch_margin import BINDINGS as MARGIN_BINDINGS
from conformance.adapters.torch_multiclass import BINDINGS as MULTICLASS_BINDINGS
from conformance.adapters.torch_regression import BINDINGS as REGRESSION_BINDINGS
from conformance.adapters.torch_similarity import BINDINGS as SIMILARITY_BINDINGS
from conformance.binding import Binding, Framework, Inherits
from conformance.recipe import RecipeWriter, kwargs

F = "torch.nn.functional"
DOCS = "https://pytorch.org/docs/stable/generated/torch.nn.functional.{}.html"


def _class_dim(w: RecipeWriter) -> int:
    return 1 if w.case.ndim > 1 else 0


def _classes_at_dim1(w: RecipeWriter, array: str) -> str:
    """``array`` with the case's class axis moved to where torch wants it (as_is: as written)."""
    if w.as_is or w.case.axis == _class_dim(w):
        return array
    return f"torch.movedim({array}, {w.case.axis}, {_class_dim(w)})"


def _as_logits(w: RecipeWriter) -> str:
    x, kind = w.input(), w.case.input.kind
    # Log-probabilities are valid logits: log_softmax(log p) = log p.
    return x if w.as_is or kind != "probs" else w.converted("log_probs", f"torch.log({x})")


def _as_log_probs(w: RecipeWriter) -> str:
    x, kind = w.input(), w.case.input.kind
    if w.as_is or kind == "log_probs":
        return x
    if kind == "probs":
        return w.converted("log_probs", f"torch.log({x})")
    return f"{F}.log_softmax({x}, dim={w.case.axis})"


def _reduction(w: RecipeWriter) -> str | None:
    return None if w.case.reduction == "mean" else repr(w.case.reduction)


def _call(w: RecipeWriter, function: str, args: str, options: str, module: str | None) -> None:
    """``F.function(args, options)``, or the module form ``torch.nn.Module(options)(args)``."""
    if module is None:
        w.emit(f"loss = {F}.{function}({args}{options})")
    else:
        w.emit(f"loss = torch.nn.{module}({options.removeprefix(', ')})({args})")


def _write_cross_entropy(w: RecipeWriter, module: str | None = None) -> None:
    target = w.target()
    if w.case.target.kind == "probs":
        target = _classes_at_dim1(w, target)
    options = kwargs(weight=w.weight() if w.case.option("weight") is not None else None,
                     ignore_index=w.case.option("ignore_index"),
                     label_smoothing=w.case.option("label_smoothing") or None,
                     reduction=_reduction(w))
    _call(w, "cross_entropy", f"{_classes_at_dim1(w, _as_logits(w))}, {target}", options, module)


def _write_nll_loss(w: RecipeWriter, module: str | None = None) -> None:
    options = kwargs(weight=w.weight() if w.case.option("weight") is not None else None,
                     ignore_index=w.case.option("ignore_index"), reduction=_reduction(w))
    _call(w, "nll_loss", f"{_classes_at_dim1(w, _as_log_probs(w))}, {w.target()}", options, module)


def _write_binary_cross_entropy(w: RecipeWriter, module: str | None = None) -> None:
    _call(w, "binary_cross_entropy", f"{w.input()}, {w.target()}", kwargs(reduction=_reduction(w)), module)


def _write_binary_cross_entropy_with_logits(w: RecipeWriter, module: str | None = None) -> None:
    given = w.case.option("pos_weight")
    pos_weight = w.floats("pos_weight", given) if given is not None else None
    options = kwargs(pos_weight=pos_weight, reduction=_reduction(w))
    _call(w, "binary_cross_entropy_with_logits", f"{w.input()}, {w.target()}", options, module)


def _write_kl_div(w: RecipeWriter, module: str | None = None) -> None:
    log_target = True if w.case.target.kind == "log_probs" and not w.as_is else None
    options = kwargs(reduction=_reduction(w), log_target=log_target)
    _call(w, "kl_div", f"{_as_log_probs(w)}, {w.target()}", options, module)


_CE_INPUTS = frozenset({"logits", "log_probs", "probs"})
# The faithful glue gives log p (or log-probabilities) to an API that takes logits.
_LOGITS_API_GRADIENTS = {"log_probs": "softmax"}

_FUNCTIONAL = (
    Binding("torch.cross_entropy", "cross_entropy", _CE_INPUTS, frozenset({"index", "probs"}),
            _write_cross_entropy,
            options=frozenset({"weight", "ignore_index", "label_smoothing"}),
            reads="applies log_softmax over dim 1 (reads its input as logits)",
            grad_readings=_LOGITS_API_GRADIENTS,
            doc=DOCS.format("cross_entropy"),
            profile={"input": "logits",
                     "unnormalised": "n/a: reads logits",
                     "zero_probability": "n/a: reads logits",
                     "neg_inf": "NaN (0 * -inf) / finite (0 log 0 = 0)",
                     "class_axis": "1",
                     "smoothing": "eps/C"}),
    Binding("torch.nll_loss", "cross_entropy", _CE_INPUTS, frozenset({"index"}),
            _write_nll_loss, options=frozenset({"weight", "ignore_index"}),
            reads="reads its input as log-probabilities and returns -input[target]",
            doc=DOCS.format("nll_loss"),
            profile={"input": "log-probabilities",
                     "unnormalised": "n/a: reads log-probabilities",
                     "zero_probability": "n/a: reads log-probabilities",
                     "neg_inf": "n/a: reads log-probabilities",
                     "class_axis": "n/a: reads log-probabilities"}),
    Binding("torch.binary_cross_entropy", "binary_cross_entropy", frozenset({"probs"}),
            frozenset({"probs"}), _write_binary_cross_entropy,
            reads="reads its input as probabilities (refuses values outside [0, 1]) "
                  "and clamps each log at -100",
            doc=DOCS.format("binary_cross_entropy"),
            profile={"input": "probabilities",
                     "zero_probability": "log clamped at -100",
                     "neg_inf": "raises RuntimeError"}),
    Binding("torch.binary_cross_entropy_with_logits", "binary_cross_entropy",
            frozenset({"logits"}), frozenset({"probs"}), _write_binary_cross_entropy_with_logits,
            options=frozenset({"pos_weight"}),
            reads="applies log_sigmoid (reads its input as logits)",
            doc=DOCS.format("binary_cross_entropy_with_logits"),
            profile={"input": "logits",
                     "zero_probability": "n/a: reads logits",
                     "neg_inf": "NaN (0 * -inf)"}),
    Binding("torch.kl_div", "kl_divergence", _CE_INPUTS, frozenset({"probs", "log_probs"}),
            _write_kl_div, reductions=frozenset({"mean", "sum", "none", "batchmean"}),
            reads="reads its input as log-probabilities and its target as probabilities "
                  "(log_target=False)",
            doc=DOCS.format("kl_div"),
            profile={"input": "log-probabilities",
                     "zero_probability": "n/a: reads log-probabilities",
                     "neg_inf": "NaN (0 * -inf)"}),
)

# The module forms call the functional forms; they share their documented
# deviations (and must show the same ones, or the rows fail).
_MODULES = {"torch.cross_entropy": ("CrossEntropyLoss", _write_cross_entropy),
            "torch.nll_loss": ("NLLLoss", _write_nll_loss),
            "torch.binary_cross_entropy": ("BCELoss", _write_binary_cross_entropy),
            "torch.binary_cross_entropy_with_logits": ("BCEWithLogitsLoss",
                                                       _write_binary_cross_entropy_with_logits),
            "torch.kl_div": ("KLDivLoss", _write_kl_div)}
_MODULE_FORMS = tuple(
    replace(b, id=f"torch.nn.{_MODULES[b.id][0]}", write=partial(_MODULES[b.id][1], module=_MODULES[b.id][0]),
            documented_by=(Inherits(b.id, shared_only=True),),
            doc=f"https://pytorch.org/docs/stable/generated/torch.nn.{_MODULES[b.id][0]}.html")
    for b in _FUNCTIONAL)

_GRADIENT = ("leaf = {x}.detach().requires_grad_(True)",
             "grad, = torch.autograd.grad(loss_of(leaf).sum(), leaf)",
             "print(grad.tolist())")

FRAMEWORK = Framework(
    name="torch",
    distributions=("torch",),
    imports=("import torch",),
    float_array="torch.tensor({data}, dtype=torch.{dtype})",
    index_array="torch.tensor({data})",
    show="loss.tolist()",
    worker_module="conformance.adapters.torch",
    bindings=_FUNCTIONAL + _MODULE_FORMS + CTC_BINDINGS + REGRESSION_BINDINGS + MARGIN_BINDINGS + SIMILARITY_BINDINGS
    + MULTICLASS_BINDINGS,
    accelerators={"cuda": 'torch.set_default_device("cuda")'},
    gradient=_GRADIENT,
)


def library_on_torch(name: str, module: str, bindings: tuple[Binding, ...]) -> Framework:
    """A library of losses written on torch (kornia, MONAI): torch's tensors and autograd,
    in a worker of its own (``conformance.adapters.<name>``), on the CPU. It covers part
    of the case format only, so it is not a complete framework."""
    return Framework(
        name=name, distributions=(name, "torch"), imports=("import torch", f"import {module}"),
        float_array=FRAMEWORK.float_array, index_array=FRAMEWORK.index_array, show=FRAMEWORK.show,
        worker_module=f"conformance.adapters.{name}", complete=False, bindings=bindings,
        gradient=_GRADIENT)


# -- worker side: only ever called inside the torch worker process ----------
def setup(library: str | None = None) -> None:
    """One thread (the runner runs frameworks side by side), and ``library`` imported
    before the first recipe, so that its import is start-up, not a recipe's time."""
    import importlib

    import torch

    torch.set_num_threads(1)
    if library is not None:
        importlib.import_module(library)


def to_numpy(value: Any) -> Any:
    import torch

    return value.detach().to(device="cpu", dtype=torch.float64).numpy()


def result_dtype(value: Any) -> str:
    return str(value.dtype).removeprefix("torch.")


def device() -> str:
    return "cpu"


def before_recipe() -> None:
    """A cuda recipe sets the default device for the process: each recipe starts on the CPU."""
    import torch

    torch.set_default_device(None)


def accelerators() -> list[str]:
    import torch

    return ["cuda"] if torch.cuda.is_available() else []
