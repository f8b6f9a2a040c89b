"""kornia bindings of the focal families (``kornia.losses``, v0.9.0).

- ``binary_focal_loss_with_logits(pred, target, alpha=0.25, gamma=2.0, reduction='none')``
  and its module ``BinaryFocalLossWithLogits(alpha, gamma, reduction)``: logits of shape
  ``(B, C, *)`` (at least 2-D) and a target of that shape; each term weighted by its
  label mass, ``t alpha (1-p)^g (-log p) + (1-t)(1-alpha) p^g (-log(1-p))`` - the
  canonical soft-label generalisation. The function applies ``alpha = 0.25`` unless
  told ``alpha=None``; the module has no default (the glue passes the case's α, None
  when it has none).
- ``focal_loss(pred, target, alpha, gamma=2.0, reduction='none', weight=None)`` and
  ``FocalLoss``: softmax over dim 1 of ``(B, C, *)`` logits, int64 class indices
  ``(B, *)``. ``alpha`` is one number, read as ``[1 - alpha, alpha, ..., alpha]`` (class 0
  the background); per-class weights are ``weight`` (shape ``(C,)``), which is how the
  glue passes the case's per-class α (``alpha=None``). It returns one slice per class
  (``(B, C, *)``, zero off the target class), so ``'mean'`` divides by B x C x pixels.

Faithful calls ask for ``reduction='none'``; the glue sums the class slices in float64
and reduces as the case asks (rounding once). ``as_is`` calls pass the case's reduction.
kornia has no label smoothing and takes no probabilities: such cases are not its.

This module imports neither kornia nor torch: recipes do.
"""

from __future__ import annotations

from conformance.adapters.torch_regression import OPS
from conformance.binding import Binding, Inherits
from conformance.case import Case
from conformance.recipe import RecipeWriter, kwargs

V = "https://github.com/kornia/kornia/blob/v0.9.0/kornia/losses/focal.py"
DOCS = "https://kornia.readthedocs.io/en/latest/losses.html#kornia.losses.{}"


def _binary_limits(case: Case) -> str | None:
    if case.ndim < 2:
        return "kornia's focal losses take (B, C, *) input, at least 2-D"
    return None


def _categorical_limits(case: Case) -> str | None:
    if case.ndim < 2 or case.axis != 1:
        return "kornia.losses.focal_loss takes (B, C, *) logits, classes on axis 1"
    if case.target.kind != "index":
        return "kornia.losses.focal_loss takes class indices (B, *), not probabilities"
    return None


def _gamma(w: RecipeWriter) -> str | None:
    return repr(float(w.case.option("gamma"))) if not w.as_is or "gamma" in w.case.options_set() else None


def _reduction(w: RecipeWriter) -> str:
    return "'none'" if not w.as_is else repr(str(w.case.reduction))


def _finish(w: RecipeWriter, call: str, class_slices: bool) -> None:
    if w.as_is:
        w.emit(f"loss = {call}")
        return
    w.emit(f"per_element = {call}")
    per = "per_element"
    if class_slices:
        # One slice per class, zero off the target: their float64 sum is the position's loss.
        w.emit(f"per_position = {OPS.widen.format('per_element', dtype='float64')}.sum(1)")
        per = "per_position"
        if w.case.reduction == "none":
            w.emit(f"per_position = per_position.to(torch.{w.dtype})")
    w.reduce(per, OPS)


def _write_binary(w: RecipeWriter, module: bool = False) -> None:
    alpha = w.case.option("alpha")
    if module or not w.as_is or alpha is not None:
        alpha_text = repr(alpha)  # faithful: None where the case has no α (the function's default is 0.25)
    else:
        alpha_text = None
    options = kwargs(alpha=alpha_text, gamma=_gamma(w), reduction=_reduction(w))
    args = f"{w.input()}, {w.target()}"
    call = (f"kornia.losses.BinaryFocalLossWithLogits({options.removeprefix(', ')})({args})" if module
            else f"kornia.losses.binary_focal_loss_with_logits({args}{options})")
    _finish(w, call, class_slices=False)


def _write_categorical(w: RecipeWriter, module: bool = False) -> None:
    alpha = w.case.option("alpha")
    # kornia's alpha is one number (class 0 gets 1 - alpha); its per-class weights are `weight`.
    weight = w.floats("alpha", alpha) if alpha is not None else None
    options = kwargs(alpha="None", gamma=_gamma(w), reduction=_reduction(w), weight=weight)
    args = f"{w.input()}, {w.target()}"
    call = (f"kornia.losses.FocalLoss({options.removeprefix(', ')})({args})" if module
            else f"kornia.losses.focal_loss({args}{options})")
    _finish(w, call, class_slices=True)


_BINARY_PROFILE = {"focal_input": "logits", "focal_alpha": "applied",
                   "focal_soft_labels": "each term weighted: t a(1-p)^g(-log p) + (1-t)(1-a)p^g(-log(1-p))"}
_CATEGORICAL_PROFILE = {"focal_input": "logits", "focal_class_alpha_default": "none",
                        "focal_class_mean": "N x C (one slice per class)", "focal_activation": "softmax"}
_LOGITS, _GAMMA_ALPHA = frozenset({"logits"}), frozenset({"gamma", "alpha"})

BINARY = Binding(
    "kornia.binary_focal_loss_with_logits", "binary_focal", _LOGITS, frozenset({"probs"}), _write_binary,
    options=_GAMMA_ALPHA, limits=_binary_limits,
    reads="reads (B, C, *) logits, weights each term by its label mass and applies alpha = 0.25 unless given "
          "alpha=None; reduction='none' by default",
    doc=DOCS.format("binary_focal_loss_with_logits"),
    profile={**_BINARY_PROFILE, "focal_alpha_default": "0.25"})
BINARY_MODULE = Binding(
    "kornia.BinaryFocalLossWithLogits", "binary_focal", _LOGITS, frozenset({"probs"}),
    lambda w: _write_binary(w, module=True), options=_GAMMA_ALPHA, limits=_binary_limits,
    reads="as binary_focal_loss_with_logits; alpha has no default (the glue passes the case's, None if unset)",
    doc=DOCS.format("BinaryFocalLossWithLogits"), documented_by=(Inherits(BINARY.id, shared_only=True),),
    profile={**_BINARY_PROFILE, "focal_alpha_default": "none"})
CATEGORICAL = Binding(
    "kornia.focal_loss", "categorical_focal", _LOGITS, frozenset({"index"}), _write_categorical,
    options=_GAMMA_ALPHA, limits=_categorical_limits,
    reads="reads (B, C, *) logits (softmax over dim 1) and class indices, returns one slice per class "
          "((B, C, *), so 'mean' divides by B x C x pixels); alpha is one number read as [1 - alpha, alpha, ...], "
          "per-class weights are `weight`",
    doc=DOCS.format("focal_loss"), profile=_CATEGORICAL_PROFILE)
CATEGORICAL_MODULE = Binding(
    "kornia.FocalLoss", "categorical_focal", _LOGITS, frozenset({"index"}),
    lambda w: _write_categorical(w, module=True), options=_GAMMA_ALPHA, limits=_categorical_limits,
    reads=CATEGORICAL.reads, doc=DOCS.format("FocalLoss"),
    documented_by=(Inherits(CATEGORICAL.id, shared_only=True),), profile=_CATEGORICAL_PROFILE)

BINDINGS: tuple[Binding, ...] = (BINARY, BINARY_MODULE, CATEGORICAL, CATEGORICAL_MODULE)
