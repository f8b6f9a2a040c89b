"""Comparison with the oracle and the status of each evaluation.

``pass``       within tolerance of the oracle;
``known``      deviates exactly as the case's ``expect`` entry says;
``difference`` an ``as_is`` case deviating (the point of such a case);
``fail``       any other deviation, including a stale ``expect`` entry;
``error``      the API raised (or crashed, or hung) unexpectedly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from conformance.binding import Binding
from conformance.case import Case, Expectation, Tolerance
from conformance.dtypes import DType, spacing
from conformance.oracle import GRADIENT_READINGS, OracleValue
from conformance.tolerance import bound_tolerance


@dataclass(frozen=True)
class Outcome:
    """What the API did: returned ``value`` (float64 array) or raised ``exception``."""

    value: np.ndarray | None = None
    exception: str | None = None
    message: str = ""


@dataclass(frozen=True)
class Errors:
    abs_err: float
    rel_err: float
    ulp_err: float
    close: bool
    shape_mismatch: bool = False


@dataclass(frozen=True)
class Verdict:
    status: str
    explanation: str
    errors: Errors | None = None
    expectation: Expectation | None = None


def _pair_close(value: float, target: float, tol: Tolerance) -> bool:
    if math.isnan(value) or math.isnan(target):
        return math.isnan(value) and math.isnan(target)
    if math.isinf(value) or math.isinf(target):
        return value == target
    return abs(value - target) <= tol.atol + tol.rtol * abs(target)


def _pair_abs(value: float, target: float) -> float:
    if (math.isnan(value) and math.isnan(target)) or (math.isinf(target) and value == target):
        return 0.0
    if not (math.isfinite(value) and math.isfinite(target)):
        return math.inf
    return abs(value - target)


def measure(value: np.ndarray, oracle: OracleValue, dtype: DType, tol: Tolerance) -> Errors:
    """Largest absolute, relative and ULP errors of ``value`` against the oracle."""
    target = oracle.as_float()
    if value.shape != target.shape:
        return Errors(math.inf, math.inf, math.inf, close=False, shape_mismatch=True)
    exact = np.asarray(oracle.exact, dtype=object).reshape(target.shape)
    abs_err = rel_err = ulp_err = 0.0
    close = True
    for index in np.ndindex(target.shape):
        v, t = float(value[index]), float(target[index])
        close &= _pair_close(v, t, tol)
        diff = _pair_abs(v, t)
        abs_err = max(abs_err, diff)
        rel_err = max(rel_err, diff / abs(t) if t and math.isfinite(diff) else (0.0 if diff == 0 else math.inf))
        ulp_err = max(ulp_err, _ulps(v, exact[index], t, dtype) if math.isfinite(diff) else diff)
    return Errors(abs_err, rel_err, ulp_err, bool(close))


def _ulps(value: float, exact: object, target: float, dtype: DType) -> float:
    """|value - exact| in units of the last place of the oracle in ``dtype``."""
    ulp = spacing(target, dtype)
    if value == target or not ulp:
        return 0.0 if value == target else math.inf
    return float(abs(type(exact)(value) - exact) / ulp)


def matches_value(value: np.ndarray, expected: np.ndarray, tol: Tolerance) -> bool:
    if value.shape != expected.shape:
        return False
    return all(_pair_close(float(v), float(e), tol) for v, e in zip(value.flat, expected.flat))


def judge(case: Case, binding: Binding, dtype: DType, outcome: Outcome, oracle: OracleValue,
          version: str | None) -> Verdict:
    """The status and explanation of one evaluation."""
    tol = case.tolerance_for(dtype)
    entry = case.expectation_for(binding.documented_as, version, dtype, binding.shares_expectations_with,
                                 backend=binding.backend)
    deviated = "difference" if case.mode == "as_is" else "known"
    if outcome.exception is not None:
        if entry is not None and entry.raises == outcome.exception:
            return Verdict(deviated, entry.reason, expectation=entry)
        wanted = f" (expect says it raises {entry.raises})" if entry and entry.raises else ""
        return Verdict("error", f"{binding.id} raised {outcome.exception}: {outcome.message}{wanted}")
    errors = measure(outcome.value, oracle, dtype, tol)
    if entry is not None and entry.raises:
        return Verdict("fail", f"stale expectation: expect says {binding.id} raises {entry.raises}, "
                       "but it returned a value; update or remove the entry", errors)
    if errors.close:
        if entry is not None:
            return Verdict("fail", f"stale expectation: {binding.id} now agrees with the oracle, but "
                           f"expect documents a deviation ({entry.reason}); remove or restrict the "
                           "entry (versions/dtypes)", errors)
        return Verdict("pass", "", errors)
    within = bound_tolerance(entry.within, dtype) if entry is not None and entry.within else None
    return _deviation(case, binding, outcome, errors, entry, tol, deviated, oracle.as_float(), within)


def _as_documented(value: np.ndarray, documented: np.ndarray | None, within: Tolerance | None,
                   oracle: np.ndarray, tol: Tolerance) -> bool:
    """Whether ``value`` is what an entry documents: its literal (within ``tol``), or
    the oracle within the entry's looser tolerance ``within``."""
    if documented is not None:
        return matches_value(value, documented, tol)
    return within is not None and matches_value(value, oracle, within)


def _deviation(case: Case, binding: Binding, outcome: Outcome, errors: Errors,
               entry: Expectation | None, tol: Tolerance, deviated: str, oracle: np.ndarray,
               within: Tolerance | None) -> Verdict:
    if entry is not None:
        if _as_documented(outcome.value, entry.value, within, oracle, tol):
            return Verdict(deviated, entry.reason, errors, entry)
        said = f"within {entry.within}" if entry.within else str(entry.value.tolist())
        return Verdict("fail", f"deviates differently than documented: expect says "
                       f"{said} ({entry.reason}), got {outcome.value.tolist()}", errors)
    if case.mode == "as_is":
        return Verdict("difference", f"as_is: the {case.input.kind} went in as written; "
                       f"{binding.id} {binding.reads}", errors)
    if errors.shape_mismatch:
        return Verdict("fail", f"returned shape {outcome.value.shape}, the canonical loss has shape "
                       f"{case.output_shape if case.reduction == 'none' else ()}", errors)
    return Verdict("fail", f"undocumented deviation of {errors.ulp_err:.3g} ULP (abs {errors.abs_err:.3g}, "
                   f"tolerance rtol={tol.rtol:g} atol={tol.atol:g}); fix the adapter or document it "
                   "in `expect`", errors)


# -- gradients ------------------------------------------------------------------
def gradient_tolerance(tol: Tolerance, oracle_grad: np.ndarray, scale: object = None) -> Tolerance:
    """The value tolerance with ``atol`` scaled by the gradient's size: its largest
    component, or the reduction's factor (1/D for a mean) if that is larger.

    A mean over many elements makes every component small (1/N); an absolute
    ``atol`` of 1e-5 would then accept any gradient at all.
    """
    return Tolerance(rtol=tol.rtol, atol=tol.atol * _gradient_size(oracle_grad, scale))


def _gradient_size(target: np.ndarray, scale: object) -> float:
    finite = np.abs(target[np.isfinite(target)])
    size = float(finite.max()) if finite.size else 0.0
    if scale is not None and math.isfinite(float(scale)):
        size = max(size, abs(float(scale)))
    return size or 1.0


def measure_gradient(grad: np.ndarray, oracle_grad: OracleValue, dtype: DType, tol: Tolerance) -> Errors:
    """Largest errors of ``grad``; relative to, and ULPs counted at, the gradient's size."""
    target = oracle_grad.as_float()
    if grad.shape != target.shape:
        return Errors(math.inf, math.inf, math.inf, close=False, shape_mismatch=True)
    close, abs_err = True, 0.0
    for index in np.ndindex(target.shape):
        v, t = float(grad[index]), float(target[index])
        close &= _pair_close(v, t, tol)
        abs_err = max(abs_err, _pair_abs(v, t))
    size = _gradient_size(target, oracle_grad.scale)
    if not math.isfinite(abs_err):
        return Errors(abs_err, abs_err, abs_err, bool(close))
    return Errors(abs_err, abs_err / size, abs_err / spacing(size, dtype), bool(close))


def judge_gradient(case: Case, binding: Binding, dtype: DType, outcome: Outcome, oracle: OracleValue,
                   oracle_grad: OracleValue, version: str | None,
                   reading: Callable[[str], OracleValue] | None = None) -> Verdict:
    """The gradient's status: pass; known (documented in ``expect`` by ``grad``,
    ``grad_within`` or ``grad_reading``, or the reading the binding declares for this
    input kind; ``reading(name)`` is the oracle's gradient under a reading); fail;
    error (autodiff raised); skipped where the canonical loss is not finite."""
    if not np.isfinite(oracle.as_float()).all():
        return Verdict("skipped", "the canonical loss is not finite here, so its gradient is undefined")
    if outcome.exception is not None:
        return Verdict("error", f"the gradient of {binding.id} raised {outcome.exception}: {outcome.message}")
    tol = gradient_tolerance(case.tolerance_for(dtype), oracle_grad.as_float(), oracle_grad.scale)
    errors = measure_gradient(outcome.value, oracle_grad, dtype, tol)
    entry = case.expectation_for(binding.documented_as, version, dtype, binding.shares_expectations_with,
                                 about="grad", backend=binding.backend)
    if errors.close:
        if entry is not None:
            return Verdict("fail", f"stale expectation: the gradient of {binding.id} now agrees with the "
                           f"oracle, but expect documents a deviation ({entry.reason})", errors)
        return Verdict("pass", "", errors)
    if entry is not None:
        within = entry.grad_within and gradient_tolerance(bound_tolerance(entry.grad_within, dtype),
                                                          oracle_grad.as_float(), oracle_grad.scale)
        documented = reading(entry.grad_reading).as_float() if entry.grad_reading and reading else entry.grad
        if _as_documented(outcome.value, documented, within, oracle_grad.as_float(), tol):
            return Verdict("known", entry.reason, errors, entry)
        said = (f"within {entry.grad_within}" if entry.grad_within
                else f"the reading {entry.grad_reading!r}" if entry.grad_reading else str(entry.grad.tolist()))
        return Verdict("fail", f"the gradient deviates differently than documented: expect says "
                       f"{said} ({entry.reason})", errors)
    declared = binding.grad_readings.get(case.input.kind)
    if declared and reading and matches_value(outcome.value, reading(declared).as_float(), tol):
        return Verdict("known", f"{binding.id} with {case.input.kind} input: {GRADIENT_READINGS[declared]}",
                       errors)
    if errors.shape_mismatch:
        return Verdict("fail", f"gradient of shape {outcome.value.shape}, the input has shape "
                       f"{oracle_grad.shape}", errors)
    also = f" and from the declared reading {declared!r}" if declared else ""
    return Verdict("fail", f"undocumented gradient deviation from the oracle{also} (max abs "
                   f"{errors.abs_err:.3g}, {errors.ulp_err:.3g} ULP); fix the adapter or document it "
                   "in `expect` with `grad`", errors)
