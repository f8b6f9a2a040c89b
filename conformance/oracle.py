"""The independent oracle: canonical losses computed with mpmath.

The oracle sees the case's arrays rounded to the evaluated dtype - exactly
what the framework sees - and computes the canonical loss of the case's family
(:meth:`conformance.families.Family.loss`) with 50 significant digits, no
clipping and no clamping. A difference between a framework and the oracle is
therefore the framework's own.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from conformance.exact import DIGITS, MP

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.dtypes import DType

__all__ = ["DIGITS", "OracleValue", "evaluate", "evaluate_gradient"]


@dataclass(frozen=True)
class OracleValue:
    """The exact loss (mpf, or an object array of mpf for ``reduction: none``), or gradient."""

    exact: Any
    # For a gradient: the reduction's factor (1/D for a mean, else 1), the
    # natural size of a component; it scales the gradient's atol.
    scale: Any = None

    @property
    def shape(self) -> tuple[int, ...]:
        return np.shape(self.exact) if isinstance(self.exact, np.ndarray) else ()

    def as_float(self) -> np.ndarray:
        """Rounded to float64 (shape ``()`` for a reduced loss); a read-only array, computed once."""
        return self._float

    @functools.cached_property
    def _float(self) -> np.ndarray:
        exact = np.asarray(self.exact, dtype=object)
        rounded = np.array([float(v) for v in exact.flat], dtype=np.float64).reshape(exact.shape)
        rounded.flags.writeable = False
        return rounded

    def __str__(self) -> str:
        if self.shape:
            return str([MP.nstr(v, 17) for v in np.asarray(self.exact).flat])
        return MP.nstr(self.exact, 17)


def evaluate(case: Case, dtype: DType = "float64") -> OracleValue:
    """The canonical loss of ``case`` on its inputs rounded to ``dtype``."""
    return OracleValue(case.family.value(case, dtype))


def evaluate_gradient(case: Case, dtype: DType = "float64", reading: str | None = None) -> OracleValue:
    """d(sum of the canonical loss)/d(input) of ``case``, with the input's shape; with
    ``reading``, the gradient autodiff gives through the glue that reading names."""
    grad, scale = case.family.gradient(case, dtype, reading)
    return OracleValue(grad, scale=scale)
