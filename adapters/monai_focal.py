"""MONAI bindings of the focal families (``monai.losses.FocalLoss``, MONAI 1.6.1).

``FocalLoss(include_background=True, to_onehot_y=False, gamma=2.0, alpha=None,
weight=None, reduction='mean', use_softmax=False)`` takes logits ``(B, N, *)`` and a
target of the same shape (one-hot for classes), casts both to float32
(``input.float()``), and by default applies a **sigmoid** to every channel, also
for multi-class input; ``use_softmax=True`` gives the softmax focal loss. It returns
one slice per channel, so ``'mean'`` divides by B x N x pixels, and ``'sum'``
averages the spatial dimensions first.

- binary (``use_softmax=False``): per element ``alpha_t exp(gamma logsigmoid(-x(2t-1)))
  BCE(t, x)`` with ``alpha_t = alpha t + (1 - alpha)(1 - t)``: for a soft label the
  focal weight is ``sigmoid(-x(2t-1))^gamma``, neither of the other generalisations.
- categorical (``use_softmax=True``, set by the faithful glue; ``as_is`` keeps the
  sigmoid default): ``-alpha_c (1-q_c)^gamma log q_c y_c`` per channel, the α
  sequence used as given (a scalar α would mean ``[1 - alpha, alpha, ...]``).
  Class-index targets are one-hot encoded by the glue (``torch.nn.functional.one_hot``,
  moved to axis 1).

Faithful calls ask for ``reduction='none'``; the glue sums the class slices in float64
and reduces as the case asks (rounding once). MONAI has no label smoothing and takes
no probabilities: such cases are not its. Every row is computed in float32: float64
rows carry float32 rounding (a binding-level deviation).

This module imports neither MONAI nor torch: recipes do.
"""

from __future__ import annotations

from conformance.adapters.torch_regression import OPS
from conformance.binding import Binding
from conformance.case import Case, Expectation
from conformance.recipe import RecipeWriter, kwargs
from conformance.tolerance import Bound

V = "https://github.com/Project-MONAI/MONAI/blob/1.6.1/monai/losses/focal_loss.py"
DOCS = "https://docs.monai.io/en/stable/losses.html#focalloss"

IN_FLOAT32 = Expectation(
    within=Bound(like="float32"), grad_within=Bound(like="float32"), category="precision",
    dtypes=["float64"], link=f"{V}#L184-L185",
    reason="FocalLoss.forward casts input and target to float32 (input.float(), target.float()) before the "
           "loss: float64 rows are computed, and returned, in float32.")


def _limits(case: Case) -> str | None:
    if case.ndim < 2:
        return "monai.losses.FocalLoss takes (B, N, *) input, at least 2-D"
    # The sigmoid loss is elementwise; only the softmax needs the classes on MONAI's channel axis.
    if case.loss == "categorical_focal" and case.axis != 1:
        return "monai.losses.FocalLoss takes (B, N, *) input with the channels on axis 1"
    return None


def _write(w: RecipeWriter, softmax: bool) -> None:
    case = w.case
    x, target = w.input(), w.target()
    if case.target.kind == "index":
        # One-hot along the class axis (data movement; MONAI's own to_onehot_y wants (B, 1, *) labels).
        target = f"torch.nn.functional.one_hot({target}, {case.num_classes}).movedim(-1, 1).to(torch.{w.dtype})"
    alpha = case.option("alpha")
    alpha_text = None
    if alpha is not None:
        alpha_text = repr([float(a) for a in alpha]) if softmax else repr(float(alpha))
    gamma = repr(float(case.option("gamma"))) if not w.as_is or "gamma" in case.options_set() else None
    options = kwargs(gamma=gamma, alpha=alpha_text, use_softmax="True" if softmax and not w.as_is else None,
                     reduction="'none'" if not w.as_is else repr(str(case.reduction)))
    call = f"monai.losses.FocalLoss({options.removeprefix(', ')})({x}, {target})"
    if w.as_is:
        w.emit(f"loss = {call}")
        return
    w.emit(f"per_element = {call}")
    per = "per_element"
    if softmax:
        # One slice per class, zero off the target: their float64 sum is the position's loss.
        w.emit(f"per_position = {OPS.widen.format('per_element', dtype='float64')}.sum(1)")
        per = "per_position"
    w.reduce(per, OPS)


BINDINGS: tuple[Binding, ...] = (
    Binding("monai.FocalLoss", "binary_focal", frozenset({"logits"}), frozenset({"probs"}),
            lambda w: _write(w, softmax=False), options=frozenset({"gamma", "alpha"}), limits=_limits,
            reads="reads logits (sigmoid by default), weights a soft label's BCE by alpha_t sigmoid(-x(2t-1))^gamma, "
                  "computes in float32; reduction='mean' over every channel",
            doc=DOCS, deviations=(IN_FLOAT32,),
            profile={"focal_input": "logits", "focal_soft_labels": "a_t sigmoid(-x(2t-1))^g BCE",
                     "focal_alpha": "applied", "focal_alpha_default": "none"}),
    Binding("monai.FocalLoss.use_softmax", "categorical_focal", frozenset({"logits"}),
            frozenset({"index", "probs"}), lambda w: _write(w, softmax=True),
            options=frozenset({"gamma", "alpha"}), limits=_limits,
            reads="reads logits with a sigmoid per channel unless use_softmax=True, one-hot targets of the input's "
                  "shape, computes in float32; 'mean' divides by B x N x pixels",
            doc=DOCS, deviations=(IN_FLOAT32,),
            profile={"focal_input": "logits",
                     # its sigmoid default reads every probe of the class alpha as sigmoids: no answer
                     "focal_class_alpha_default": "n/a: reads logits / n/a: sigmoid per class",
                     "focal_class_mean": "N x C (one slice per class)", "focal_activation": "sigmoid per class"}),
)
