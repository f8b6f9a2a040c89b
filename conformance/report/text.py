"""The run in words, for the terminal and the report's first line: the verdict, one sentence of
counts, the worst findings, and a screen of failing rows."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from conformance.loader import CaseError
from conformance.report.findings import findings
from conformance.results import FAILING, STATUSES, failing

__all__ = ["count_failing", "in_words", "story", "summary", "verdict"]


def story(frame: pd.DataFrame) -> str:
    """The run in one sentence of plain words."""
    counts = frame["status"].value_counts()
    parts = [f"{len(frame):,} evaluations of {frame['case_id'].nunique():,} cases by "
             f"{frame['binding'].nunique():,} bindings in {frame['dtype'].nunique()} dtypes:",
             f"{counts.get('pass', 0):,} match the mathematics"]
    if counts.get("known", 0):
        parts.append(f"{counts['known']:,} deviate as their case documents")
    if counts.get("difference", 0):
        parts.append(f"{counts['difference']:,} show an as_is pitfall")
    wrong = counts.get("fail", 0) + counts.get("error", 0)
    if wrong:
        parts.append(_failing_words(wrong))
    if counts.get("skipped", 0):
        parts.append(f"{counts['skipped']:,} did not apply (a dtype or input the API does not take)")
    sentence = parts[0] + " " + ", ".join(parts[1:]) + "."
    # The values' count alone read "6 match" beside "FAILED: 5 failing rows" where gradients failed.
    grads = frame["grad_status"].value_counts() if "grad_status" in frame else pd.Series(dtype=int)
    checked = int(grads.drop("skipped", errors="ignore").sum())
    if checked:
        wrong = grads.get("fail", 0) + grads.get("error", 0)
        sentence += (f" Of their {checked:,} gradients, {grads.get('pass', 0):,} match the oracle"
                     + (f", {grads['known']:,} deviate as documented" if grads.get("known", 0) else "")
                     + (f", {_failing_words(wrong)}" if wrong else "") + ".")
    return sentence


def _failing_words(count: int) -> str:
    return f"{count:,} {'is a failure or an error' if count == 1 else 'are failures or errors'}"


def count_failing(frame: pd.DataFrame, errors: Iterable[CaseError] = ()) -> int:
    return int(failing(frame).sum()) + len(errors)


def verdict(frame: pd.DataFrame, errors: Iterable[CaseError] = ()) -> str:
    bad = count_failing(frame, errors)
    return f"FAILED: {bad} failing rows or case errors" if bad else "OK: no failures"


def in_words(frame: pd.DataFrame, page: str | Path | None = None, top: int = 3) -> str:
    """The run in plain words for the terminal: what ran, the worst findings, where the report is."""
    lines = [story(frame)]
    found = findings(frame.reset_index(drop=True))
    if found:
        lines.append(f"{len(found)} cause{'s' if len(found) != 1 else ''} of deviation from the mathematics; "
                     f"the worst {min(top, len(found))}:")
        lines += [f"  {f.line[:200]}" for f in found[:top]]
    if page is not None:
        lines.append(f"Open {page} for every finding, the agreement matrix and each row's recipe.")
    return "\n".join(lines)


def _measured_first(explanation: str) -> str:
    """What the API measurably did leads the line (the rest is cut to fit one line)."""
    judged, found, measured = explanation.partition("; measured: ")
    return f"measured: {measured}; {judged}" if found and judged.startswith("undocumented") else explanation


def summary(frame: pd.DataFrame, errors: Iterable[CaseError] = (), limit: int = 25) -> str:
    """A one-screen text summary of a run."""
    errors = list(errors)
    lines = []
    table = pd.crosstab(frame["framework"], frame["status"]).reindex(
        columns=[s for s in STATUSES if s in set(frame["status"])])
    lines.append(table.to_string())
    if "grad_status" in frame and frame["grad_status"].notna().any():
        grads = frame["grad_status"].fillna("not taken").value_counts()
        lines.append("gradients: " + ", ".join(f"{grads[s]} {s}" for s in (*STATUSES, "not taken") if s in grads)
                     + (" (as_is rows, `gradient: false` cases, a framework without autodiff)"
                        if "not taken" in grads else ""))
    bad = frame[failing(frame)]
    for _, row in bad.head(limit).iterrows():
        grad_bad = row.get("grad_status") in FAILING and row["status"] not in FAILING
        status, text = (row["grad_status"], "gradient: " + row["grad_explanation"]) if grad_bad else \
            (row["status"], row["explanation"])
        lines.append(f"{status.upper():6} {row['case_id']}[{row['binding']}-{row['dtype']}]: {_measured_first(text)[:240]}")
    if len(bad) > limit:
        lines.append(f"... and {len(bad) - limit} more failing rows (see results.csv)")
    for error in errors:
        lines.append(f"CASE   {error}")
    lines.append(verdict(frame, errors))
    return "\n".join(lines)
