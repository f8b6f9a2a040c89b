"""PyTorch bindings of CTC (``torch.nn.functional.ctc_loss``, ``torch.nn.CTCLoss``).

torch takes log-probabilities ``(T, N, C)`` (time-major), padded targets ``(N, S)``
with ``input_lengths`` and ``target_lengths``, ``blank=0`` by default and
``zero_infinity``. Its ``'mean'`` divides each sequence's loss by its target length
(clamped to 1) before the batch mean: that is the case's reduction ``length_mean``;
the case's ``mean`` (a plain batch mean) is ``reduction='none'`` reduced by the glue. The faithful glue
gives logits to it as ``log_softmax`` over the classes (a converted input: the
gradient is judged with respect to the log-probabilities torch receives) and
transposes a batch-major input to ``(T, N, C)`` (data movement). ``as_is`` passes
the input as written: logits are then read as log-probabilities.

Its backward assumes the log-probabilities came from a log_softmax: it returns
``exp(log p) - gamma``, the gradient with respect to the logits, not ``-gamma``
(the gradient reading ``ctc_softmax_assumed``). CPU kernels exist for float32 and
float64 only.

This module imports torch only inside recipe strings.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from conformance.adapters.ctc_glue import input_length_vector, label_lengths, padded_labels
from conformance.adapters.torch_regression import OPS
from conformance.binding import Binding, Inherits
from conformance.recipe import RecipeWriter, kwargs

F = "torch.nn.functional"
DOCS = "https://pytorch.org/docs/stable/generated/torch.nn.functional.ctc_loss.html"
MODULE_DOCS = "https://pytorch.org/docs/stable/generated/torch.nn.CTCLoss.html"
KERNEL = "https://github.com/pytorch/pytorch/blob/v2.13.0/aten/src/ATen/native/LossCTC.cpp"


def _log_probs(w: RecipeWriter) -> str:
    x = w.input()
    if not w.as_is and w.case.input.kind == "logits":
        x = w.converted("log_probs", f"{F}.log_softmax({x}, dim=-1)")
    return x if w.case.option("time_major") else f"{x}.transpose(0, 1)"


def _write_ctc(w: RecipeWriter, module: str | None = None) -> None:
    case = w.case
    # torch's own 'mean' is the length-normalised one: the case's length_mean, and what as_is shows
    # for the case's mean; the faithful plain mean reduces 'none'.
    native = w.as_is or case.reduction != "mean"
    if case.reduction in ("mean", "length_mean"):
        reduction = None if native else "'none'"
    else:
        reduction = repr(str(case.reduction))
    options = kwargs(blank=case.option("blank") or None, reduction=reduction,
                     zero_infinity=True if case.option("zero_infinity") else None)
    args = f"{_log_probs(w)}, {padded_labels(w)}, {input_length_vector(w)}, {label_lengths(w)}"
    call = (f"{F}.ctc_loss({args}{options})" if module is None
            else f"torch.nn.{module}({options.removeprefix(', ')})({args})")
    if native:
        w.emit(f"loss = {call}")
        return
    w.emit(f"per_sequence = {call}")
    w.reduce("per_sequence", OPS)


_REFUSES = {d: f'"ctc_loss_cpu" not implemented for {d!r} (CPU kernels are float32 and float64 only)'
            for d in ("float16", "bfloat16")}

CTC = Binding(
    "torch.ctc_loss", "ctc", frozenset({"logits", "log_probs"}), frozenset({"labels"}), _write_ctc,
    options=frozenset({"blank", "input_lengths", "zero_infinity", "time_major", "left_padded"}),
    reductions=frozenset({"mean", "sum", "none", "length_mean"}),
    reads="reads (T, N, C) log-probabilities (logits are not renormalised), padded targets with lengths, blank 0; "
          "'mean' divides each loss by its target length (at least 1) before the batch mean",
    doc=DOCS, refuses_dtypes=_REFUSES,
    grad_readings={"logits": "ctc_softmax_assumed", "log_probs": "ctc_softmax_assumed"},
    profile={"ctc_input": "log-probabilities", "ctc_infeasible": "inf",
             "ctc_mean": "each loss by its label length, then batch"})

CTC_MODULE = replace(CTC, id="torch.nn.CTCLoss", write=partial(_write_ctc, module="CTCLoss"),
                     documented_by=(Inherits(CTC.id, shared_only=True),), doc=MODULE_DOCS)

BINDINGS = (CTC, CTC_MODULE)
