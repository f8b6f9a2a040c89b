"""Findings: the run's deviations from the mathematics, one per cause, ranked by how much they matter.

Rows that share a cause are one finding: a documented deviation is the ``expect``
entry's reason (one entry covers a binding on every backend and in every dtype),
an undocumented one is the binding with what was measured. A finding is ranked
by what it does to a user - a failure nobody documented first, then NaN, inf or
an exception where the loss is finite (or the reverse), then how wrong the value
is, then in how many cases it shows.

``difference`` rows (a case run ``as_is``, an input handed to an API that reads
it otherwise) are the same grouping over a different question - what goes wrong
when a user passes their tensor unchanged - and are kept apart as *pitfalls*.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import pandas as pd

from conformance.dtypes import decoded_array

UNEXPLAINED = {"", "unexplained", None}
DTYPE_PREFERENCE = {"float32": 0, "float64": 1, "float16": 2, "bfloat16": 3}


class Severity(IntEnum):
    """Most severe first; the words are what the page says."""

    UNDOCUMENTED = 0
    NONFINITE = 1
    LARGE = 2
    VISIBLE = 3
    ROUNDING = 4

    @property
    def words(self) -> str:
        return {0: "fails: not documented", 1: "NaN, inf or an exception where the loss is finite (or the reverse)",
                2: "wrong by more than 1 %", 3: "off by more than 1e-5 relative",
                4: "rounding: 1e-5 relative or less"}[self.value]


@dataclass
class Finding:
    """One cause of deviation, with the rows that show it."""

    quantity: str                      # "value" or "gradient"
    severity: Severity
    headline: str                      # what happens, in plain words
    reason: str                        # the documented reason, or what was measured
    effect: str                        # the worst row: what the loss should be and what it is
    bindings: list[str]
    frameworks: list[str]
    cases: list[str]
    dtypes: list[str]
    link: str | None
    worst: float                       # the largest relative error (inf where not finite)
    rows: list[int] = field(default_factory=list)

    @property
    def who(self) -> str:
        apis = sorted({b.partition(".")[2] for b in self.bindings})
        if len(self.bindings) == 1:
            return self.bindings[0]
        if len(apis) <= 3:
            return f"{', '.join(apis)} on {', '.join(self.frameworks)}"
        return f"{len(self.bindings)} bindings of {', '.join(self.frameworks)}"

    @property
    def line(self) -> str:
        """The finding in one line, as the first screen shows it."""
        where = f"{len(self.cases)} case{'s' if len(self.cases) != 1 else ''}"
        gradient = "gradient: " if self.quantity == "gradient" else ""
        return f"{self.who} — {gradient}{self.headline}: {self.effect} — {where}"

    def as_dict(self) -> dict:
        return {"quantity": self.quantity, "severity": int(self.severity), "severity_words": self.severity.words,
                "line": self.line, "who": self.who, "headline": self.headline, "reason": self.reason,
                "effect": self.effect, "bindings": self.bindings, "frameworks": self.frameworks,
                "cases": self.cases, "dtypes": self.dtypes, "link": self.link or "", "rows": self.rows}


def _array(value: object) -> np.ndarray | None:
    try:
        return decoded_array(value)
    except (TypeError, ValueError):
        return None


def _nonfinite_mismatch(value: object, oracle: object) -> bool:
    got, want = _array(value), _array(oracle)
    if got is None or want is None:
        return got is None and want is not None
    if got.shape != want.shape:
        return True
    return bool((np.isfinite(got) != np.isfinite(want)).any() | (np.isnan(got) != np.isnan(want)).any())


def _relative(value: object, oracle: object) -> float:
    got, want = _array(value), _array(oracle)
    if got is None or want is None or got.shape != want.shape:
        return math.inf
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        both = np.isfinite(got) & np.isfinite(want)
        if not both.any():
            return 0.0
        diff = np.abs(got[both] - want[both])
        return float(np.max(diff / np.maximum(np.abs(want[both]), np.finfo(np.float64).tiny)))


def _severity(status: str, value: object, oracle: object, relative: float) -> Severity:
    if status in ("fail", "error"):
        return Severity.UNDOCUMENTED
    if _nonfinite_mismatch(value, oracle):
        return Severity.NONFINITE
    if relative > 1e-2:
        return Severity.LARGE
    return Severity.VISIBLE if relative > 1e-5 else Severity.ROUNDING


def _number(value: object) -> str:
    array = _array(value)
    if array is None:
        return "nothing"
    flat = [f"{v:.4g}" for v in array.flat]
    return flat[0] if array.ndim == 0 else "[" + ", ".join(flat[:3]) + (", …]" if len(flat) > 3 else "]")


def _effect(row: pd.Series, quantity: str) -> str:
    where = f"({row['dtype']}, {row['case_id']})"
    if quantity == "gradient":
        return f"largest error {row['grad_max_abs_err']:.3g}, {row['_relative']:.2g} relative {where}" \
            if _finite(row.get("grad_max_abs_err")) else f"not finite {where}"
    if isinstance(row.get("raised"), str) and row["raised"]:
        return f"no value ({row['raised']}) where the loss is {_number(row['oracle'])} {where}"
    if row["_severity"] >= Severity.VISIBLE:
        return f"off by {row['_relative']:.2g} relative to {_number(row['oracle'])} {where}"
    return f"{_number(row['oracle'])} becomes {_number(row['value'])} {where}"


def _finite(value: object) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _headline(interpretations: pd.Series, reason: str) -> str:
    # Several readings may fit one value ("a | b"); the first is the simplest.
    readings = Counter(i.split(" | ")[0] for i in interpretations if isinstance(i, str) and i not in UNEXPLAINED)
    if readings:
        return readings.most_common(1)[0][0]
    sentence = reason.split(". ")[0].split("; ")[0]
    return sentence if len(sentence) <= 140 else sentence[:139].rstrip() + "…"


def _group(rows: pd.DataFrame, quantity: str, reasons: pd.Series, interpretations: pd.Series,
           statuses: pd.Series, keys: pd.Series | None = None) -> list[Finding]:
    if rows.empty:
        return []
    if quantity == "value":
        relative = [_relative(v, o) for v, o in zip(rows["value"], rows["oracle"])]
        severity = [_severity(s, v, o, r) for s, v, o, r in zip(statuses, rows["value"], rows["oracle"], relative)]
    else:
        relative = [_relative(g, o) for g, o in zip(rows["grad"], rows["grad_oracle"])]
        severity = [_severity(s, g, o, r) for s, g, o, r in
                    zip(statuses, rows["grad"], rows["grad_oracle"], relative)]
    rows = rows.assign(_reason=reasons, _reading=interpretations, _relative=relative,
                       _severity=severity, _undocumented=statuses.isin(["fail", "error"]))
    # An undocumented deviation has no reason to share: it is one finding per binding and reading.
    if keys is None:
        keys = rows["_reason"].where(~rows["_undocumented"], rows["binding"] + "\x00" + rows["_reading"])
    findings = []
    for _, group in rows.groupby(keys, sort=False):
        # The example shown is the worst row, in the dtype a user most likely writes where several are as bad.
        ordered = group.assign(_dtype=group["dtype"].map(DTYPE_PREFERENCE).fillna(len(DTYPE_PREFERENCE)))
        worst = ordered.sort_values(["_severity", "_dtype", "_relative"], ascending=[True, True, False],
                                    kind="stable").iloc[0]
        reason = str(worst["_reason"])
        links = [link for link in group.get("link", pd.Series(dtype=object)) if isinstance(link, str) and link]
        findings.append(Finding(
            quantity=quantity, severity=Severity(int(worst["_severity"])),
            headline=_headline(group["_reading"], reason), reason=reason, effect=_effect(worst, quantity),
            bindings=sorted(set(group["binding"])), frameworks=sorted(set(group["framework"])),
            cases=list(dict.fromkeys(group["case_id"])), dtypes=sorted(set(group["dtype"])),
            link=links[0] if links else None, worst=float(worst["_relative"]),
            rows=[int(i) for i in group.index]))
    return findings


def rank(findings: list[Finding]) -> list[Finding]:
    """Most severe first; then the widest (most cases); then the largest error."""
    return sorted(findings, key=lambda f: (f.severity, -len(f.cases), -f.worst, f.who))


def findings(frame: pd.DataFrame) -> list[Finding]:
    """Deviations from the mathematics (faithful cases): known and failing rows, value and gradient."""
    frame = frame.reset_index(drop=True)
    value_rows = frame[frame["status"].isin(["known", "fail", "error"])]
    grad_rows = frame[frame["grad_status"].isin(["known", "fail", "error"])] if "grad_status" in frame \
        else frame.iloc[:0]
    found = _group(value_rows, "value", value_rows["explanation"], value_rows["interpretation"],
                   value_rows["status"])
    found += _group(grad_rows, "gradient", grad_rows["grad_explanation"],
                    grad_rows.get("grad_interpretation", grad_rows["grad_explanation"]), grad_rows["grad_status"])
    return rank(found)


def pitfalls(frame: pd.DataFrame) -> list[Finding]:
    """What goes wrong when an input is passed as it is (``difference`` rows of as_is cases)."""
    frame = frame.reset_index(drop=True)
    rows = frame[frame["status"] == "difference"]
    if rows.empty:
        return []
    # An as_is explanation names the binding; what it did (the reading) is the shared cause.
    causes = rows["interpretation"].where(~rows["interpretation"].isin(UNEXPLAINED), rows["explanation"])
    keys = rows["binding"].str.split(".", n=1).str[-1] + "\x00" + causes
    return rank(_group(rows, "value", rows["explanation"], rows["interpretation"], rows["status"], keys))
