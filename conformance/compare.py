"""Comparison with the oracle and the status of each evaluation's value and gradient.

One judgement path (:func:`judge`) serves both quantities; what differs between
them is stated once, in :class:`_Terms`: the gradient's tolerance scales with
its size, it counts ULPs at that size, and it may be documented by a named
reading.

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

from conformance.binding import USER_FRAMEWORK, Binding
from conformance.case import Case, Expectation
from conformance.dtypes import MACHINE_EPS, DType, round_to, spacing
from conformance.oracle import OracleValue
from conformance.tolerance import Tolerance, bound_tolerance, known_match
from conformance.vocabulary import Mode, Quantity, Status


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
    # |value - oracle| in machine epsilons of the dtype at max(1, |oracle|) (a gradient: at its
    # size), the unit the tolerance policy counts in (:data:`conformance.tolerance.POLICY_ULPS`).
    scaled_err: float = math.nan


@dataclass(frozen=True)
class Judgement:
    """The status of a value or a gradient, why, how far it is from the oracle, and the
    ``expect`` entry that documents it (if one does)."""

    quantity: Quantity
    status: Status
    explanation: str
    errors: Errors | None = None
    expectation: Expectation | None = None


def _close(value: np.ndarray, target: np.ndarray, tol: Tolerance) -> np.ndarray:
    """Element by element: NaN matches NaN only, an infinity only itself, anything else within
    ``atol + rtol * |target|``."""
    value, target = np.asarray(value, dtype=np.float64), np.asarray(target, dtype=np.float64)
    nan = np.isnan(value) | np.isnan(target)
    infinite = np.isinf(value) | np.isinf(target)
    with np.errstate(invalid="ignore"):
        near = np.abs(value - target) <= tol.atol + tol.rtol * np.abs(target)
    return np.where(nan, np.isnan(value) & np.isnan(target), np.where(infinite, value == target, near))


def abs_errors(value: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Element by element |value - target|: 0 where both are NaN or the same infinity, inf
    where one is not finite and they differ."""
    value, target = np.asarray(value, dtype=np.float64), np.asarray(target, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        errors = np.where(np.isfinite(value) & np.isfinite(target), np.abs(value - target), np.inf)
    agree = (np.isnan(value) & np.isnan(target)) | (np.isinf(target) & (value == target))
    return np.where(agree, 0.0, errors)


def in_range_of(target: np.ndarray, dtype: DType) -> np.ndarray:
    """The exact values as ``dtype`` can hold them: a finite value beyond its range is the
    infinity it rounds to. An API that returns that infinity is exactly right; judged against
    the unrounded float64 oracle it would fail (float32 squared error of 1e20 is inf, not 1e40)."""
    rounded = round_to(target, dtype)
    return np.where(np.isfinite(target) & np.isinf(rounded), rounded, target)


def relative_to_largest(value: np.ndarray, exact: np.ndarray) -> float:
    """The largest |value - exact| over the finite exact components, relative to the largest of
    them: an error next to an exact 0 is measured against the whole, not against 0."""
    value, exact = np.asarray(value, dtype=np.float64), np.asarray(exact, dtype=np.float64)
    finite = np.isfinite(exact) & np.isfinite(value)
    if not finite.any():
        return 0.0
    size = max(float(np.abs(exact[finite]).max()), np.finfo(np.float64).tiny)
    with np.errstate(over="ignore"):  # an error beyond any size next to exact zeros: inf
        return float(np.float64(np.abs(value[finite] - exact[finite]).max()) / size)


def measure(value: np.ndarray, oracle: OracleValue, dtype: DType, tol: Tolerance) -> Errors:
    """Largest absolute, relative and ULP errors of ``value`` against the oracle."""
    target = in_range_of(oracle.as_float(), dtype)
    if value.shape != target.shape:
        return Errors(math.inf, math.inf, math.inf, close=False, shape_mismatch=True)
    exact = np.asarray(oracle.exact, dtype=object).reshape(target.shape)
    close = bool(np.all(_close(value, target, tol)))
    diffs = abs_errors(value, target)
    abs_err = rel_err = ulp_err = scaled_err = 0.0
    for index in np.ndindex(target.shape):  # ULPs need the exact oracle: element by element
        v, t, diff = float(value[index]), float(target[index]), float(diffs[index])
        abs_err = max(abs_err, diff)
        rel_err = max(rel_err, diff / abs(t) if t and math.isfinite(diff) else (0.0 if diff == 0 else math.inf))
        ulp_err = max(ulp_err, _ulps(v, exact[index], t, dtype) if math.isfinite(diff) else diff)
        scaled_err = max(scaled_err, diff / (MACHINE_EPS[dtype] * max(1.0, abs(t))) if math.isfinite(diff) else diff)
    return Errors(abs_err, rel_err, ulp_err, close, scaled_err=scaled_err)


def _ulps(value: float, exact: object, target: float, dtype: DType) -> float:
    """|value - exact| in units of the last place of the oracle in ``dtype``."""
    ulp = spacing(target, dtype)
    if value == target or not ulp:
        return 0.0 if value == target else math.inf
    return float(abs(type(exact)(value) - exact) / ulp)


def matches_value(value: np.ndarray, expected: np.ndarray, tol: Tolerance) -> bool:
    if value.shape != expected.shape:
        return False
    return bool(np.all(_close(value, expected, tol)))


def _as_documented(value: np.ndarray, documented: np.ndarray | None, within: Tolerance | None,
                   oracle: np.ndarray, tol: Tolerance) -> bool:
    """Whether ``value`` is what an entry documents: ``documented`` (a literal or an exact
    reading, within ``tol``), or the oracle within the entry's looser tolerance ``within``."""
    if documented is not None:
        return matches_value(value, documented, tol)
    return within is not None and matches_value(value, oracle, within)


# -- gradients ------------------------------------------------------------------
def gradient_tolerance(tol: Tolerance, oracle_grad: np.ndarray, scale: object = None) -> Tolerance:
    """The value tolerance with ``atol`` scaled by the gradient's size: its largest
    component, or the reduction's factor (1/D for a mean) if that is larger.

    A mean over many elements makes every component small (1/N); an absolute
    ``atol`` of 1e-5 would then accept any gradient at all.
    """
    return Tolerance(rtol=tol.rtol, atol=tol.atol * gradient_size(oracle_grad, scale))


def gradient_size(target: np.ndarray, scale: object) -> float:
    finite = np.abs(target[np.isfinite(target)])
    size = float(finite.max()) if finite.size else 0.0
    if scale is not None and math.isfinite(float(scale)):
        size = max(size, abs(float(scale)))
    return size or 1.0


def measure_gradient(grad: np.ndarray, oracle_grad: OracleValue, dtype: DType, tol: Tolerance) -> Errors:
    """Largest errors of ``grad``; relative to, and ULPs counted at, the gradient's size."""
    target = in_range_of(oracle_grad.as_float(), dtype)
    if grad.shape != target.shape:
        return Errors(math.inf, math.inf, math.inf, close=False, shape_mismatch=True)
    close = bool(np.all(_close(grad, target, tol)))
    abs_err = float(abs_errors(grad, target).max(initial=0.0))
    size = gradient_size(target, oracle_grad.scale)
    if not math.isfinite(abs_err):
        return Errors(abs_err, abs_err, abs_err, bool(close), scaled_err=abs_err)
    return Errors(abs_err, abs_err / size, abs_err / spacing(size, dtype), bool(close),
                  scaled_err=abs_err / (MACHINE_EPS[dtype] * size))




# -- one judgement for the value and the gradient ------------------------------------
# The words of a stale entry's verdict; the audit reads them (the API agrees: glue).
AGREES_NOW = "now agrees with the oracle"


@dataclass(frozen=True)
class _Terms:
    """What a judgement needs to know about the quantity it judges."""

    quantity: Quantity
    truth: OracleValue
    tol: Tolerance
    # The dtype the API computes in (a binding-level ``within: {like: ...}``): documented
    # literals and readings are matched at its precision.
    like: DType
    api_tol: Tolerance

    @classmethod
    def of(cls, quantity: Quantity, case: Case, dtype: DType, truth: OracleValue, like: DType) -> _Terms:
        tol, api_tol = case.tolerance_for(dtype), case.tolerance_for(like)
        if quantity == Quantity.GRAD:
            tol, api_tol = (gradient_tolerance(t, truth.as_float(), truth.scale) for t in (tol, api_tol))
        return cls(quantity, truth, tol, like, api_tol)

    def measure(self, value: np.ndarray, dtype: DType) -> Errors:
        if self.quantity == Quantity.GRAD:
            return measure_gradient(value, self.truth, dtype, self.tol)
        return measure(value, self.truth, dtype, self.tol)

    def within(self, entry: Expectation, dtype: DType) -> Tolerance | None:
        bound = entry.grad_within if self.quantity == Quantity.GRAD else entry.within
        if bound is None:
            return None
        tol = bound_tolerance(bound, dtype)
        if self.quantity == Quantity.GRAD:
            return gradient_tolerance(tol, self.truth.as_float(), self.truth.scale)
        return tol

    def documented(self, entry: Expectation, reading: Callable[[str], OracleValue] | None,
                   ) -> tuple[np.ndarray | None, Tolerance]:
        """What the entry says the API returns, and how closely it must match: a literal is a
        fact about the API, matched within a few ULPs (:func:`known_match`); a reading is
        computed exactly, so the API's own rounding is allowed as for a pass."""
        if self.quantity == Quantity.GRAD and entry.grad_reading and reading:
            return reading(entry.grad_reading).as_float(), self.api_tol
        literal = entry.value if self.quantity == Quantity.VALUE else entry.grad
        tight = known_match(self.like)
        if self.quantity == Quantity.GRAD:
            tight = gradient_tolerance(tight, self.truth.as_float(), self.truth.scale)
        return literal, tight

    def said(self, entry: Expectation) -> str:
        if self.quantity == Quantity.VALUE:
            return f"within {entry.within}" if entry.within else str(entry.value.tolist())
        return (f"within {entry.grad_within}" if entry.grad_within
                else f"the reading {entry.grad_reading!r}" if entry.grad_reading else str(entry.grad.tolist()))

    def subject(self, binding: Binding) -> str:
        return f"the gradient of {binding.id}" if self.quantity == Quantity.GRAD else binding.id


def judge(quantity: Quantity, case: Case, binding: Binding, dtype: DType, outcome: Outcome,
          truth: OracleValue, version: str | None, loss: OracleValue | None = None,
          reading: Callable[[str], OracleValue] | None = None) -> Judgement:
    """The status and explanation of one evaluation's value (``truth`` is the oracle's
    loss) or gradient (``truth`` is the oracle's gradient, ``loss`` its loss, and
    ``reading(name)`` the oracle's gradient under a named reading)."""
    def verdict(status: Status, explanation: str, errors: Errors | None = None,
                entry: Expectation | None = None) -> Judgement:
        return Judgement(quantity, status, explanation, errors, entry)

    grad = quantity == Quantity.GRAD
    if grad and loss is not None and not np.isfinite(loss.as_float()).all():
        return verdict(Status.SKIPPED, "the canonical loss is not finite here, so its gradient is undefined")
    terms = _Terms.of(quantity, case, dtype, truth, binding.computes_like(case, version, dtype))
    entry = case.expectation_for(binding.documentation, version, dtype, about=quantity, variant=binding.variant)
    general = binding.deviation(case, version, dtype, quantity) if entry is None else None
    deviated = Status.DIFFERENCE if case.mode == Mode.AS_IS else Status.KNOWN
    subject = terms.subject(binding)
    if outcome.exception is not None:
        if entry is not None and not grad and entry.raises == outcome.exception:
            return verdict(deviated, entry.reason, entry=entry)
        wanted = f" (expect says it raises {entry.raises})" if entry and not grad and entry.raises else ""
        return verdict(Status.ERROR, f"{subject} raised {outcome.exception}: {outcome.message}{wanted}")
    errors = terms.measure(outcome.value, dtype)
    if entry is not None and not grad and entry.raises:
        return verdict(Status.FAIL, f"stale expectation: expect says {binding.id} raises {entry.raises}, "
                       "but it returned a value; update or remove the entry", errors)
    if errors.close:
        if entry is None:
            return verdict(Status.PASS, "", errors)
        return verdict(Status.FAIL, f"stale expectation: {subject} {AGREES_NOW}, but "
                       f"expect documents a deviation ({entry.reason}); remove or restrict the "
                       "entry (versions/dtypes)", errors)
    # An API documented to compute like a narrower dtype can hold only that dtype's range.
    held = in_range_of(truth.as_float(), terms.like)
    if general is not None and _as_documented(outcome.value, None, terms.within(general, dtype), held, terms.tol):
        return verdict(deviated, general.reason, errors, general)
    if entry is not None:
        documented, match = terms.documented(entry, reading)
        if _as_documented(outcome.value, documented, terms.within(entry, dtype), held, match):
            return verdict(deviated, entry.reason, errors, entry)
        got = "" if grad else f", got {outcome.value.tolist()}"
        return verdict(Status.FAIL, f"{'the gradient ' if grad else ''}deviates differently than documented: "
                       f"expect says {terms.said(entry)} ({entry.reason}){got}"
                       f"{_too_few_digits(outcome.value, documented, dtype)}", errors)
    if case.mode == Mode.AS_IS:
        return verdict(Status.DIFFERENCE, f"as_is: the {case.input.kind} went in as written; "
                       f"{binding.id} {binding.reads}", errors)
    declared = binding.grad_readings.get(case.input.kind) if grad else None
    if declared and reading and matches_value(outcome.value, reading(declared).as_float(), terms.api_tol):
        return verdict(Status.KNOWN, f"{binding.id} with {case.input.kind} input: "
                       f"{case.family.gradient_readings[declared]}", errors)
    if errors.shape_mismatch:
        want = truth.shape if grad else (case.output_shape if case.reduction == "none" else ())
        what = "gradient of shape" if grad else "returned shape"
        has = "the input has shape" if grad else "the canonical loss has shape"
        return verdict(Status.FAIL, f"{what} {outcome.value.shape}, {has} {want}", errors)
    if grad:
        also = f" and from the declared reading {declared!r}" if declared else ""
        return verdict(Status.FAIL, f"undocumented gradient deviation from the oracle{also} (max abs "
                       f"{errors.abs_err:.3g}, {errors.ulp_err:.3g} ULP); {_remedy(binding)} with `grad`"
                       f"{_rounded_away(case, dtype)}", errors)
    return verdict(Status.FAIL, f"undocumented deviation of {errors.ulp_err:.3g} ULP (abs {errors.abs_err:.3g}, "
                   f"tolerance rtol={terms.tol.rtol:g} atol={terms.tol.atol:g}); {_remedy(binding)}"
                   f"{_rounded_away(case, dtype)}", errors)


def _too_few_digits(value: np.ndarray, documented: np.ndarray | None, dtype: DType) -> str:
    """A hint where a documented literal agrees with the API's value to several digits but
    not to the few ULPs it is matched within: most often a value written too short."""
    if documented is None or np.shape(value) != np.shape(documented):
        return ""
    value, documented = np.asarray(value, dtype=np.float64), np.asarray(documented, dtype=np.float64)
    if not (np.isfinite(value).all() and np.isfinite(documented).all()):
        return ""
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = float(np.max(np.abs(value - documented) / np.maximum(np.abs(value), np.finfo(np.float64).tiny),
                                initial=0.0))
    if not 0 < relative < 1e-5:
        return ""
    return (f"; the two agree to about {int(-math.log10(relative))} significant digits, and a documented value "
            f"is matched within a few ULPs of {dtype}: derive it to 17 significant digits, or restrict the "
            "entry's dtypes")


def _rounded_away(case: Case, dtype: DType) -> str:
    """A note where ``dtype`` cannot hold some of the input's values (1e-9 is 0 in float16):
    the row, and its oracle, are of the rounded input, whatever the case file says."""
    written = np.asarray(case.input.values, dtype=np.float64).ravel()
    rounded = round_to(written, dtype)
    lost = ((rounded == 0) & (written != 0)) | (np.isinf(rounded) & np.isfinite(written))
    if not lost.any():
        return ""
    shown = [f"{w:.3g} is {r:g}" for w, r in zip(written[lost][:2], rounded[lost][:2])]
    more = f" (and {int(lost.sum()) - 2} more)" if lost.sum() > 2 else ""
    return f" (in {dtype} the input's {', '.join(shown)}{more}: the row and its oracle take the input as {dtype} holds it)"


def _remedy(binding: Binding) -> str:
    if binding.id.startswith(f"{USER_FRAMEWORK}."):
        return "fix your function, or document the difference in `expect` if it is intended"
    return "fix the adapter or document it in `expect`"
