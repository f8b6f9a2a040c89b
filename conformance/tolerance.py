"""Tolerance policy: how close to the oracle a value must be to pass.

A value passes when ``|value - oracle| <= atol + rtol * |oracle|`` with
``rtol = atol = N eps`` (eps: the dtype's machine epsilon), that is within N
units in the last place at the scale ``max(1, |oracle|)``. A loss's
intermediates (log-sum-exp, the log of a probability) are of order 1 even when
the loss is small, so a correctly computed loss carries an *absolute* error of
about one ULP of 1, plus the final rounding: the scale is max(1, |oracle|).

N is measured, not borrowed (``benchmarks/tolerance_policy.py``): the rows that
are right by construction - the NumPy reference, torch's stable paths (logits
into ``cross_entropy`` and ``binary_cross_entropy_with_logits``, log-probabilities
into ``kl_div``) - were evaluated over the whole matrix, their largest error in
eps at that scale taken per dtype (value and gradient), and N set to the next
power of two at or above 1.5 times it:

=========  ===================  ============  ===
dtype      largest error (eps)  1.5 x         N
=========  ===================  ============  ===
float64    5.6                  8.4           16
float32    1.9                  2.9           4
float16    1.3                  1.9           2
bfloat16   1.1                  1.7           2
=========  ===================  ============  ===

float64's N of 16 is about 3.6e-15 relative: a float64 row computed in float32
(relative error about 6e-8) fails and must be documented - ``within: {like:
float32}`` where that is the API's own behaviour. The policy it replaced
(torch.testing's rtol = atol = 1e-7 for float64, about 4.5e8 ULP) let such rows
pass; docs/concepts.md ("What the tolerance policy moved") lists what moved.

Gradients use the same N element by element, with ``atol`` scaled by the
gradient's size (its largest component, or 1/D for a mean over D), see
:func:`conformance.compare.gradient_tolerance`.

A case may override them with ``tolerance: {rtol, atol}``; never loosen one to
hide a deviation - document the deviation in ``expect`` instead. An ``expect``
entry that documents a precision loss (``within`` / ``grad_within``) states its
bound in the terms of this policy, resolved by :func:`bound_tolerance`: a number
of ULPs of the evaluated dtype, or the policy of the dtype the API really
computes in. An entry's literal ``value`` or ``grad`` is a fact about the API, not
a tolerance: it must match what the API returns within :data:`KNOWN_ULPS`
(:func:`known_match`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, Strict, model_validator
from typing import Annotated

from conformance.dtypes import MACHINE_EPS, DType

Number = Annotated[float, Strict()]


class _Strict(BaseModel):
    # An infinite tolerance or bound would pass anything: they are finite.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# A case's own tolerance may not be looser than this (4 ULP of bfloat16): looser,
# it passes almost any value. A real precision loss is documented with an
# `expect` entry's `within` instead, bounded per API and dtype.
MAX_TOLERANCE = 2.0 ** -4
# The most units in the last place an `expect` entry's `within` may allow (2**10).
MAX_ULPS = 1024


class Tolerance(_Strict):
    rtol: Number = Field(ge=0)
    atol: Number = Field(ge=0)


class Bound(_Strict):
    """How far a documented precision loss may go, in the terms of the tolerance policy:
    ``ulps`` of the evaluated dtype, or the policy of the dtype the API computes ``like``."""

    ulps: Number | None = Field(default=None, gt=0, le=MAX_ULPS)
    like: DType | None = None

    @model_validator(mode="after")
    def _one(self) -> Bound:
        if (self.ulps is None) == (self.like is None):
            raise ValueError("give `ulps` (units in the last place of the evaluated dtype) or `like` "
                             "(the dtype whose tolerance applies), e.g. {ulps: 8}")
        return self

    def __str__(self) -> str:
        return f"{self.ulps:g} ULP" if self.ulps is not None else f"{self.like}'s tolerance"



# Units in the last place (eps at max(1, |oracle|)) a correct computation stays within, per
# dtype: measured by benchmarks/tolerance_policy.py (see the table above).
POLICY_ULPS: dict[DType, float] = {"float64": 16, "float32": 4, "float16": 2, "bfloat16": 2}


def ulps(dtype: DType, count: float) -> Tolerance:
    """``count`` units in the last place at ``max(1, |oracle|)`` in ``dtype``."""
    return Tolerance(rtol=count * MACHINE_EPS[dtype], atol=count * MACHINE_EPS[dtype])


DEFAULT_TOLERANCES: dict[DType, Tolerance] = {dtype: ulps(dtype, n) for dtype, n in POLICY_ULPS.items()}


def default_tolerance(dtype: DType) -> Tolerance:
    return DEFAULT_TOLERANCES[dtype]


def bound_tolerance(bound: Bound, dtype: DType) -> Tolerance:
    """The tolerance a documented precision loss (``within`` / ``grad_within``) stands for."""
    return ulps(dtype, bound.ulps) if bound.ulps is not None else default_tolerance(bound.like)


def known_match(dtype: DType) -> Tolerance:
    """How closely an ``expect`` entry's literal ``value`` / ``grad`` must match the API: it is a
    fact about the API, held to what the oracle is held to - the policy's few ULPs of the dtype
    at max(1, |value|) - and never to a case's own ``tolerance``."""
    return ulps(dtype, POLICY_ULPS[dtype])

