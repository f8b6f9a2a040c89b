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
hide a deviation - document the deviation in ``expect`` instead.
"""

from __future__ import annotations

from conformance.case import Tolerance
from conformance.dtypes import DType

HALF_ULPS = 2

DEFAULT_TOLERANCES: dict[DType, Tolerance] = {
    "float16": Tolerance(rtol=HALF_ULPS * 2.0 ** -10, atol=HALF_ULPS * 2.0 ** -10),
    "bfloat16": Tolerance(rtol=HALF_ULPS * 2.0 ** -7, atol=HALF_ULPS * 2.0 ** -7),
    # torch.testing.assert_close defaults:
    # https://pytorch.org/docs/stable/testing.html#torch.testing.assert_close
    "float32": Tolerance(rtol=1.3e-6, atol=1e-5),
    "float64": Tolerance(rtol=1e-7, atol=1e-7),
}


def default_tolerance(dtype: DType) -> Tolerance:
    return DEFAULT_TOLERANCES[dtype]
