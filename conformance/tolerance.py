"""Tolerance policy: how close to the oracle a value must be to pass.

The defaults are those of ``torch.testing.assert_close`` (a value passes when
``|value - oracle| <= atol + rtol * |oracle|``), so "pass" here means what a
PyTorch developer's own test would accept. A case may override them with
``tolerance: {rtol, atol}``; never loosen one to hide a deviation - document
the deviation in ``expect`` instead.
"""

from __future__ import annotations

from conformance.case import Tolerance
from conformance.dtypes import DType

# torch.testing.assert_close defaults:
# https://pytorch.org/docs/stable/testing.html#torch.testing.assert_close
DEFAULT_TOLERANCES: dict[DType, Tolerance] = {
    "float16": Tolerance(rtol=1e-3, atol=1e-5),
    "bfloat16": Tolerance(rtol=1.6e-2, atol=1e-5),
    "float32": Tolerance(rtol=1.3e-6, atol=1e-5),
    "float64": Tolerance(rtol=1e-7, atol=1e-7),
}


def default_tolerance(dtype: DType) -> Tolerance:
    return DEFAULT_TOLERANCES[dtype]
