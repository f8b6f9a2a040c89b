"""MONAI bindings of the overlap families: ``monai.losses.DiceLoss`` and ``TverskyLoss``.

Both take channels-first ``(N, C, spatial...)`` predictions and per-channel targets of
the same shape (or ``(N, 1, spatial...)`` class indices with ``to_onehot_y=True``), and
compute one ratio per sample and channel over the spatial axes (``batch=True``: per
channel, the batch pooled), ``1 - (2 tp + smooth_nr) / (2 tp + fp + fn + smooth_dr)``
(Dice; ``squared_pred`` squares the sums) and ``1 - (tp + smooth_nr) / (tp + alpha fp
+ beta fn + smooth_dr)`` (Tversky, alpha on the false positives), with ``smooth_nr =
smooth_dr = 1e-5`` by default, then reduce them (``mean`` over N x C). There is no
per-batch or per-sample pooling of the channels: ``overlap_over: batch`` and
``sample`` are not expressible. An input without spatial axes is not expressible
either (MONAI sums over ``dim=[]``, which torch reads as every axis).

Faithful glue: the class axis moved to 1 (data movement), the case's constants, groups
and ``include_background`` passed as arguments, ``softmax=True`` for logits (MONAI
skips it, with a warning, for one channel: not expressible), ``to_onehot_y=True`` for
class indices given a channel axis of 1, and ``reduction="none"``'s broadcast shape
``(N, C, 1, ...)`` reshaped to the groups' shape. ``as_is`` passes the arrays as
written to the defaults (Tversky's ``alpha`` and ``beta`` as the case sets them).

This module imports neither MONAI nor torch: recipes do.
"""

from __future__ import annotations

from collections.abc import Callable

from conformance.binding import Binding
from conformance.case import Case
from conformance.recipe import RecipeWriter, kwargs

DOCS = "https://docs.monai.io/en/1.6.1/losses.html#{}"
SOURCE = "https://github.com/Project-MONAI/MONAI/blob/1.6.1/monai/losses"


def _writer(name: str) -> Callable[[RecipeWriter], None]:
    def write(w: RecipeWriter) -> None:
        case = w.case
        x, target = w.input(), w.target()
        if w.as_is:
            options = {}
            if case.loss == "tversky" and {"alpha", "beta"} & set(case.options_set()):
                options = {"alpha": repr(float(case.option("alpha"))), "beta": repr(float(case.option("beta")))}
            w.emit(f"loss = monai.losses.{name}({kwargs(**options).removeprefix(', ')})({x}, {target})")
            return
        if case.axis != 1:
            x = f"torch.movedim({x}, {case.axis}, 1)"
            if case.target.kind == "probs":
                target = f"torch.movedim({target}, {case.axis}, 1)"
        index = case.target.kind == "index"
        if index:
            target = f"{target}.unsqueeze(1)"
        options = {
            "include_background": repr(bool(case.option("include_background"))),
            "to_onehot_y": "True" if index else None,
            "softmax": "True" if case.input.kind == "logits" else None,
            "smooth_nr": repr(float(case.option("smooth_numerator"))),
            "smooth_dr": repr(float(case.option("smooth_denominator"))),
            "batch": "True" if case.option("overlap_over") == "channel" else None,
            "reduction": repr(str(case.reduction)),
        }
        if case.loss == "dice" and case.option("squared"):
            options["squared_pred"] = "True"
        if case.loss == "tversky":
            options.update(alpha=repr(float(case.option("alpha"))), beta=repr(float(case.option("beta"))))
        w.emit(f"loss = monai.losses.{name}({kwargs(**options).removeprefix(', ')})({x}, {target})")
        if case.reduction == "none":
            w.emit(f"loss = loss.reshape({case.output_shape})")  # (N, C, 1, ...) to the groups' shape
    write.__name__ = write.__qualname__ = f"_write_{name}"
    return write


def _limits(case: Case) -> str | None:
    if case.mode == "as_is":
        return None
    if case.option("overlap_over") not in ("sample_channel", "channel"):
        return f"MONAI takes one ratio per (sample, channel) or per channel, not per {case.option('overlap_over')}"
    if case.ndim < 3 or case.axis == 0:
        return "MONAI needs (N, C, spatial...) inputs: with no spatial axis it sums over dim=[] (every axis)"
    if case.input.kind == "logits" and case.num_classes < 2:
        return "MONAI skips softmax=True for one channel"
    return None


_OPTIONS = frozenset({"overlap_over", "smooth_numerator", "smooth_denominator", "include_background"})
_INPUTS, _TARGETS = frozenset({"probs", "logits"}), frozenset({"probs", "index"})
_PROFILE = {"overlap_grouping": "per (sample, channel)", "overlap_smoothing": "1e-5 / 1e-5"}

BINDINGS = (
    Binding("monai.DiceLoss", "dice", _INPUTS, _TARGETS, _writer("DiceLoss"), options=_OPTIONS | {"squared"},
            limits=_limits,
            reads="takes (N, C, spatial...) probabilities (no activation by default), one ratio per sample and "
                  "channel over the spatial axes, 1 - (2 tp + 1e-5) / (2 tp + fp + fn + 1e-5), then their mean",
            doc=DOCS.format("diceloss"), profile=_PROFILE),
    Binding("monai.TverskyLoss", "tversky", _INPUTS, _TARGETS, _writer("TverskyLoss"),
            options=_OPTIONS | {"alpha", "beta"}, limits=_limits,
            reads="takes (N, C, spatial...) probabilities (no activation by default), one ratio per sample and "
                  "channel over the spatial axes, 1 - (tp + 1e-5) / (tp + alpha fp + beta fn + 1e-5), then "
                  "their mean",
            doc=DOCS.format("tverskyloss"), profile={**_PROFILE, "tversky_weights": "false positives"}),
)
