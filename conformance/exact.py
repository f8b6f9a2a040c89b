"""Exact arithmetic (mpmath, 50 digits): the building blocks of every family's oracle.

Arrays are NumPy object arrays of ``mpmath.mpf``. Non-finite values follow
IEEE limits where those are defined (``log 0 = -inf``) and become NaN where
the mathematics is undefined (``log`` of a negative number, softmax of
``+inf``); the one convention added is ``0 * log 0 = 0``.
"""

from __future__ import annotations

import itertools
from typing import Any

import mpmath
import numpy as np

from conformance.deadline import check
from conformance.dtypes import DType, round_to

DIGITS = 50
MP = mpmath.MPContext()
MP.dps = DIGITS
NAN = MP.mpf("nan")
INF = MP.mpf("inf")
ZERO = MP.mpf(0)
ONE = MP.mpf(1)


def mp_array(values: Any, dtype: DType | None = None) -> np.ndarray:
    """``values`` (rounded to ``dtype`` first, if given) as an mpf object array."""
    floats = round_to(values, dtype) if dtype else np.asarray(values, dtype=np.float64)
    out = np.empty(floats.shape, dtype=object)
    for index, value in np.ndenumerate(floats):
        check()
        out[index] = MP.mpf(float(value))
    return out


def is_nan(x: Any) -> bool:
    return MP.isnan(x)


# The helpers below run once per element: each checks the evaluation's time limit.
def log(x: Any) -> Any:
    check()
    if MP.isnan(x) or x < 0:
        return NAN
    if x == 0:
        return -INF
    return MP.log(x)


def exp(x: Any) -> Any:
    check()
    return NAN if MP.isnan(x) else MP.exp(x)


def times_log(coefficient: Any, log_value: Any) -> Any:
    """``coefficient * log_value`` with ``0 * log 0 = 0``."""
    check()
    if coefficient == 0 and not MP.isnan(log_value) and log_value == -INF:
        return ZERO
    return coefficient * log_value


def log_softmax(row: np.ndarray) -> np.ndarray:
    """Exact log-softmax of a 1-D object array of logits."""
    check()
    if any(MP.isnan(z) or z == INF for z in row) or all(z == -INF for z in row):
        return np.array([NAN] * len(row), dtype=object)
    top = max(z for z in row if z != -INF)
    lse = top + MP.log(MP.fsum(MP.exp(z - top) for z in row))
    out = np.array([z - lse for z in row], dtype=object)
    # z - logsumexp(z) cancels where q is near 1, which only the largest class can be: at
    # [100, 0, -100], -log q_0 = 3.7e-44 kept 6 of its 50 digits. -log1p of the others' mass keeps them.
    first = next(c for c, z in enumerate(row) if z == top)
    out[first] = -MP.log1p(MP.fsum(MP.exp(z - top) for c, z in enumerate(row) if c != first))
    return out


def log_sigmoid(x: Any) -> Any:
    """``log(1 / (1 + exp(-x)))`` without cancellation."""
    check()
    if MP.isnan(x):
        return NAN
    return -MP.log1p(MP.exp(-x)) if x > -INF else -INF


def log_q(values: np.ndarray, kind: str) -> np.ndarray:
    """Log-probabilities of the prediction; the class axis must be last."""
    if kind == "logits":
        out = np.empty(values.shape, dtype=object)
        for index in np.ndindex(values.shape[:-1]):
            out[index] = log_softmax(values[index])
        return out
    if kind == "probs":
        return np.vectorize(log, otypes=[object])(values)
    return values.copy()


def total(values: Any) -> Any:
    items = list(np.asarray(values, dtype=object).flat)
    if any(MP.isnan(v) for v in items):
        return NAN
    return MP.fsum(items)


def divide(numerator: Any, denominator: Any) -> Any:
    """``numerator / denominator``; the mean of nothing (0/0) is NaN."""
    check()
    if denominator == 0:
        return NAN if numerator == 0 or MP.isnan(numerator) else MP.sign(numerator) * INF
    return numerator / denominator


# Central differences (the oracle's gradients of piecewise losses): the first step is this
# fraction of the argument's size; each next one is STEP_SHRINK smaller, in DIGITS_PER_STEP
# more digits, so that the difference of the two evaluations keeps DIGITS - 20 significant digits.
FIRST_STEP = MP.mpf("1e-20")
STEP_SHRINK = MP.mpf("1e-10")
DIGITS_PER_STEP = 10
# Successive steps agree relatively; or the slope vanishes: at a C1 kink with zero slope (the
# squared hinge at its margin) the central difference is O(step), so it shrinks with the step,
# by STEP_SHRINK (within a factor 10), twice running.
AGREE = MP.mpf("1e-25")
# The last step, below the smallest magnitude in play: a kink where two floats' sum or
# difference crosses another float is at least about 2**-106 of them away.
LAST_STEP = MP.mpf("1e-45")


def central_slope(f: Any, x: Any, scale: Any, smallest: Any) -> Any:
    """df/dx at ``x`` by central differences, from a step of 1e-20 ``scale`` down by 1e-10
    until two successive steps agree, the larger of them already below 1e-20 ``smallest``.

    A fixed step averages the two sides of a kink closer to ``x`` than the step (``|r|`` at
    r = 1e-30 gave 1e-10, not 1), and two steps both above that distance can agree on the
    average (at r = 1e-60, steps 1e-20 and 1e-30); below it a step gives the slope itself, and
    exactly at a kink every step gives the mean of the one-sided slopes. ``scale``: the size
    of the arguments (the loss's variation is measured against it); ``smallest``: the smallest
    nonzero magnitude in play (no step below ``LAST_STEP`` of it is tried: there, the smallest
    step's slope is the answer). NaN where no step gives finite values.
    """
    step, settled, last = FIRST_STEP * scale, FIRST_STEP * smallest, LAST_STEP * smallest
    slopes: list[Any] = []  # the last three steps' (None: not finite)
    found = NAN
    for k in itertools.count():
        check()
        with MP.workdps(DIGITS + DIGITS_PER_STEP * k):
            high, low = f(x + step), f(x - step)
            slope = (high - low) / (2 * step) if MP.isfinite(high) and MP.isfinite(low) else None
        slopes = (slopes + [slope])[-3:]
        if slope is not None:
            found = +slope
            previous = slopes[-2] if len(slopes) > 1 else None
            if previous is not None and step <= settled * STEP_SHRINK:
                if abs(slope - previous) <= AGREE * max(abs(slope), abs(previous)):
                    return found
                if len(slopes) == 3 and slopes[0] is not None and _shrinks(previous, slopes[0]) \
                        and _shrinks(slope, previous):
                    return ZERO
        if step < last:
            return found
        step *= STEP_SHRINK


def _shrinks(smaller: Any, larger: Any) -> bool:
    """Whether ``smaller`` is ``larger`` times STEP_SHRINK, within a factor 10."""
    return larger != 0 and STEP_SHRINK / 10 <= abs(smaller / larger) <= STEP_SHRINK * 10


def smallest_magnitude(*values: Any) -> Any:
    """The smallest nonzero finite ``|v|`` (1 where there is none): how close two arguments'
    kinks can be, for :func:`central_slope`."""
    sizes = [abs(v) for v in values if MP.isfinite(v) and v != 0]
    return min(sizes) if sizes else ONE
