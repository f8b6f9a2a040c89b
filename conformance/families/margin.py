"""What the binary margin families share: scores against labels, as ±1 or as {0, 1}.

A score ``s`` (any real number: a logit, an SVM decision value) is judged
against a label ``y``. Two target kinds say what the labels mean, so no
conversion is silent: ``signs`` are the ±1 labels as they are (``y`` enters
``y s`` directly), ``binary`` are {0, 1} labels, read as ``y = 2t - 1``. Keras
converts {0, 1} to ±1 itself, but only when every label of the whole batch is 0
or 1; optax and torch take the labels as they are, so a 0 label there is a
label of 0 (``y s = 0``). Both are readings (``labels``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from conformance.exact import MP, NAN
from conformance.families import regression as shared
from conformance.families.base import Aspect, Rule
from conformance.vocabulary import Elements


def label(case: Any, t: Any) -> Any:
    """The ±1 label of a target element, as its kind says."""
    return 2 * t - 1 if case.target.kind == "binary" else t


def float_labels(case: Any, t: np.ndarray, knobs: shared.Knobs) -> np.ndarray:
    kind = {"signs": "signs", "binary": "binary"}.get(knobs.labels or "", case.target.kind)
    return 2 * t - 1 if kind == "binary" else t


LABELS = Aspect(
    "margin_labels", "what it makes of {0, 1} labels", "converted to -1, +1",
    (Rule(lambda knobs, input_kind: knobs.get("labels") == "signs", "taken as they are (0 is a label of 0)"),))


class MarginFamily(shared.ElementwiseFamily):
    """A binary margin loss of ``m = y s`` per element."""

    inputs = ("scores",)
    targets = {"signs": Elements.FLOAT, "binary": Elements.FLOAT}
    asymmetric = True
    aspects = (LABELS, shared.SUM)

    def margin_loss(self, m: Any) -> Any:
        raise NotImplementedError

    def margin_loss_float(self, m: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def element(self, case: Any, x: Any, y: Any) -> Any:
        return self.margin_loss(label(case, y) * x)

    def element_float(self, case, dtype, x, y, knobs) -> np.ndarray:
        return self.margin_loss_float(float_labels(case, y, knobs) * x)

    def own_readings(self, case: Any, dtype: Any) -> list[shared.Knobs]:
        other = "signs" if case.target.kind == "binary" else "binary"
        return [shared.Knobs(labels=other)]

    gradient_readings = {
        **shared.ElementwiseFamily.gradient_readings,
        "loss_side_slope_at_kink": "at the kink (y s = 1 for the hinge, 0 for the perceptron) the slope is the "
                                   "one on the side where the loss is positive, -y, not the mean of the two "
                                   "sides, -y/2: TensorFlow's maximum gives a tie's whole gradient to its first "
                                   "argument",
    }

    def _slope(self, case: Any, x: Any, y: Any, reading: str | None = None) -> Any:
        if reading != "loss_side_slope_at_kink":
            return super()._slope(case, x, y, reading)
        if not (MP.isfinite(x) and MP.isfinite(y)):
            return NAN
        step = MP.mpf("1e-20") * max(abs(x), MP.mpf(1))
        here = self.element(case, x, y)
        left = (here - self.element(case, x - step, y)) / step
        right = (self.element(case, x + step, y) - here) / step
        return left if abs(left) >= abs(right) else right

    def kink_points(self, reading: Any) -> list[float]:
        return [-1.0, 0.0, 1.0]
