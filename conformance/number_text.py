"""Numbers as text: a recipe's literal, JSON's spelling of non-finite numbers, a line's brief.

Apart from :mod:`conformance.dtypes` because the oracle's cached values depend on that
module's source: a change to how a number is written must not discard them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from conformance.dtypes import DType, numpy_dtype, round_to

NONFINITE_NAMES = {"inf": math.inf, "-inf": -math.inf, "+inf": math.inf, "nan": math.nan}


def literal(value: float, dtype: DType) -> str:
    """Shortest decimal text that reads back as ``value`` in ``dtype``.

    Used in recipes, so ``torch.tensor([0.1], dtype=torch.float32)`` holds
    the same bits the oracle used.
    """
    value = float(round_to(value, dtype))
    if math.isnan(value):
        return 'float("nan")'
    if math.isinf(value):
        return 'float("inf")' if value > 0 else 'float("-inf")'
    if dtype == "bfloat16":
        return repr(value)
    scalar = numpy_dtype(dtype).type(value)
    if value == 0 or 1e-4 <= abs(value) < 1e16:
        return np.format_float_positional(scalar, unique=True, trim="0")
    return np.format_float_scientific(scalar, unique=True, trim="0").replace("+", "")


def encode(value: Any) -> Any:
    """JSON form of a number or nested list: non-finite numbers become strings."""
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        return encode(value.tolist())
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def decode(value: Any) -> Any:
    """Inverse of :func:`encode`; also accepts the case-file spellings."""
    if isinstance(value, (list, tuple)):
        return [decode(v) for v in value]
    if isinstance(value, str):
        return NONFINITE_NAMES[value.strip().lower()]
    return value


def decoded_array(value: Any) -> np.ndarray | None:
    """:func:`decode` as a float64 array; None stays None (nothing was computed)."""
    return None if value is None else np.asarray(decode(value), dtype=np.float64)


def brief(value: Any, digits: int = 8, shown: int = 4) -> str:
    """Numbers in a line of text: ``digits`` significant digits, the first ``shown`` of an array."""
    if value is None:
        return "-"
    if not isinstance(value, (list, tuple, np.ndarray)) or np.ndim(value) == 0:
        return f"{float(np.float64(decode(value))):.{digits}g}"
    # Only the numbers shown are decoded and formatted: a report briefs tens of thousands of
    # values, some of them 64,000-element losses.
    head = list(itertools.islice(_leaves(value), shown + 1))
    more = ", ...]" if len(head) > shown else "]"
    return "[" + ", ".join(f"{float(np.float64(decode(v))):.{digits}g}" for v in head[:shown]) + more


def _leaves(value: Any) -> Iterator[Any]:
    """The numbers of a nested list (or array), in C order, one at a time."""
    if isinstance(value, np.ndarray):
        yield from value.flat
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _leaves(item)
    else:
        yield value
