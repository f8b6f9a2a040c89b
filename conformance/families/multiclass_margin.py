"""What the multiclass and multilabel margin families share: one loss per row of scores.

Each of these losses takes ``scores`` of shape ``(C,)`` (one sample) or ``(N, C)``
(a batch) with the classes on the last axis, and gives one loss per sample,
shape ``()`` or ``(N,)``: ``mean`` divides the summed sample losses by the
number of samples, ``sum`` adds them, ``none`` returns them. A family module
gives only the loss of one row, exact (:meth:`RowFamily.row_loss`, mpf) and in
float64 under a reading (:meth:`RowFamily.row_losses_float`, every row at once).

**Constant factors.** torch divides each sample's Weston-Watkins sum
(``multi_margin_loss``) and each multilabel margin sum (``multilabel_margin_loss``)
by the number of classes C, the true class included: its documentation states
the 1/C as part of the definition. The canonical losses here are the textbook
sums; as with optax's ``l2_loss`` (1/2) and scikit-learn's MAPE (a fraction), the
faithful glue undoes the documented constant (it multiplies the per-sample output
by C, in float64), ``as_is`` shows it, and the cases ``asis-mm-per-class`` /
``asis-mlm-per-class`` pin it. The multilabel soft margin is a *mean* over the
classes by definition (a mean of binary cross-entropies): there 1/C is canonical.

The gradient is each row's derivative by central differences of that row's loss
alone (50 digits): at a kink (a hinge exactly at its margin, two tied maxima) it
is the mean of the one-sided slopes, as for the binary hinge.

APIs deviate in a few ways the interpretation search tries (:class:`Knobs`):
1/C in front of a sample's loss (torch), the true class's own score entering the
max over the other classes as 0 (Keras' categorical hinge: ``max((1 - t) s)``),
class indices after the first -1 of a padded list counted, {0, 1} labels of the
hinge embedding loss taken as they are, and a class mean left out (a sum).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from conformance.case_rules import CaseRuleError
from conformance.dtypes import round_to
from conformance.exact import MP, NAN, ONE, ZERO, central_slope, mp_array, smallest_magnitude, total
from conformance.families.base import Aspect, Family, Reading, Rule, reduce_exact
from conformance.vocabulary import Elements, Reduction

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.dtypes import DType


@dataclass(frozen=True)
class Knobs(Reading):
    """One way of reading a multiclass or multilabel margin case; the defaults are canonical."""

    per_class_mean: bool = False     # each sample's loss divided by the number of classes C
    class_sum: bool = False          # (multilabel soft margin) summed over the classes, not averaged
    true_class_in_max: bool = False  # the max over the other classes is max((1 - t) s): the true class enters as 0
    after_padding: bool = False      # (multilabel margin) class indices after the first -1 counted too
    labels_as_given: bool = False    # (hinge embedding) {0, 1} labels taken as they are: 0 adds both terms

    def describe(self, case: Case) -> str:
        return " and ".join(_DESCRIBE[name] for name in self.knobs())


_DESCRIBE = {
    "per_class_mean": "divides each sample's loss by the number of classes C (the true class included)",
    "class_sum": "sums each sample's loss over the classes instead of averaging",
    "true_class_in_max": "takes the max over the other classes as max((1 - t) s), where the true class "
                         "enters as 0: with every other score below 0 the max is 0, not the largest other score",
    "after_padding": "counts class indices after the first -1 too (the list does not end at the padding)",
    "labels_as_given": "takes the {0, 1} labels as they are: a 0 label is neither 1 nor -1 and adds both "
                       "terms, x + max(0, margin - x)",
}


def _knob(name: str, label: str) -> Rule:
    return Rule(lambda knobs, input_kind: bool(knobs.get(name)), label)


# -- the probes' aspects (global names: the semantic table's columns) ----------------------
TRUE_CLASS = Aspect(
    "multiclass_true_class", "whether the true class's score enters the max over the other classes",
    "left out", (_knob("true_class_in_max", "enters as 0 (max of (1 - t) s)"),))
PAIR_SUM_SCALE = Aspect(
    "pair_sum_scale", "what a sample's sum of margin violations is divided by", "1 (the sum)",
    (_knob("per_class_mean", "the number of classes C"),))
PADDING = Aspect(
    "multilabel_padding", "class indices after the first -1 of a padded target list", "ignored (the list ends)",
    (_knob("after_padding", "counted"),
     # A probe whose only difference is torch's 1/C read the list canonically.
     Rule(lambda knobs, input_kind: set(knobs) == {"per_class_mean"}, "ignored (the list ends)")))
CLASS_MEAN = Aspect(
    "multilabel_class_mean", "what a sample's sum over the classes is divided by", "the number of classes C",
    (_knob("class_sum", "1 (summed over classes)"),))
EMBEDDING_LABELS = Aspect(
    "embedding_labels", "what a {0, 1} label 0 means to the hinge embedding loss", "converted to -1",
    (_knob("labels_as_given", "neither 1 nor -1: adds both terms"),))


def check_classes_last(case: Case, least: int = 1) -> None:
    """Scores are (C,) or (N, C) with the classes last, at least ``least`` of them."""
    if case.ndim > 2 or not case.class_axis_is_last:
        raise CaseRuleError("class_axis", f"{case.loss} takes scores (C,) or (N, C) with the classes on the "
                                          f"last axis; got shape {list(case.input.values.shape)} with "
                                          f"class_axis {case.class_axis}")
    if case.num_classes < least:
        raise CaseRuleError("input", f"{case.loss} needs at least {least} classes, got {case.num_classes}")


def check_class_weights(case: Case) -> None:
    weight = case.option("weight")
    if weight is not None and weight.shape != (case.num_classes,):
        raise CaseRuleError("weight", f"weight needs one entry per class ({case.num_classes}), "
                                      f"got shape {list(weight.shape)}")


def check_one_hot(case: Case) -> None:
    """A ``one_hot`` target holds exactly one 1 per row, zeros elsewhere."""
    t = case.target.values
    rows = t.reshape(-1, t.shape[-1])
    if not (np.isin(rows, (0.0, 1.0)).all() and (rows.sum(axis=-1) == 1).all()):
        raise CaseRuleError("target", "a one_hot target holds exactly one 1 per row and 0 elsewhere")


def check_indices(case: Case) -> None:
    labels = case.target.values
    if ((labels < 0) | (labels >= case.num_classes)).any():
        bad = int(labels[(labels < 0) | (labels >= case.num_classes)].flat[0])
        raise CaseRuleError("target", f"class index {bad} is outside [0, {case.num_classes})")


class RowFamily(Family):
    """A loss of one row of scores (the classes) and its target, reduced over the samples."""

    inputs = ("scores",)
    class_axis = True
    least_classes: int = 1
    # Whether a row's loss has kinks (a hinge at its margin, tied maxima); see central_slope.
    kinks: bool = True

    def margins(self, case: Case, dtype: DType) -> tuple[Any, ...]:
        """The constants a row's kinks are offset by: a kink is where two scores' difference
        crosses one (1: the hinge losses' margin; 0: the perceptron's tie)."""
        return (ONE, ZERO)

    # -- the row, exact and in float64 ---------------------------------------------------
    def row_loss(self, case: Case, dtype: DType, s: np.ndarray, target: Any) -> Any:
        """The canonical loss of one sample: mpf scores ``s`` (C,), its target row (an index,
        or an array of the target's row)."""
        raise NotImplementedError

    def row_losses_float(self, case: Case, dtype: DType, s: np.ndarray, target: np.ndarray,
                         knobs: Knobs) -> np.ndarray | None:
        """Every row's loss in float64 under ``knobs`` (scores (N, C), the target's rows)."""
        raise NotImplementedError

    def target_rows(self, case: Case, dtype: DType) -> np.ndarray:
        """The target with one entry (an index) or one row per sample, samples first."""
        t = case.target.values
        values = t if np.issubdtype(t.dtype, np.integer) else mp_array(t, dtype)
        return values.reshape(-1) if case.target.values.ndim == case.ndim - 1 else \
            values.reshape(-1, case.num_classes)

    def float_target_rows(self, case: Case, dtype: DType) -> np.ndarray:
        t = case.target.values
        values = t if np.issubdtype(t.dtype, np.integer) else round_to(t, dtype)
        return values.reshape(-1) if t.ndim == case.ndim - 1 else values.reshape(-1, case.num_classes)

    # -- the schema -------------------------------------------------------------------------
    def check(self, case: Case) -> None:
        check_classes_last(case, self.least_classes)

    # -- the canonical definition -------------------------------------------------------------
    def per_sample(self, case: Case, dtype: DType, x: np.ndarray) -> np.ndarray:
        rows = x.reshape(-1, case.num_classes)
        targets = self.target_rows(case, dtype)
        out = np.empty(rows.shape[0], dtype=object)
        for i in range(rows.shape[0]):
            out[i] = NAN if any(MP.isnan(v) for v in rows[i]) else self.row_loss(case, dtype, rows[i], targets[i])
        return out.reshape(self.output_shape(case))

    def loss(self, case: Case, dtype: DType, x: np.ndarray) -> Any:
        return reduce_exact(self.per_sample(case, dtype, x), case.reduction)

    def gradient(self, case: Case, dtype: DType, reading: str | None = None) -> tuple[np.ndarray, Any]:
        """Each row's derivative by central differences of that row's loss alone."""
        if reading is not None:
            raise ValueError(f"{self.name} has no gradient reading {reading!r}")
        x = mp_array(case.input.values, dtype)
        rows = x.reshape(-1, case.num_classes)
        targets = self.target_rows(case, dtype)
        grad = np.empty(rows.shape, dtype=object)
        margins = self.margins(case, dtype)
        for i in range(rows.shape[0]):
            finite = [v for v in rows[i] if MP.isfinite(v)]
            scale = max([abs(v) for v in finite] + [abs(m) for m in margins] + [ONE])
            # Steps go below every distance from a kink: a score, a margin, and how far each
            # two scores' difference is from each margin.
            smallest = smallest_magnitude(*finite, *margins, *(a - b + m for a in finite for b in finite
                                                                for m in margins)) if self.kinks else scale
            for j in range(rows.shape[1]):
                grad[i, j] = self._row_partial(case, dtype, rows[i], targets[i], j, scale, smallest)
        scale = self.scale(case, x.shape)
        return grad.reshape(x.shape) * scale, scale

    def _row_partial(self, case: Case, dtype: DType, row: np.ndarray, target: Any, j: int, scale: Any,
                     smallest: Any) -> Any:
        if not all(MP.isfinite(v) for v in row):
            return NAN

        def moved(v: Any) -> Any:
            changed = row.copy()
            changed[j] = v
            return self.row_loss(case, dtype, changed, target)

        # Steps relative to the row's largest score or margin: the row's loss is of that size.
        return central_slope(moved, row[j], scale, smallest)

    # -- interpretation ----------------------------------------------------------------------
    def readings(self, case: Case, dtype: DType) -> list[Knobs]:
        return [Knobs(per_class_mean=True)] + self.own_readings(case, dtype)

    def own_readings(self, case: Case, dtype: DType) -> list[Knobs]:
        return []

    def variant(self, case: Case, dtype: DType, reading: Reading, inputs: np.ndarray | None = None,
                ) -> np.ndarray | None:
        if not isinstance(reading, Knobs):
            if reading.knobs():
                return None  # another family's reading
            reading = Knobs()
        with np.errstate(all="ignore"):
            x = round_to(case.input.values, dtype) if inputs is None else inputs
            rows = np.asarray(x, dtype=np.float64).reshape(-1, case.num_classes)
            losses = self.row_losses_float(case, dtype, rows, self.float_target_rows(case, dtype), reading)
            if losses is None:
                return None
            if reading.per_class_mean:
                losses = losses / case.num_classes
            losses = losses.reshape(self.output_shape(case))
            if case.reduction == Reduction.NONE:
                return losses
            if case.reduction == Reduction.SUM:
                return np.asarray(losses.sum())
            return np.asarray(losses.sum() / losses.size)

    def kink_points(self, reading: Reading) -> list[float]:
        return [-1.0, 0.0, 1.0]


class TrueClassFamily(RowFamily):
    """A loss of the true class's score against the other classes' (the multiclass hinge and
    perceptron): an ``index`` or ``one_hot`` target, at least two classes, and Keras' reading
    of the max over the other classes."""

    targets = {"index": Elements.INDEX, "one_hot": Elements.FLOAT}
    least_classes = 2
    aspects = (TRUE_CLASS,)

    def check(self, case: Case) -> None:
        super().check(case)
        if case.target.kind == "one_hot":
            check_one_hot(case)
        else:
            check_indices(case)

    def own_readings(self, case: Case, dtype: DType) -> list[Knobs]:
        return [Knobs(true_class_in_max=True)]


# -- float64 helpers --------------------------------------------------------------------------
def one_hot_rows(targets: np.ndarray, classes: int) -> np.ndarray:
    """Index targets (N,) as one-hot rows; one-hot rows as they are."""
    if targets.ndim == 1:
        return np.eye(classes)[targets]
    return np.asarray(targets, dtype=np.float64)


def true_scores(s: np.ndarray, one_hot: np.ndarray) -> np.ndarray:
    return (s * one_hot).sum(axis=-1)


def other_max(s: np.ndarray, one_hot: np.ndarray, knobs: Knobs) -> np.ndarray:
    """The largest score among the other classes (or Keras' max((1 - t) s))."""
    if knobs.true_class_in_max:
        return ((1 - one_hot) * s).max(axis=-1)
    return np.where(one_hot == 1, -np.inf, s).max(axis=-1)


def row_index(target: Any) -> int:
    """The class index of an index target, or of a one-hot row."""
    if isinstance(target, np.ndarray):
        return int(next(c for c, v in enumerate(target) if v == 1))
    return int(target)


def others_max_exact(s: np.ndarray, y: int) -> Any:
    return max(s[j] for j in range(len(s)) if j != y)


def summed(values: list[Any]) -> Any:
    return total(values) if values else MP.mpf(0)
