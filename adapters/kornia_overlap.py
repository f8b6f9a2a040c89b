"""kornia bindings of the overlap families: ``kornia.losses.dice_loss`` / ``DiceLoss`` and
``tversky_loss`` / ``TverskyLoss``.

All four take logits ``(B, C, H, W)`` - the softmax over the classes is taken inside -
and class indices ``(B, H, W)``, and return the batch mean: only ``mean`` of logits
against index targets on 4-d inputs is expressible. The ratio has ``eps`` (default
1e-8) in its denominator only (``smooth_numerator`` is not expressible), and a ratio
whose denominator is 0 is set to 0 (loss 1) instead of 0/0. ``dice_loss``'s
``average='micro'`` takes one ratio per sample (``overlap_over: sample``);
``'macro'`` one per sample and class, averaged per sample over the classes present
in that sample's target only (``sample_channel`` where every class is present).
``tversky_loss`` is always per sample and class, averaged the same way, with ``alpha``
on the false positives. Background channels cannot be left out.

Faithful glue: the class axis moved to 1 (data movement), ``eps`` the case's
``smooth_denominator``, ``average`` from ``overlap_over``, ``alpha`` and ``beta`` as the
case sets them. ``as_is`` calls the defaults (the Tversky ones have no default
``alpha``/``beta``: the case's go in).

This module imports neither kornia nor torch: recipes do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial

from conformance.binding import Binding, Inherits
from conformance.case import Case
from conformance.recipe import RecipeWriter, kwargs

DOCS = "https://kornia.readthedocs.io/en/v0.9.0/losses.html#kornia.losses.{}"


def _write(w: RecipeWriter, name: str, module: bool = False) -> None:
    case = w.case
    x, target = w.input(), w.target()
    options: dict[str, str | None] = {}
    if case.loss == "tversky":
        options = {"alpha": repr(float(case.option("alpha"))), "beta": repr(float(case.option("beta")))}
    if not w.as_is:
        if case.axis != 1:
            x = f"torch.movedim({x}, {case.axis}, 1)"
        if case.loss == "dice":
            options["average"] = repr("micro" if case.option("overlap_over") == "sample" else "macro")
        options["eps"] = repr(float(case.option("smooth_denominator")))
    arguments = kwargs(**options).removeprefix(", ")
    if module:
        w.emit(f"loss = kornia.losses.{name}({arguments})({x}, {target})")
    else:
        w.emit(f"loss = kornia.losses.{name}({x}, {target}{kwargs(**options)})")


def _limits(case: Case) -> str | None:
    if case.ndim != 4 or case.axis == 0:
        return "kornia takes (B, C, H, W) logits and (B, H, W) class indices"
    if case.mode == "faithful":
        allowed = ("sample", "sample_channel") if case.loss == "dice" else ("sample_channel",)
        if case.option("overlap_over") not in allowed:
            return f"kornia's {case.loss} has no ratio per {case.option('overlap_over')}"
    return None


def _binding(binding_id: str, loss: str, write: Callable[[RecipeWriter], None], options: frozenset[str],
             reads: str, doc: str, profile: dict[str, str]) -> Binding:
    return Binding(binding_id, loss, frozenset({"logits"}), frozenset({"index"}), write, options=options,
                   reductions=frozenset({"mean"}), limits=_limits, reads=reads, doc=doc, profile=profile)


DICE = _binding(
    "kornia.dice_loss", "dice", partial(_write, name="dice_loss"),
    frozenset({"overlap_over", "smooth_denominator"}),
    "applies softmax over axis 1 of (B, C, H, W) logits, one-hots (B, H, W) indices, takes one ratio per sample "
    "('micro') as 1 - 2 I / (P + Y + 1e-8), 0 where the denominator is 0, and averages over the batch",
    DOCS.format("dice_loss"), {"overlap_grouping": "per sample", "overlap_smoothing": "0 / 1e-8"})
TVERSKY = _binding(
    "kornia.tversky_loss", "tversky", partial(_write, name="tversky_loss"),
    frozenset({"overlap_over", "smooth_denominator", "alpha", "beta"}),
    "applies softmax over axis 1 of (B, C, H, W) logits, one-hots (B, H, W) indices, takes one ratio per sample "
    "and class, tp / (tp + alpha fp + beta fn + 1e-8), averages each sample's over the classes present in its "
    "target, then over the batch",
    DOCS.format("tversky_loss"),
    {"overlap_grouping": "per (sample, channel), over the channels present", "overlap_smoothing": "0 / 1e-8",
     "tversky_weights": "false positives"})

BINDINGS = (
    DICE,
    replace(DICE, id="kornia.DiceLoss", write=partial(_write, name="DiceLoss", module=True),
            doc=DOCS.format("DiceLoss"), documented_by=(Inherits(DICE.id),)),
    TVERSKY,
    replace(TVERSKY, id="kornia.TverskyLoss", write=partial(_write, name="TverskyLoss", module=True),
            doc=DOCS.format("TverskyLoss"), documented_by=(Inherits(TVERSKY.id),)),
)
