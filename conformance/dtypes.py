"""Floating-point dtypes of a run: rounding and spacing.

Every array in a case is written in decimal and evaluated in some dtype. The
oracle must see exactly the values the framework sees, so rounding to the
dtype happens here, once, with NumPy (and ``ml_dtypes`` for bfloat16) - the
same round-to-nearest-even conversion the frameworks apply to Python floats.

The oracle's cached values depend on this module's source (:mod:`conformance.oracle_cache`),
so how numbers are written as text lives apart, in :mod:`conformance.number_text`.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

DType = Literal["float16", "bfloat16", "float32", "float64"]
DTYPES: tuple[DType, ...] = ("float16", "bfloat16", "float32", "float64")
DEFAULT_DTYPES: tuple[DType, ...] = DTYPES

# Machine epsilon (spacing just above 1) of each dtype: the unit of the tolerance policy.
MACHINE_EPS: dict[DType, float] = {"float16": 2.0 ** -10, "bfloat16": 2.0 ** -7, "float32": 2.0 ** -23,
                                   "float64": 2.0 ** -52}


def numpy_dtype(dtype: DType) -> np.dtype:
    """The NumPy dtype object for ``dtype`` (bfloat16 comes from ml_dtypes)."""
    if dtype == "bfloat16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(dtype)


def round_to(values: Any, dtype: DType) -> np.ndarray:
    """``values`` rounded to ``dtype``, returned as exact float64."""
    with np.errstate(over="ignore"):  # overflow to inf is the rounding the framework does too
        return np.asarray(values, dtype=np.float64).astype(numpy_dtype(dtype)).astype(np.float64)


def spacing(value: float, dtype: DType) -> float:
    """One unit in the last place of ``value`` in ``dtype`` (ULP size)."""
    if not math.isfinite(value):
        return math.nan
    rounded = np.asarray(abs(value), dtype=np.float64).astype(numpy_dtype(dtype))
    return float(np.spacing(rounded).astype(np.float64))
