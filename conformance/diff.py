"""``conformance diff OLD NEW``: what changed between two runs.

Rows are matched on (case_id, binding, dtype, device): a CPU and a CUDA row are
different evaluations, and rows written before the device column count as
"cpu". A change is a new failure (including a row that appeared failing), a
fixed row, another status change (of the value or of the gradient), a value
that moved by more than the dtype's tolerance, or a row that appeared or
disappeared - e.g. after a framework upgrade or an edited case file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from conformance.compare import matches_value
from conformance.dtypes import decode
from conformance.results import FAILING
from conformance.tolerance import default_tolerance

KEY = ["case_id", "binding", "dtype", "device"]
COLUMNS = KEY + ["change", "status_old", "status_new", "grad_status_old", "grad_status_new",
                 "value_old", "value_new", "framework_version_old", "framework_version_new"]
CHANGES = ("new failure", "fixed", "status changed", "value moved", "added", "removed")


def diff_results(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """One row per evaluation that changed between ``old`` and ``new``."""
    keep = KEY + ["status", "grad_status", "value", "framework_version"]
    # Runs written before gradients (or devices) existed have no grad_status (or device).
    old, new = (_with_defaults(frame) for frame in (old, new))
    merged = old[keep].merge(new[keep], on=KEY, how="outer", suffixes=("_old", "_new"), indicator=True)
    merged["change"] = [_change(row) for _, row in merged.iterrows()]
    changed = merged[merged["change"] != ""]
    order = {c: i for i, c in enumerate(CHANGES)}
    changed = changed.assign(_order=changed["change"].map(order))
    return (changed.sort_values(["_order"] + KEY, kind="stable")[COLUMNS].reset_index(drop=True))


def _with_defaults(frame: pd.DataFrame) -> pd.DataFrame:
    device = frame["device"].fillna("cpu") if "device" in frame else "cpu"
    return frame.assign(grad_status=frame.get("grad_status"), device=device)


def _change(row: pd.Series) -> str:
    after = (row["status_new"], _show(row["grad_status_new"]))
    failed_after = any(s in FAILING for s in after)
    if row["_merge"] == "right_only":
        # A new row that fails is as much a regression as an old one that starts to.
        return "new failure" if failed_after else "added"
    if row["_merge"] == "left_only":
        return "removed"
    before = (row["status_old"], _show(row["grad_status_old"]))
    failed_before = any(s in FAILING for s in before)
    if failed_after and not failed_before:
        return "new failure"
    if failed_before and not failed_after:
        return "fixed"
    if before != after:
        return "status changed"
    if not _same_value(row["value_old"], row["value_new"], row["dtype"]):
        return "value moved"
    return ""


def _same_value(old: object, new: object, dtype: str) -> bool:
    if old is None or new is None or (isinstance(old, float) and np.isnan(old) and new is None):
        return old is None and new is None
    a = np.asarray(decode(old), dtype=np.float64)
    b = np.asarray(decode(new), dtype=np.float64)
    return matches_value(b, a, default_tolerance(dtype))


def format_diff(changes: pd.DataFrame) -> str:
    """The diff as text: counts, then one line per changed row."""
    if changes.empty:
        return "no differences between the two runs"
    counts = changes["change"].value_counts()
    lines = [", ".join(f"{counts[c]} {c}" for c in CHANGES if c in counts)]
    for _, row in changes.iterrows():
        grad = ""
        if _show(row["grad_status_old"]) != _show(row["grad_status_new"]):
            grad = f" (gradient {_show(row['grad_status_old'])} -> {_show(row['grad_status_new'])})"
        on = "" if row["device"] == "cpu" else f"-{row['device']}"  # as in Evaluation.name
        lines.append(f"{row['change']:15} {row['case_id']}[{row['binding']}-{row['dtype']}{on}]: "
                     f"{_show(row['status_old'])} -> {_show(row['status_new'])}{grad}, "
                     f"{_show(row['value_old'])} -> {_show(row['value_new'])}")
    return "\n".join(lines)


def _show(value: object) -> str:
    """A cell of the diff; a row missing on one side shows as '-'."""
    return "-" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
