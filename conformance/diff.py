"""``conformance diff OLD NEW``: what changed between two runs.

Rows are matched on (case_id, binding, dtype, device): a CPU and a CUDA row are
different evaluations, and rows written before the device column count as
"cpu". A change is a new failure (including a row that appeared failing), a
fixed row, another status change (of the value or of the gradient), a value
that moved by more than the dtype's tolerance, or a row that appeared or
disappeared - e.g. after a framework upgrade or an edited case file.

A case whose content (its numbers, options, expected value, loss and mode)
differs between the runs is *edited*, and a row whose ``expect`` entries differ (those
that can apply to it: its binding's and inherited ones, for its dtype and variant) has an
*edited expect*: their changes are marked so, since they say more about the case file
than about a framework. Rows written before they carried their entries' digest are never
marked.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from conformance.compare import matches_value, relative_to_largest
from conformance.number_text import brief, decode
from conformance.results import FAILING
from conformance.tolerance import default_tolerance

KEY = ["case_id", "binding", "dtype", "device"]
COLUMNS = KEY + ["change", "status_old", "status_new", "grad_status_old", "grad_status_new",
                 "value_old", "value_new", "framework_version_old", "framework_version_new", "case_edited",
                 "expect_edited", "explanation_new", "grad_explanation_new"]
CHANGES = ("new failure", "fixed", "status changed", "value moved", "added", "removed")
# How each kind of change is counted, in the singular and the plural.
NOUNS = {"new failure": ("new failure", "new failures"), "fixed": ("fixed row", "fixed rows"),
         "status changed": ("status change", "status changes"), "value moved": ("moved value", "moved values"),
         "added": ("added row", "added rows"), "removed": ("removed row", "removed rows")}


@dataclass(frozen=True)
class RunDiff:
    """What changed between two runs: the changed rows, the cases whose content was edited, and
    the (case, binding) pairs whose ``expect`` entries were."""

    changes: pd.DataFrame
    edited: list[str]
    expect_edited: tuple[tuple[str, str], ...] = ()

    def text(self) -> str:
        return format_diff(self.changes, self.edited, self.expect_edited)

    def counts(self) -> str:
        return count_words(self.changes, self.edited, self.expect_edited)


def compare_runs(old: pd.DataFrame, new: pd.DataFrame) -> RunDiff:
    """The changed rows of ``new`` against ``old`` and the cases edited between them."""
    before, after = case_hashes(old), case_hashes(new)
    edited = sorted(c for c in before.keys() & after.keys() if before[c] != after[c])
    keep = KEY + ["status", "grad_status", "value", "framework_version", "explanation", "grad_explanation",
                  "expect_digest"]
    # Runs written before gradients (or devices, or expect digests) existed have none.
    old, new = (_with_defaults(frame) for frame in (old, new))
    merged = old[keep].merge(new[keep], on=KEY, how="outer", suffixes=("_old", "_new"), indicator=True)
    merged["change"] = [_change(row) for _, row in merged.iterrows()]
    merged["case_edited"] = merged["case_id"].isin(edited)
    merged["expect_edited"] = [_digest_changed(a, b) for a, b in zip(merged["expect_digest_old"],
                                                                      merged["expect_digest_new"])]
    documentation = tuple(sorted(set(zip(merged.loc[merged["expect_edited"], "case_id"],
                                         merged.loc[merged["expect_edited"], "binding"]))))
    changed = merged[merged["change"] != ""]
    order = {c: i for i, c in enumerate(CHANGES)}
    changed = changed.assign(_order=changed["change"].map(order))
    return RunDiff(changed.sort_values(["_order"] + KEY, kind="stable")[COLUMNS].reset_index(drop=True), edited,
                   documentation)


def _digest_changed(old: object, new: object) -> bool:
    """Both rows carry a digest of their expect entries, and the two differ."""
    return isinstance(old, str) and isinstance(new, str) and old != new


def diff_results(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """One row per evaluation that changed between ``old`` and ``new``."""
    return compare_runs(old, new).changes


def _with_defaults(frame: pd.DataFrame) -> pd.DataFrame:
    device = frame["device"].fillna("cpu") if "device" in frame else "cpu"
    return frame.assign(grad_status=frame.get("grad_status"), device=device,
                        explanation=frame.get("explanation", ""), grad_explanation=frame.get("grad_explanation", ""),
                        expect_digest=frame.get("expect_digest"))


def case_hashes(frame: pd.DataFrame) -> dict[str, str]:
    """A digest of each case's content - its numbers and options, expected value, loss and mode -
    by case id (from its first row: every row of a case carries the same content)."""
    if frame.empty:
        return {}
    firsts = frame.drop_duplicates("case_id")
    return {row["case_id"]: _digest({name: row.get(name) for name in ("case_data", "expected", "loss", "mode")})
            for _, row in firsts.iterrows()}


def _digest(content: dict) -> str:
    text = json.dumps(content, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


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


def count_words(changes: pd.DataFrame, edited: list[str] | tuple = (),
                expect_edited: tuple[tuple[str, str], ...] = ()) -> str:
    """The first line: how many of each kind, in words with their plurals."""
    counts = changes["change"].value_counts() if not changes.empty else pd.Series(dtype=int)
    parts = [f"{counts[c]} {NOUNS[c][int(counts[c] != 1)]}" for c in CHANGES if c in counts]
    if edited:
        parts.append(f"{len(edited)} edited case{'s' if len(edited) != 1 else ''}")
    documented = {case for case, _ in expect_edited}
    if documented:
        parts.append(f"{len(documented)} case{'s' if len(documented) != 1 else ''} with an edited expect")
    return ", ".join(parts) if parts else "no differences between the two runs"


def format_diff(changes: pd.DataFrame, edited: list[str] | tuple = (),
                expect_edited: tuple[tuple[str, str], ...] = ()) -> str:
    """The diff as text: the counts, the edited cases and expect entries, then each kind of change
    with its rows grouped by case and transition (the bindings and dtypes on one line), new
    failures with their reason."""
    lines = [count_words(changes, edited, expect_edited)]
    if edited:
        lines.append(f"edited cases (their numbers, options or expected value differ): {', '.join(edited)}")
    if expect_edited:
        bindings: dict[str, list[str]] = defaultdict(list)
        for case, binding in expect_edited:
            bindings[case].append(binding)
        lines.append("edited expect entries (what a binding is documented to do differs): "
                     + "; ".join(f"{case} ({', '.join(names)})" for case, names in bindings.items()))
    for kind in CHANGES:
        rows = changes[changes["change"] == kind]
        if rows.empty:
            continue
        lines += ["", f"{NOUNS[kind][1]} ({len(rows)}):"]
        groups: dict[tuple, list[pd.Series]] = defaultdict(list)
        for _, row in rows.iterrows():
            # New failures for different reasons are different lines, each with its reason.
            reason = _reason(row) if kind == "new failure" else ""
            groups[(row["case_id"], _mark(row), _transition(row), reason)].append(row)
        for (case_id, mark, transition, reason), members in groups.items():
            lines.append(f"  {case_id}{mark}: {transition}")
            lines.append(f"    {_where(members)}")
            if reason not in ("", "-"):
                lines.append(f"    why: {reason[:240]}")
    return "\n".join(lines)


def _mark(row: pd.Series) -> str:
    """Why a row's change may be the case file's, not the framework's."""
    if row.get("case_edited"):
        return " (case edited)"
    return " (expect edited)" if row.get("expect_edited") else ""


def _transition(row: pd.Series) -> str:
    text = f"{_show(row['status_old'])} -> {_show(row['status_new'])}"
    if _show(row["grad_status_old"]) != _show(row["grad_status_new"]):
        text += f" (gradient {_show(row['grad_status_old'])} -> {_show(row['grad_status_new'])})"
    if row["change"] == "value moved":
        text += f", {_brief(row['value_old'])} -> {_brief(row['value_new'])}{_moved_by(row)}"
    return text


def _moved_by(row: pd.Series) -> str:
    """How far a value moved, relative to its old size (8 digits may not show a float64 move)."""
    old, new = (np.asarray(decode(row[c]), dtype=np.float64) for c in ("value_old", "value_new"))
    if old.shape != new.shape or not (np.isfinite(old).all() and np.isfinite(new).all()):
        return ""
    return f" ({relative_to_largest(new, old):.1g} relative)"


def _where(members: list[pd.Series]) -> str:
    """``binding (dtype, dtype-cuda)`` for each binding of the group."""
    dtypes: dict[str, list[str]] = defaultdict(list)
    for row in members:
        on = "" if row["device"] == "cpu" else f"-{row['device']}"  # as in Evaluation.name
        dtypes[row["binding"]].append(f"{row['dtype']}{on}")
    return "; ".join(f"{binding} ({', '.join(names)})" for binding, names in dtypes.items())


def _reason(row: pd.Series) -> str:
    if row.get("grad_status_new") in FAILING and row.get("status_new") not in FAILING:
        return "gradient: " + _show(row.get("grad_explanation_new"))
    return _show(row.get("explanation_new"))


def _brief(value: object) -> str:
    return "-" if _show(value) == "-" else brief(value)


def _show(value: object) -> str:
    """A cell of the diff; a row missing on one side shows as '-'."""
    return "-" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
