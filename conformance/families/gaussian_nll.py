r"""Gaussian negative log-likelihood of targets ``y`` under means :math:`\mu` and variances :math:`v`:

.. math:: \tfrac12\left(\log v + (\mu - y)^2 / v\right) \;[+ \tfrac12 \log 2\pi \text{ with } full]

Input ``means``, target ``values``, option ``variance`` (required, the
input's shape; the gradient is taken with respect to the means), ``full``.
No eps: :math:`v = 0` gives :math:`-\infty` where :math:`\mu = y` and
:math:`+\infty` elsewhere, and :math:`v < 0` is undefined (NaN). torch clamps
the variance at ``eps = 1e-6`` (its docstring says it is added).

Example::

    loss: gaussian_nll
    input: {means: [0.0, 1.0]}
    target: {values: [1.0, 1.0]}
    variance: [1.0, 4.0]
    expected: 0.5965735903    # (1/2 (0 + 1) + 1/2 (log 4 + 0)) / 2

Gradient with respect to the means: :math:`(\mu - y)/v` over the divisor.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from conformance.arrays import FloatArray
from conformance.case_rules import CaseRuleError
from conformance.dtypes import round_to
from conformance.exact import MP, NAN, log, mp_array
from conformance.families import regression as shared
from conformance.families.base import Aspect, Options, Rule
from conformance.vocabulary import Elements


class GaussianOptions(Options):
    variance: FloatArray | None = None
    full: bool = False


def _slope(r: Any, v: Any) -> Any:
    """d/dmu of 1/2 (log v + r^2 / v): r / v (0 under an infinite variance)."""
    if not MP.isfinite(r) or MP.isnan(v) or v <= 0:
        return NAN
    return r / v if MP.isfinite(v) else MP.mpf(0)


class GaussianNLL(shared.ElementwiseFamily):
    name = "gaussian_nll"
    definition = "1/2 (log v + (mu - y)^2 / v) per element (+ 1/2 log 2 pi with full)"
    inputs = ("means",)
    targets = {"values": Elements.FLOAT}
    options = GaussianOptions
    guards = (1e-6,)
    aspects = (shared.eps_aspect("gaussian_guard", "what it does to a small variance",
                                 {1e-6: "clamped at 1e-6"}),
               Aspect("gaussian_constant", "1/2 log 2 pi with full: false", "left out",
                      (Rule(lambda k, kind: k.get("constant") is True, "added"),)))

    def check(self, case: Any) -> None:
        super().check(case)
        if case.options.variance is None:
            raise CaseRuleError("variance", "gaussian_nll needs `variance:` (an array of the input's shape)")
        shared.check_same_shape(case, "variance", case.options.variance)

    def element(self, case: Any, x: Any, y: Any) -> Any:
        raise NotImplementedError("gaussian_nll's elements need their variance: see elements()")

    def elements(self, case: Any, dtype: Any, x: np.ndarray) -> np.ndarray:
        y = mp_array(case.target.values, dtype)
        v = mp_array(case.options.variance, dtype)
        out = np.empty(x.shape, dtype=object)
        for index in np.ndindex(x.shape):
            out[index] = self._element(case, x[index], y[index], v[index])
        return out

    def _element(self, case: Any, x: Any, y: Any, v: Any) -> Any:
        r = x - y
        if MP.isnan(r) or MP.isnan(v) or v < 0:
            return NAN
        if v == 0:
            value = -MP.inf if r == 0 else MP.inf
        elif MP.isinf(v):
            value = MP.inf if MP.isfinite(r) else NAN
        else:
            value = (log(v) + r * r / v) / 2
        return value + MP.log(2 * MP.pi) / 2 if case.options.full else value

    def gradient(self, case: Any, dtype: Any, reading: str | None = None) -> tuple[np.ndarray, Any]:
        if reading is not None:
            raise ValueError(f"{self.name} has no gradient reading {reading!r}")
        x, y = mp_array(case.input.values, dtype), mp_array(case.target.values, dtype)
        v = mp_array(case.options.variance, dtype)
        grad = np.empty(x.shape, dtype=object)
        for index in np.ndindex(x.shape):
            grad[index] = _slope(x[index] - y[index], v[index])
        divisor = self.divisor(case, dtype)
        return grad / divisor, 1 / divisor

    def element_float(self, case, dtype, x, y, knobs) -> np.ndarray:
        v = round_to(case.options.variance, dtype)
        if knobs.eps is not None:
            v = np.maximum(v, float(round_to(knobs.eps, dtype)))  # 1e-6 is subnormal in float16
        if knobs.eps_added is not None:
            v = v + knobs.eps_added
        r2 = (x - y) ** 2
        value = 0.5 * (np.log(v) + r2 / v)
        limit = np.where(r2 == 0, -np.inf, np.where(np.isnan(r2), np.nan, np.inf))
        value = np.where(v == 0, limit, value)  # the oracle's limits at v = 0
        constant = case.options.full if knobs.constant is None else knobs.constant
        return value + 0.5 * np.log(2 * np.pi) if constant else value

    def own_readings(self, case: Any, dtype: Any) -> list[shared.Knobs]:
        return [shared.Knobs(eps_added=1e-6), shared.Knobs(constant=not case.options.full)]

    def eps_words(self, eps: float) -> str:
        return f"clamps the variance at {eps:.3g}"


FAMILY = GaussianNLL()
