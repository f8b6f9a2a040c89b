"""Tolerance policy: how close to the oracle a value must be to pass.

A value passes when ``|value - oracle| <= atol + rtol * |oracle|``.

- float32 and float64 use the defaults of ``torch.testing.assert_close``, so
  "pass" means what a PyTorch developer's own test would accept.
- float16 and bfloat16 allow two units in the last place at ``max(1, |oracle|)``:
  ``rtol = atol = 2 eps`` (eps = 2**-10 and 2**-7). A loss's intermediates
  (log-sum-exp, the log of a probability) are of order 1 even when the loss is
  small, so a correctly computed half-precision loss carries an *absolute*
  error of about one ULP of 1, plus the final rounding. assert_close's float16
  ``atol`` of 1e-5 would fail every such loss below 1 (measured: 86 rows of
  correct computations within 1.5 eps failed it, none needed more than 2 eps).

Gradients use the same numbers element by element, with ``atol`` scaled by the
gradient's size (its largest component, or 1/D for a mean over D), see
:func:`conformance.compare.gradient_tolerance`.

A case may override them with ``tolerance: {rtol, atol}``; never loosen one to
hide a deviation - document the deviation in ``expect`` instead. An ``expect``
entry that documents a precision loss (``within`` / ``grad_within``) states its
bound in the terms of this policy, resolved by :func:`bound_tolerance`: a number
of ULPs of the evaluated dtype (the policy allows 2 in half precision), or the
policy of the dtype the API really computes in.
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



HALF_ULPS = 2


def ulps(dtype: DType, count: float) -> Tolerance:
    """``count`` units in the last place at ``max(1, |oracle|)`` in ``dtype``."""
    return Tolerance(rtol=count * MACHINE_EPS[dtype], atol=count * MACHINE_EPS[dtype])


DEFAULT_TOLERANCES: dict[DType, Tolerance] = {
    "float16": ulps("float16", HALF_ULPS),
    "bfloat16": ulps("bfloat16", HALF_ULPS),
    # torch.testing.assert_close defaults:
    # https://pytorch.org/docs/stable/testing.html#torch.testing.assert_close
    "float32": Tolerance(rtol=1.3e-6, atol=1e-5),
    "float64": Tolerance(rtol=1e-7, atol=1e-7),
}


def default_tolerance(dtype: DType) -> Tolerance:
    return DEFAULT_TOLERANCES[dtype]


def bound_tolerance(bound: Bound, dtype: DType) -> Tolerance:
    """The tolerance a documented precision loss (``within`` / ``grad_within``) stands for."""
    return ulps(dtype, bound.ulps) if bound.ulps is not None else default_tolerance(bound.like)
