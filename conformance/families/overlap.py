r"""What the overlap families (Dice, Tversky) share: soft overlap ratios of a prediction and a target.

A prediction ``p`` (probabilities per channel, or logits read through a softmax
over the class axis) is compared with a target ``y`` (per-channel values in [0, 1],
or class indices, read as their one-hot along the class axis). Within one
*group* of elements the sums

.. math:: I = \sum p y, \quad P = \sum p, \quad Y = \sum y

give one ratio, and the loss of the group is one minus it
(:mod:`conformance.families.dice`, :mod:`conformance.families.tversky`).

Options, each explicit because the APIs disagree on every one of them:

``overlap_over``
    which elements form one group: ``sample_channel`` (default: one ratio per
    sample and channel, the spatial axes pooled, the segmentation convention of
    MONAI and optax), ``batch`` (every element at once, one ratio for the whole
    batch, as Keras' ``Dice()``), ``sample`` (one ratio per sample: axis 0,
    every other axis pooled, channels included) or ``channel`` (one per channel,
    batch and spatial axes pooled, as MONAI's ``batch=True``). The class axis is
    ``class_axis``; an input without a sample axis (1-d) needs ``batch`` or
    ``channel``.
``smooth_numerator``, ``smooth_denominator``
    constants added to the ratio's numerator and denominator; default 0 both: no
    hidden eps. A group whose prediction and target are both all zero (an empty
    class) is then 0/0: its loss is NaN, and so is a mean over it.
``include_background``
    whether channel 0 enters (default true); false drops it before any sum.

``reduction`` acts on the groups' losses: ``none`` returns them (shape ``()``,
``(N,)``, ``(N, C)`` or ``(C,)``), ``sum`` adds them, ``mean`` averages them.

The gradient is analytic (the quotient rule per group, then the softmax's
Jacobian for logits) and checked against numerical differentiation in the tests.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from conformance.arrays import Number
from conformance.case_rules import CaseRuleError
from conformance.dtypes import round_to
from conformance.exact import MP, NAN, ONE, ZERO, divide, exp, log, log_q, mp_array, total
from conformance.families.base import Aspect, Family, Options, Reading, Rule
from conformance.vocabulary import Elements

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.dtypes import DType


class OverlapOver(enum.StrEnum):
    """Which elements share one overlap ratio."""

    BATCH = "batch"                    # every element of the batch at once
    SAMPLE = "sample"                  # per sample (axis 0), channels pooled
    SAMPLE_CHANNEL = "sample_channel"  # per sample and channel
    CHANNEL = "channel"                # per channel, the batch pooled
    # Only a reading (no case sets it): per sample and channel, averaged per sample over the
    # channels present in its target (kornia's macro average), then over the samples.
    SAMPLE_CHANNEL_PRESENT = "sample_channel_present"


class OverlapOptions(Options):
    overlap_over: OverlapOver = OverlapOver.SAMPLE_CHANNEL
    smooth_numerator: Number = Field(default=0.0, ge=0.0)
    smooth_denominator: Number = Field(default=0.0, ge=0.0)
    include_background: bool = True


# -- the groups ---------------------------------------------------------------------------
def _grouped(values: np.ndarray, over: str) -> tuple[np.ndarray, tuple[int, ...]]:
    """``values`` (classes last, sample axis first) as (groups, members), and the groups' shape."""
    if over == OverlapOver.BATCH:
        return values.reshape(1, -1), ()
    if over == OverlapOver.SAMPLE:
        return values.reshape(values.shape[0], -1), (values.shape[0],)
    if over == OverlapOver.CHANNEL:
        moved = np.moveaxis(values, -1, 0)
        return moved.reshape(moved.shape[0], -1), (moved.shape[0],)
    # per sample and channel: (N, spatial..., C) -> (N, C, spatial)
    moved = np.moveaxis(values, -1, 1)
    shape = moved.shape[:2]
    return moved.reshape(shape[0] * shape[1], -1), shape


def grouping_fits(case: Case, over: str) -> bool:
    """Whether the case's shape has the axes ``over`` names (a sample axis besides the classes)."""
    if over in (OverlapOver.BATCH, OverlapOver.CHANNEL):
        return True
    return case.ndim >= 2 and case.axis != 0


def dense_target(case: Case, dtype: DType | None, exact: bool) -> np.ndarray:
    """The target as per-channel values with the classes last (one-hot for class indices)."""
    if case.target.kind == "index":
        labels = case.target.values
        eye = np.eye(case.num_classes)
        dense = eye[labels]
        return mp_array(dense) if exact else dense
    moved = np.moveaxis(case.target.values, case.axis, -1)
    return mp_array(moved, dtype) if exact else round_to(moved, dtype)


def _softmax_exact(x: np.ndarray) -> np.ndarray:
    return np.vectorize(exp, otypes=[object])(log_q(x, "logits"))


def _softmax_float(x: np.ndarray) -> np.ndarray:
    shifted = x - np.max(x, axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def _present_weights(groups_y: np.ndarray, samples: int) -> list[Any]:
    """Each (sample, channel) group's weight in kornia's macro mean: 1 / (N x the channels present
    in the sample's target) where the channel is present, 0 where it is not."""
    channels = len(groups_y) // samples
    present = [total(groups_y[g]) > 0 for g in range(len(groups_y))]
    weights = []
    for g in range(len(groups_y)):
        count = sum(present[(g // channels) * channels:(g // channels + 1) * channels])
        weights.append(ONE / (samples * count) if present[g] else ZERO)
    return weights


def _has_absent_channel(case: Case, dtype: DType) -> bool:
    """Whether some (sample, channel) of the target is empty (all zero)."""
    if not grouping_fits(case, OverlapOver.SAMPLE_CHANNEL):
        return False
    grouped, _ = _grouped(dense_target(case, dtype, exact=False), OverlapOver.SAMPLE_CHANNEL)
    return bool((grouped.sum(axis=1) == 0).any())


@dataclass(frozen=True)
class Sums:
    """The sums of one group: the intersection, the prediction's and the target's mass."""

    intersection: Any
    predicted: Any
    target: Any


# -- readings ------------------------------------------------------------------------------
@dataclass(frozen=True)
class OverlapKnobs(Reading):
    """One way of reading an overlap case; the defaults are the canonical loss."""

    overlap_over: str | None = None         # another grouping (OverlapOver)
    smooth_numerator: float | None = None   # the constants an API adds, instead of the case's
    smooth_denominator: float | None = None
    reads: str | None = None                # the input read as: logits | probs
    include_background: bool | None = None  # channel 0 kept or dropped, against the case
    squared: bool | None = None             # (Dice) squared sums in the denominator, or not
    weights_swapped: bool = False           # (Tversky) alpha weighs the false negatives, beta the positives

    def describe(self, case: Case) -> str:
        knobs = self.knobs()
        words = []
        if "smooth_numerator" in knobs or "smooth_denominator" in knobs:
            sn = self.smooth_numerator if self.smooth_numerator is not None else case.option("smooth_numerator")
            sd = self.smooth_denominator if self.smooth_denominator is not None else case.option("smooth_denominator")
            words.append(f"adds {sn:g} to the numerator and {sd:g} to the denominator")
        for name, value in knobs.items():
            if name not in ("smooth_numerator", "smooth_denominator"):
                words.append(_DESCRIBE[name](value))
        return " and ".join(words)


_GROUP_WORDS = {
    OverlapOver.BATCH: "takes one ratio over the whole batch",
    OverlapOver.SAMPLE: "takes one ratio per sample (channels pooled)",
    OverlapOver.SAMPLE_CHANNEL: "takes one ratio per sample and channel, then averages them",
    OverlapOver.CHANNEL: "takes one ratio per channel (the batch pooled)",
    OverlapOver.SAMPLE_CHANNEL_PRESENT: "takes one ratio per sample and channel and averages each sample's "
                                        "over the channels present in its target only",
}
_DESCRIBE = {
    "overlap_over": lambda v: _GROUP_WORDS[OverlapOver(v)],
    "reads": lambda v: {"logits": "applies softmax over the class axis (reads the input as logits)",
                        "probs": "reads the input as probabilities (no softmax)"}[v],
    "include_background": lambda v: "keeps channel 0 (the background)" if v else "drops channel 0 (the background)",
    "squared": lambda v: "squares the sums of the denominator" if v else "does not square the denominator's sums",
    "weights_swapped": lambda v: "weighs the false negatives by alpha and the false positives by beta "
                                 "(alpha and beta exchanged)",
}

# The constants APIs add, tried as readings: Keras' backend.epsilon() in the denominator,
# MONAI's smooth_nr = smooth_dr = 1e-5, kornia's eps = 1e-8 in the denominator.
SMOOTHINGS: tuple[tuple[float, float], ...] = ((0.0, 1e-7), (1e-5, 1e-5), (0.0, 1e-8))


def _smooth_rule(pair: tuple[float, float], label: str) -> Rule:
    def matches(knobs: Any, input_kind: str) -> bool:
        return (knobs.get("smooth_numerator", 0.0), knobs.get("smooth_denominator", 0.0)) == pair \
            and ("smooth_numerator" in knobs or "smooth_denominator" in knobs)
    return Rule(matches, label)


# The probes with class-index targets are the only ones an overlap API raises on (the
# per-channel-only APIs refuse the index map's shape): that says nothing of the aspect,
# and the "n/a" label lets the probes it did compute speak (profile._combine).
RAISES_ON_INDEX = "n/a: raises on class-index targets"


def _group_rule(over: OverlapOver, label: str) -> Rule:
    return Rule(lambda knobs, input_kind: knobs.get("overlap_over") == over, label)


GROUPING = Aspect(
    "overlap_grouping", "which elements share one overlap ratio (defaults)", "per (sample, channel)",
    (_group_rule(OverlapOver.SAMPLE_CHANNEL_PRESENT, "per (sample, channel), over the channels present"),
     _group_rule(OverlapOver.BATCH, "the whole batch (one ratio)"),
     _group_rule(OverlapOver.SAMPLE, "per sample"),
     _group_rule(OverlapOver.CHANNEL, "per channel"),
     # A reading that keeps the groups (another constant, say) answers: the probe's own.
     Rule(lambda knobs, input_kind: not knobs.get("overlap_over"), "per (sample, channel)")),
    raised=RAISES_ON_INDEX)


# optax's smooth = 1 is 1 / 1 in the Tversky form and 2 / 2 in the Dice form (2I + 2) / (P + Y + 2).
SMOOTHING = Aspect(
    "overlap_smoothing", "what it adds to the ratio's numerator / denominator (defaults)", "nothing",
    (_smooth_rule((0.0, 1e-7), "0 / 1e-7"), _smooth_rule((1e-5, 1e-5), "1e-5 / 1e-5"),
     _smooth_rule((0.0, 1e-8), "0 / 1e-8"), _smooth_rule((1.0, 1.0), "1 / 1"), _smooth_rule((2.0, 2.0), "2 / 2"),
     Rule(lambda knobs, input_kind: knobs.get("smooth_numerator") is None
          and knobs.get("smooth_denominator") is None, "nothing")),
    raised=RAISES_ON_INDEX)


class OverlapFamily(Family):
    """A loss of overlap ratios over groups of elements (see the module docstring)."""

    inputs = ("probs", "logits")
    targets = {"probs": Elements.FLOAT, "index": Elements.INDEX}
    options = OverlapOptions
    class_axis = True
    # optax's smooth = 1 written in this family's constants (its ratio's form differs).
    optax_smoothing: tuple[float, float] = (1.0, 1.0)

    # -- what a family module gives ---------------------------------------------------------
    def ratio_parts(self, case: Case, sums: Sums, options: dict[str, Any]) -> tuple[Any, Any]:
        """(numerator, denominator) of one group's ratio, without the smoothing constants."""
        raise NotImplementedError

    def part_slopes(self, case: Case, p: Any, y: Any, options: dict[str, Any]) -> tuple[Any, Any]:
        """d(numerator)/dp and d(denominator)/dp of one element."""
        raise NotImplementedError

    def squared(self, case: Case) -> bool:
        return False

    # -- schema ------------------------------------------------------------------------------
    def output_shape(self, case: Case) -> tuple[int, ...]:
        over = case.options.overlap_over
        if not grouping_fits(case, over):
            return ()
        channels = case.num_classes - (0 if case.options.include_background else 1)
        return {OverlapOver.BATCH: (), OverlapOver.SAMPLE: (case.input.values.shape[0],),
                OverlapOver.SAMPLE_CHANNEL: (case.input.values.shape[0], channels),
                OverlapOver.CHANNEL: (channels,)}[over]

    def target_shape(self, case: Case) -> tuple[int, ...]:
        shape = case.input.values.shape
        if case.target.kind == "index":
            return shape[:case.axis] + shape[case.axis + 1:]
        return shape

    def check(self, case: Case) -> None:
        options: OverlapOptions = case.options
        if options.overlap_over == OverlapOver.SAMPLE_CHANNEL_PRESENT:
            raise CaseRuleError("overlap_over", "sample_channel_present is a reading (kornia's macro average), "
                                "not an option: use batch, sample, sample_channel or channel")
        if not grouping_fits(case, options.overlap_over):
            raise CaseRuleError("overlap_over", f"overlap_over: {options.overlap_over} needs a sample axis 0 "
                                "besides the class axis (an input of at least 2 axes, class_axis not 0)")
        if not options.include_background and case.num_classes < 2:
            raise CaseRuleError("include_background", "include_background: false needs at least 2 channels")
        if case.target.kind == "index":
            labels = case.target.values
            if ((labels < 0) | (labels >= case.num_classes)).any():
                bad = int(labels[(labels < 0) | (labels >= case.num_classes)].flat[0])
                raise CaseRuleError("target", f"class index {bad} is outside [0, {case.num_classes})")

    def settings(self, case: Case) -> dict[str, Any]:
        """The case's options as the computation uses them (a reading replaces some)."""
        o = case.options
        return {"overlap_over": o.overlap_over, "smooth_numerator": o.smooth_numerator,
                "smooth_denominator": o.smooth_denominator, "include_background": o.include_background,
                "squared": self.squared(case), **self.own_settings(case)}

    def own_settings(self, case: Case) -> dict[str, Any]:
        return {}

    # -- the canonical definition --------------------------------------------------------------
    def _probabilities(self, case: Case, x: np.ndarray) -> np.ndarray:
        moved = np.moveaxis(x, case.axis, -1)
        return _softmax_exact(moved) if case.input.kind == "logits" else moved

    def loss(self, case: Case, dtype: DType, x: np.ndarray) -> Any:
        settings = self.settings(case)
        p, y = self._probabilities(case, x), dense_target(case, dtype, exact=True)
        if not settings["include_background"]:
            p, y = p[..., 1:], y[..., 1:]
        groups_p, shape = _grouped(p, settings["overlap_over"])
        groups_y, _ = _grouped(y, settings["overlap_over"])
        losses = np.empty(len(groups_p), dtype=object)
        for g in range(len(groups_p)):
            numerator, denominator = self._parts(case, groups_p[g], groups_y[g], settings)
            losses[g] = ONE - divide(numerator, denominator)
        losses = losses.reshape(shape)
        if case.reduction == "none":
            return losses
        if case.reduction == "sum":
            return total(losses)
        return divide(total(losses), MP.mpf(losses.size))

    def _sums(self, p: np.ndarray, y: np.ndarray, squared: bool) -> Sums:
        power = 2 if squared else 1
        return Sums(total(p * y), total([v ** power for v in p]), total([v ** power for v in y]))

    def _parts(self, case: Case, p: np.ndarray, y: np.ndarray, settings: dict[str, Any]) -> tuple[Any, Any]:
        numerator, denominator = self.ratio_parts(case, self._sums(p, y, settings["squared"]), settings)
        return (numerator + MP.mpf(settings["smooth_numerator"]),
                denominator + MP.mpf(settings["smooth_denominator"]))

    def gradient(self, case: Case, dtype: DType, reading: str | None = None) -> tuple[np.ndarray, Any]:
        """The quotient rule per group, d(1 - N/D)/dp = (N D' - N' D) / D^2 (NaN where D = 0), over
        the number of groups for ``mean``; for logits, through the softmax's Jacobian.
        ``reading`` names one of :attr:`gradient_readings` (a constant the API adds)."""
        settings = self.settings(case)
        if reading is not None:
            if reading not in self.gradient_readings:
                raise ValueError(f"{self.name} has no gradient reading {reading!r}; known: "
                                 f"{', '.join(self.gradient_readings) or 'none'}")
            settings.update(GRADIENT_READING_SETTINGS[reading])
        x = np.moveaxis(mp_array(case.input.values, dtype), case.axis, -1)
        p = _softmax_exact(x) if case.input.kind == "logits" else x
        y = dense_target(case, dtype, exact=True)
        first = 0 if settings["include_background"] else 1
        grad_p = np.full(p.shape, ZERO, dtype=object)
        kept_p, kept_y = p[..., first:], y[..., first:]
        index = np.arange(kept_p.size).reshape(kept_p.shape)
        groups_p, _ = _grouped(kept_p, settings["overlap_over"])
        groups_y, _ = _grouped(kept_y, settings["overlap_over"])
        groups_i, _ = _grouped(index, settings["overlap_over"])
        groups = len(groups_p)
        scale = ONE / groups if case.reduction == "mean" else ONE
        weights = [scale] * groups
        if reading == "present_channels_mean":
            if settings["overlap_over"] != OverlapOver.SAMPLE_CHANNEL or case.reduction != "mean":
                raise ValueError("present_channels_mean reads a mean over (sample, channel) groups")
            weights = _present_weights(groups_y, kept_p.shape[0])
        kept_grad = np.full(kept_p.size, ZERO, dtype=object)
        for g in range(groups):
            numerator, denominator = self._parts(case, groups_p[g], groups_y[g], settings)
            for member, flat in enumerate(groups_i[g]):
                pi, yi = groups_p[g][member], groups_y[g][member]
                d_num, d_den = self.part_slopes(case, pi, yi, settings)
                if weights[g] == 0:
                    kept_grad[flat] = ZERO  # a group the API leaves out
                elif denominator == 0 or MP.isnan(denominator) or MP.isnan(numerator):
                    kept_grad[flat] = NAN
                else:
                    kept_grad[flat] = weights[g] * (numerator * d_den - d_num * denominator) / denominator ** 2
        grad_p[..., first:] = kept_grad.reshape(kept_p.shape)
        if case.input.kind == "logits":
            weighted = np.empty(p.shape[:-1] + (1,), dtype=object)
            for position in np.ndindex(p.shape[:-1]):
                weighted[position] = total(p[position] * grad_p[position])
            grad_p = p * (grad_p - weighted)
        return np.moveaxis(grad_p, -1, case.axis), scale

    def converted_input(self, case: Case, dtype: DType, kind: str) -> np.ndarray:
        """Logits as the probabilities of their softmax over the class axis, probabilities as
        logits by their log (exact; softmax(log p) = p where p sums to 1 over the classes)."""
        if (case.input.kind, kind) == ("probs", "logits"):
            logs = np.vectorize(log, otypes=[object])(mp_array(case.input.values, dtype))
            return np.vectorize(float, otypes=[float])(logs)
        if (case.input.kind, kind) != ("logits", "probs"):
            return super().converted_input(case, dtype, kind)
        moved = np.moveaxis(mp_array(case.input.values, dtype), case.axis, -1)
        probs = np.moveaxis(_softmax_exact(moved), -1, case.axis)
        return np.vectorize(float, otypes=[float])(probs)

    # -- interpretation ------------------------------------------------------------------------
    def readings(self, case: Case, dtype: DType) -> list[OverlapKnobs]:
        settings = self.settings(case)
        over = settings["overlap_over"]
        smoothing = (settings["smooth_numerator"], settings["smooth_denominator"])
        pairs = [s for s in dict.fromkeys(SMOOTHINGS + (self.optax_smoothing,)) if s != smoothing]
        singles = [OverlapKnobs(smooth_numerator=n, smooth_denominator=d) for n, d in pairs]
        groupings = [g for g in OverlapOver if g != over and grouping_fits(case, g)]
        if not _has_absent_channel(case, dtype):  # the same groups as sample_channel: no reading of its own
            groupings = [g for g in groupings if g != OverlapOver.SAMPLE_CHANNEL_PRESENT]
        singles += [OverlapKnobs(overlap_over=g) for g in groupings]
        # Known defaults come in pairs (a grouping with its constants): as one reading each, so
        # that a third knob (another input kind) still fits the search's two levels.
        for g, (n, d) in ((OverlapOver.BATCH, (0.0, 1e-7)),
                          (OverlapOver.SAMPLE_CHANNEL, (1e-5, 1e-5)),
                          (OverlapOver.SAMPLE_CHANNEL, self.optax_smoothing),
                          (OverlapOver.SAMPLE, (0.0, 1e-8)),
                          (OverlapOver.SAMPLE_CHANNEL_PRESENT, (0.0, 1e-8))):
            if g in groupings and (n, d) != smoothing:
                singles.append(OverlapKnobs(overlap_over=g, smooth_numerator=n, smooth_denominator=d))
        singles.append(OverlapKnobs(reads="probs" if case.input.kind == "logits" else "logits"))
        if case.num_classes >= 2:
            singles.append(OverlapKnobs(include_background=not settings["include_background"]))
        return singles + self.own_readings(case, dtype)

    def own_readings(self, case: Case, dtype: DType) -> list[OverlapKnobs]:
        return []

    def variant(self, case: Case, dtype: DType, reading: Reading, inputs: np.ndarray | None = None,
                ) -> np.ndarray | None:
        if not isinstance(reading, OverlapKnobs):
            if reading.knobs():
                return None  # another family's reading
            reading = OverlapKnobs()
        with np.errstate(all="ignore"):
            return self._variant(case, dtype, reading, inputs)

    def _variant(self, case: Case, dtype: DType, knobs: OverlapKnobs, inputs: np.ndarray | None,
                 ) -> np.ndarray | None:
        settings = self.settings(case)
        for name in ("overlap_over", "smooth_numerator", "smooth_denominator", "include_background", "squared"):
            if getattr(knobs, name) is not None:
                settings[name] = getattr(knobs, name)
        settings["weights_swapped"] = knobs.weights_swapped
        over = settings["overlap_over"]
        if case.reduction == "none" and over != case.options.overlap_over:
            return None  # another shape
        x = round_to(case.input.values, dtype) if inputs is None else inputs
        x = np.moveaxis(x, case.axis, -1)
        p = _softmax_float(x) if (knobs.reads or case.input.kind) == "logits" else x
        y = dense_target(case, dtype, exact=False)
        if not settings["include_background"]:
            if p.shape[-1] < 2:
                return None
            p, y = p[..., 1:], y[..., 1:]
        present = over == OverlapOver.SAMPLE_CHANNEL_PRESENT
        groups_p, shape = _grouped(p, OverlapOver.SAMPLE_CHANNEL if present else over)
        groups_y, _ = _grouped(y, OverlapOver.SAMPLE_CHANNEL if present else over)
        power = 2 if settings["squared"] else 1
        sums = Sums((groups_p * groups_y).sum(axis=1), (groups_p ** power).sum(axis=1),
                    (groups_y ** power).sum(axis=1))
        numerator, denominator = self.ratio_parts(case, sums, settings)
        losses = 1.0 - (numerator + settings["smooth_numerator"]) / (denominator + settings["smooth_denominator"])
        losses = losses.reshape(shape)
        if present:
            if case.reduction != "mean":
                return None
            counted = sums.target.reshape(shape) > 0
            per_sample = np.where(counted, losses, 0.0).sum(axis=1) / np.maximum(counted.sum(axis=1), 1)
            return np.asarray(np.where(counted.any(axis=1), per_sample, 1.0).mean())
        if case.reduction == "none":
            return losses
        if case.reduction == "sum":
            return np.asarray(losses.sum())
        return np.asarray(losses.mean())

    def kink_points(self, reading: Reading) -> list[float]:
        return []


# A constant the API adds whatever the case, as a gradient reading: the oracle's gradient with it.
GRADIENT_READING_SETTINGS: dict[str, dict[str, Any]] = {
    "denominator_plus_1e-7": {"smooth_denominator": 1e-7},
    "weights_swapped_plus_1e-7": {"smooth_denominator": 1e-7, "weights_swapped": True},
    "present_channels_mean": {},
}
GRADIENT_READINGS = {
    "present_channels_mean": "the API averages each sample's (sample, channel) losses over the channels present in "
                             "its target only (kornia's macro average), so a channel absent from the target has "
                             "no gradient and the others are weighted 1 / (N x present channels)",
    "denominator_plus_1e-7": "the API adds 1e-7 to the ratio's denominator whatever the case (Keras' "
                             "backend.epsilon()), so the gradient is that of the ratio with that constant",
}
TVERSKY_GRADIENT_READINGS = {
    **GRADIENT_READINGS,
    "weights_swapped_plus_1e-7": "the API weighs the false negatives by alpha and the false positives by beta, "
                                 "and adds 1e-7 to the denominator (Keras' tversky), so the gradient is that of "
                                 "the ratio with alpha and beta exchanged and that constant",
}
