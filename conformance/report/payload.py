"""The report's data, embedded once: columns of codes into tables of distinct values,
compressed with gzip and written as base64.

A page of 20,000 rows written out as HTML was 23 MB; the same rows as columns
are mostly repeats (a binding's name, a reason shared by hundreds of rows, recipes
that differ in one literal), which is what gzip removes. The page decompresses
the block with the browser's own ``DecompressionStream`` and renders tables,
cards and recipes only when they are looked at.

Every string from a case file stays data: the page puts it into the document as
text, never as markup, and base64 has no character that could end the script
element it sits in.
"""

from __future__ import annotations

import base64
import gzip
import json
import math
from collections.abc import Callable
from typing import Any

import pandas as pd

from conformance.number_text import NONFINITE_NAMES, brief

# Columns whose text repeats from row to row: each becomes codes into its own table.
CODED = ("case_id", "loss", "binding", "framework", "dtype", "device", "mode", "status", "grad_status",
         "configuration", "explanation", "interpretation", "grad_explanation", "grad_interpretation",
         "message", "link", "raised", "value_dtype", "recipe", "framework_version")


def _significant(value: Any, digits: int = 4) -> float | str | None:
    """A number cut to a few significant digits (the page shows no more); inf and NaN as text,
    a missing number (pandas' NaN) as None."""
    if isinstance(value, str):
        return value if value in NONFINITE_NAMES else None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(number):
        return None
    if math.isinf(number):
        return str(number)
    return float(f"{number:.{digits}g}")


def _coded(column: pd.Series) -> dict:
    codes, uniques = pd.factorize(column.astype(object).where(column.notna(), None), use_na_sentinel=True)
    return {"codes": codes.tolist(), "values": [_text(v) for v in uniques]}


def _text(value: Any) -> Any:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _numbers(column: pd.Series, convert: Callable[[Any], Any] = _significant) -> list:
    return [convert(v) for v in column]


def _brief_or_blank(value: Any) -> str:
    try:
        return brief(value) if value is not None else ""
    except (TypeError, ValueError):
        return str(value)


def _warnings(value: Any) -> str:
    return "\n".join(value) if isinstance(value, list) else ""


def _cases(frame: pd.DataFrame) -> dict:
    """One entry per case id: what the case file says, written once."""
    firsts = frame.drop_duplicates("case_id")
    cases = {}
    for row in firsts.itertuples(index=False):
        data = dict(getattr(row, "case_data", None) or {})
        cases[row.case_id] = {
            "title": _text(getattr(row, "title", "")), "source": _text(getattr(row, "source", "")),
            "file": _text(getattr(row, "file", "")), "line": getattr(row, "line", None) or 0,
            "description": _text(data.pop("description", "")),
            "data": json.dumps(data, indent=1),
        }
    return cases


def rows_payload(frame: pd.DataFrame) -> dict:
    """The rows as columns: ``coded`` columns are codes into tables, the rest plain lists."""
    columns = {name: _coded(frame[name]) for name in CODED if name in frame}
    columns["value"] = {"codes": None, "plain": _numbers(frame["value"], _brief_or_blank)}
    columns["oracle"] = {"codes": None, "plain": _numbers(frame["oracle"], _brief_or_blank)}
    for name in ("ulp_err", "rel_err", "abs_err", "grad_max_abs_err"):
        if name in frame:
            columns[name] = {"codes": None, "plain": _numbers(frame[name])}
    for name in ("grad", "grad_oracle"):
        if name in frame:
            columns[name] = _coded(frame[name].map(_brief_or_blank))
    if "warnings" in frame:
        columns["warnings"] = _coded(frame["warnings"].map(_warnings))
    return {"count": len(frame), "columns": columns, "cases": _cases(frame)}


def encode(payload: dict) -> str:
    """JSON, gzip, base64: the text of the page's data block."""
    raw = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode("utf-8")
    return base64.b64encode(gzip.compress(raw, compresslevel=9, mtime=0)).decode("ascii")


def decode(text: str) -> dict:
    """The inverse of :func:`encode` (for tests and for reading a report back)."""
    return json.loads(gzip.decompress(base64.b64decode(text)))
