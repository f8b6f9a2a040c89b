r"""Poisson negative log-likelihood of counts ``y`` under rates :math:`\lambda`, per element:

.. math:: \lambda - y \log\lambda \;[+ \log\Gamma(y + 1) \text{ with } full]

Input ``rates`` (:math:`\lambda`) or ``log_rates`` (:math:`x = \log\lambda`,
so :math:`e^x - y x`); target ``counts`` (real numbers: APIs take any);
optional element ``weight``. ``full: true`` adds the exact
:math:`\log\Gamma(y+1) = \log y!`; the Stirling approximations APIs use
instead (torch masks it to 0 where :math:`y \le 1`, TensorFlow where
:math:`0 \le y \le 1`) are readings, not the canonical value. No eps: torch
adds 1e-8 inside the log of a rate, Keras 1e-7. :math:`0 \log 0 = 0`, so
:math:`\lambda = 0` with :math:`y = 0` costs 0 and with :math:`y > 0` is infinite.

Example::

    loss: poisson_nll
    reduction: none
    input: {log_rates: [0.0, 1.0, -2.0, 3.0]}
    target: {counts: [0.0, 1.0, 2.0, 5.0]}
    expected: [1.0, 1.718281828, 4.135335283, 5.085536923]

Gradient: rates :math:`w (1 - y/\lambda)`; log-rates :math:`w (e^x - y)`; over the divisor.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import gammaln

from conformance.exact import MP, NAN, ZERO, exp, log, mp_array, times_log
from conformance.families import regression as shared
from conformance.families.base import Aspect, Rule
from conformance.vocabulary import Elements


class PoissonOptions(shared.WeightedOptions):
    full: bool = False


def _log_factorial(y: Any) -> Any:
    if MP.isnan(y) or y <= -1 and y == int(y):
        return NAN
    return MP.loggamma(y + 1) if MP.isfinite(y) else (MP.inf if y > 0 else NAN)


def _stirling(y: np.ndarray, masked: str) -> np.ndarray:
    term = y * np.log(y) - y + 0.5 * np.log(2 * np.pi * y)
    mask = (y <= 1) if masked == "le_1" else ((y >= 0) & (y <= 1))
    return np.where(mask, 0.0, term)


def _reads(knobs: Any, input_kind: str) -> str | None:
    return {"rates": "rates", "log_rates": "log-rates"}.get(knobs.get("reads") or "")


# Not the probability families' "input" aspect (aspect names are the table's columns).
INPUT = Aspect("rate_input", "what it reads a Poisson input as", "rates",
               (Rule(lambda k, kind: _reads(k, kind) == "log-rates", "log-rates"),
                Rule(lambda k, kind: _reads(k, kind) == "rates", "rates")))


class PoissonNLL(shared.ElementwiseFamily):
    name = "poisson_nll"
    definition = "lambda - y log lambda per element (+ log y! with full); input rates or log-rates"
    inputs = ("rates", "log_rates")
    targets = {"counts": Elements.FLOAT}
    options = PoissonOptions
    asymmetric = True
    guards = (1e-8, 1e-7)
    aspects = (INPUT,
               shared.eps_aspect("poisson_guard", "what it adds inside log(rate)", {1e-8: "+1e-8", 1e-7: "+1e-7"}),
               Aspect("poisson_full", "the log y! term of full: true", "log y! (exact)",
                      (Rule(lambda k, kind: k.get("stirling") == "le_1", "Stirling, 0 where y <= 1"),
                       Rule(lambda k, kind: k.get("stirling") == "zero_to_1", "Stirling, 0 where 0 <= y <= 1"),
                       Rule(lambda k, kind: k.get("stirling") == "omitted", "left out"))),
               shared.SUM)

    def element(self, case: Any, x: Any, y: Any) -> Any:
        if case.input.kind == "log_rates":
            value = exp(x) - times_log(y, x) if not (MP.isinf(x) and x < 0) else (ZERO if y == 0 else
                                                                                  MP.inf if y > 0 else -MP.inf)
        else:
            value = NAN if MP.isnan(x) or x < 0 else x - times_log(y, log(x))
        return value + _log_factorial(y) if case.options.full else value

    def element_float(self, case, dtype, x, y, knobs) -> np.ndarray:
        kind = knobs.reads or case.input.kind
        eps = knobs.eps or 0.0
        if kind == "log_rates":
            if knobs.eps is not None:
                return None
            value = np.exp(x) - np.where((y == 0) & np.isneginf(x), 0.0, y * x)
        else:
            logs = np.log(x + eps)
            value = x - np.where((y == 0) & np.isneginf(logs), 0.0, y * logs)
        if case.options.full and knobs.stirling != "omitted":
            value = value + (_stirling(y, knobs.stirling) if knobs.stirling else gammaln(y + 1))
        return value

    def own_readings(self, case: Any, dtype: Any) -> list[shared.Knobs]:
        singles = [shared.Knobs(reads=k) for k in self.inputs if k != case.input.kind]
        if case.options.full:
            singles += [shared.Knobs(stirling=s) for s in ("le_1", "zero_to_1", "omitted")]
        return singles

    def eps_words(self, eps: float) -> str:
        return f"adds {eps:.3g} to the rate inside the log"

    def converted_input(self, case: Any, dtype: Any, kind: str) -> np.ndarray:
        """Rates as log-rates (``log``, exact; log 0 = -inf), or log-rates as rates (``exp``)."""
        conversion = {("rates", "log_rates"): log, ("log_rates", "rates"): exp}.get((case.input.kind, kind))
        if conversion is None:
            return super().converted_input(case, dtype, kind)
        values = np.vectorize(conversion, otypes=[object])(mp_array(case.input.values, dtype))
        return np.array([float(v) for v in values.flat], dtype=np.float64).reshape(values.shape)


FAMILY = PoissonNLL()
