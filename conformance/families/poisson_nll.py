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

from conformance.dtypes import round_to
from conformance.exact import MP, NAN, exp, log, mp_array, times_log
from conformance.families import regression as shared
from conformance.families.base import Aspect, Rule
from conformance.vocabulary import Elements


class PoissonOptions(shared.WeightedOptions):
    full: bool = False


GUARDS = (1e-8, 1e-7)  # torch's eps in log(rate + eps), Keras' epsilon


def _log_factorial(y: Any) -> Any:
    # Below -1 the gamma function is negative or infinite in places: no count, no log y!.
    if MP.isnan(y) or y <= -1:
        return NAN
    return MP.loggamma(y + 1) if MP.isfinite(y) else (MP.inf if y > 0 else NAN)


def _stirling(y: np.ndarray, masked: str) -> np.ndarray:
    term = y * np.log(y) - y + 0.5 * np.log(2 * np.pi * y)
    mask = (y <= 1) if masked == "le_1" else ((y >= 0) & (y <= 1))
    return np.where(mask, 0.0, term)


def _times(y: np.ndarray, log_rate: np.ndarray, knobs: Any) -> np.ndarray:
    """y log(rate), with 0 log 0 = 0 unless the reading says it is NaN."""
    product = y * log_rate
    return product if knobs.nan_zero_log else np.where((y == 0) & np.isneginf(log_rate), 0.0, product)


def _reads(knobs: Any, input_kind: str) -> str | None:
    return {"rates": "rates", "log_rates": "log-rates"}.get(knobs.get("reads") or "")


# Not the probability families' "input" aspect (aspect names are the table's columns).
INPUT = Aspect("rate_input", "what it reads a Poisson input as", "rates",
               (Rule(lambda k, kind: _reads(k, kind) == "log-rates", "log-rates"),
                Rule(lambda k, kind: _reads(k, kind) == "rates", "rates")),
               kind_of=_reads, kinds=("log-rates", "rates"))


class PoissonNLL(shared.ElementwiseFamily):
    name = "poisson_nll"
    definition = "lambda - y log lambda per element (+ log y! with full); input rates or log-rates"
    inputs = ("rates", "log_rates")
    targets = {"counts": Elements.FLOAT}
    options = PoissonOptions
    asymmetric = True
    guards = GUARDS
    aspects = (INPUT,
               shared.eps_aspect("poisson_guard", "what it adds inside log(rate)", {1e-8: "+1e-8", 1e-7: "+1e-7"}),
               Aspect("poisson_full", "the log y! term of full: true", "log y! (exact)",
                      (Rule(lambda k, kind: k.get("stirling") == "le_1", "Stirling, 0 where y <= 1"),
                       Rule(lambda k, kind: k.get("stirling") == "zero_to_1", "Stirling, 0 where 0 <= y <= 1"),
                       Rule(lambda k, kind: k.get("stirling") == "omitted", "left out"))),
               shared.SUM)

    def element(self, case: Any, x: Any, y: Any) -> Any:
        rate = exp(x) if case.input.kind == "log_rates" else x
        if MP.isnan(rate) or MP.isnan(y) or rate < 0:
            value = NAN
        elif rate == MP.inf:
            value = MP.inf  # the rate outgrows y log(rate)
        elif case.input.kind == "log_rates":
            value = rate - times_log(y, -MP.inf if rate == 0 else x)
        else:
            value = rate - times_log(y, log(rate))
        return value + _log_factorial(y) if case.options.full else value

    gradient_readings = {
        **shared.ElementwiseFamily.gradient_readings,
        **{f"log_guard_{eps:g}": f"the rate is guarded by +{eps:g} inside the log: 1 - y / (lambda + {eps:g}) "
                                 f"for rates, e^x (1 - y / (e^x + {eps:g})) for log-rates given to an API of "
                                 "rates as e^x" for eps in GUARDS},
    }

    def _slope(self, case: Any, x: Any, y: Any, reading: str | None = None) -> Any:
        """1 - y / lambda for rates (1 at lambda = 0 with y = 0: the rate's own slope, one-sided
        at the edge of the domain), e^x - y for log-rates (-y at x = -inf)."""
        log_rate_at_zero = x == -MP.inf and case.input.kind == "log_rates"
        if not MP.isfinite(y) or not (MP.isfinite(x) or log_rate_at_zero):
            return NAN
        if reading is not None and reading.startswith("log_guard_"):
            eps = MP.mpf(reading.removeprefix("log_guard_"))
            rate = exp(x) if case.input.kind == "log_rates" else x
            slope = 1 - y / (rate + eps)
            return rate * slope if case.input.kind == "log_rates" else slope
        if case.input.kind == "log_rates":
            return exp(x) - y
        if x < 0:
            return NAN
        if x == 0:
            return MP.mpf(1) if y == 0 else -MP.sign(y) * MP.inf
        return 1 - y / x

    def element_float(self, case, dtype, x, y, knobs) -> np.ndarray:
        kind = knobs.reads or case.input.kind
        eps = float(round_to(knobs.eps or 0.0, dtype))  # 1e-8 is 0 in float16
        if kind == "log_rates" and knobs.eps is None:
            value = np.exp(x) - _times(y, x, knobs)
        elif kind == "log_rates":  # an API of rates, given exp of the log-rates
            value = np.exp(x) - _times(y, np.log(np.exp(x) + eps), knobs)
        else:
            value = x - _times(y, np.log(x + eps), knobs)
        if case.options.full and knobs.stirling != "omitted":
            value = value + (_stirling(y, knobs.stirling) if knobs.stirling else gammaln(y + 1))
        return value

    def own_readings(self, case: Any, dtype: Any) -> list[shared.Knobs]:
        singles = [shared.Knobs(reads=k) for k in self.inputs if k != case.input.kind]
        singles.append(shared.Knobs(nan_zero_log=True))
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
