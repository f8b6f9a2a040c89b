"""Array and number types of the case format, validated strictly (a leaf module).

Case files are untrusted: an array is a nested list of numbers (or the words
``inf``, ``-inf``, ``nan``), ragged or over-deep lists are refused, class
indices are integers that fit in int64, and a scalar option is a number as
written (never ``"1"``, ``true`` or ``1_000``).
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import BeforeValidator, Strict

from conformance.generate import MAX_DIMS
from conformance.number_text import NONFINITE_NAMES, decode

INT64 = (-2 ** 63, 2 ** 63 - 1)


def float_array(value: Any) -> np.ndarray:
    """A nested list of numbers (``inf``/``-inf``/``nan`` allowed) as float64."""
    if isinstance(value, np.ndarray):  # drawn from a ``random`` spec
        return value.astype(np.float64)
    if isinstance(value, bool) or value is None or isinstance(value, dict):
        raise ValueError(f"expected a number or a nested list of numbers, got {short(value)}")
    for where, leaf in _leaves(value):
        if isinstance(leaf, str) and leaf.strip().lower() in NONFINITE_NAMES:
            continue
        if isinstance(leaf, bool) or not isinstance(leaf, (int, float)):
            raise ValueError(f"element{where} is {short(leaf)}, not a number "
                             "(numbers, or the strings inf, -inf, nan)")
        if isinstance(leaf, int) and abs(leaf) > 2 ** 1023:
            raise ValueError(f"element{where} is an integer too large for float64")
    return _array(decode(value), np.float64)


def index_array(value: Any) -> np.ndarray:
    """Class indices: integers only; ``1.0`` is refused rather than truncated."""
    if isinstance(value, np.ndarray):  # drawn from a ``random`` spec
        return value.astype(np.int64)
    for where, leaf in _leaves(value):
        if isinstance(leaf, bool) or not isinstance(leaf, int):
            raise ValueError(f"class indices must be integers; element{where} is {short(leaf)}")
        if not INT64[0] <= leaf <= INT64[1]:
            raise ValueError(f"class index{where} {leaf} does not fit in int64")
    return _array(value, np.int64)


def _leaves(value: Any) -> Any:
    """``(where, leaf)`` of every non-list element, depth first, without recursion."""
    stack = [("", value, 0)]
    while stack:
        where, item, depth = stack.pop()
        if not isinstance(item, list):
            yield where, item
            continue
        if depth >= MAX_DIMS:
            raise ValueError(f"arrays have at most {MAX_DIMS} axes; this one is nested deeper")
        stack.extend((f"{where}[{i}]", child, depth + 1) for i, child in reversed(list(enumerate(item))))


def _array(value: Any, dtype: type) -> np.ndarray:
    try:
        return np.array(value, dtype=dtype)
    except ValueError:
        raise ValueError("ragged array: rows of one level must all have the same length") from None


def short(value: Any) -> str:
    """A value for an error message, cut short (it may be anything a file holds)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


FloatArray = Annotated[np.ndarray, BeforeValidator(float_array)]
IndexArray = Annotated[np.ndarray, BeforeValidator(index_array)]
Number = Annotated[float, Strict()]  # an int or a float as written; never "1", true or "1_000"
Integer = Annotated[int, Strict()]
