"""Findings: the run's deviations from the mathematics, one per cause, ranked by how much they matter.

Rows that share a cause are one finding: a documented deviation is the ``expect``
entry's reason (one entry covers a binding on every backend and in every dtype),
an undocumented one is the binding with what was measured. A finding is ranked
by what it does to a user - a failure nobody documented first, then NaN, inf or
an exception where the loss is finite (or the reverse, or an infinity of the
wrong sign), then how wrong the value is, then in how many cases it shows.

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

from conformance.compare import relative_to_largest
from conformance.number_text import brief, decoded_array
from conformance.results import DEVIATING, FAILING
from conformance.vocabulary import Quantity

UNEXPLAINED = {"", "unexplained", None}
# Interpretations that name no mechanism: what could not be measured or searched, that it
# raised (whatever it raised), or only where a gradient is NaN.
NOT_A_READING = ("not measured", "NaN gradient at ", "unexplained")
RAISED = r"raises( [\w.]+)?"  # "raises TypeError"; not a reading that "raises ... to the power p"
# The columns a finding reads (besides the value or gradient and its exact one).
_READ = ("case_id", "binding", "framework", "dtype", "raised", "link", "oracle")
DTYPE_PREFERENCE = {"float32": 0, "float64": 1, "float16": 2, "bfloat16": 3}
# Relative errors (to the largest exact component) that separate the ranks.
LARGE, VISIBLE = 1e-2, 1e-5


class Severity(IntEnum):
    """Most severe first; the words are what the page says."""

    UNDOCUMENTED = 0
    NONFINITE = 1
    LARGE = 2
    VISIBLE = 3
    ROUNDING = 4

    @property
    def words(self) -> str:
        return _SEVERITY_WORDS[self]


_SEVERITY_WORDS = {
    Severity.UNDOCUMENTED: "fails: not documented",
    Severity.NONFINITE: "NaN, inf or an exception where the loss is finite (or the reverse, or the other infinity)",
    Severity.LARGE: f"wrong by more than {LARGE:.0%} of the loss",
    Severity.VISIBLE: f"off by more than {VISIBLE:g} of the loss",
    Severity.ROUNDING: f"rounding: {VISIBLE:g} of the loss or less",
}


@dataclass
class Finding:
    """One cause of deviation, with the rows that show it."""

    quantity: Quantity
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
        gradient = "gradient: " if self.quantity == Quantity.GRAD else ""
        return f"{self.who} — {gradient}{self.headline}: {self.effect} — {where}"

    def as_dict(self) -> dict:
        return {"quantity": self.quantity.value, "severity": int(self.severity),
                "severity_words": self.severity.words, "line": self.line, "who": self.who,
                "headline": self.headline, "reason": self.reason, "effect": self.effect,
                "bindings": self.bindings, "frameworks": self.frameworks, "cases": self.cases,
                "dtypes": self.dtypes, "link": self.link or "", "rows": self.rows}


@dataclass(frozen=True)
class _Measured:
    """How far one row's value (or gradient) is from the exact one."""

    nonfinite: bool        # NaN, an infinity or nothing where the other is not, or infinities of opposite sign
    relative: float        # largest |error| over the largest |exact| component; inf when nonfinite

    @classmethod
    def of(cls, got: object, exact: object) -> _Measured:
        a, b = _array(got), _array(exact)
        if a is None or b is None or a.shape != b.shape:
            return cls(a is not None or b is not None, math.inf)
        mismatch = (np.isfinite(a) != np.isfinite(b)) | (np.isnan(a) != np.isnan(b)) \
            | (np.isinf(a) & np.isinf(b) & (np.sign(a) != np.sign(b)))
        if mismatch.any():
            return cls(True, math.inf)
        return cls(False, relative_to_largest(a, b))

    def severity(self, status: str) -> Severity:
        if status in FAILING:
            return Severity.UNDOCUMENTED
        if self.nonfinite:
            return Severity.NONFINITE
        if self.relative > LARGE:
            return Severity.LARGE
        return Severity.VISIBLE if self.relative > VISIBLE else Severity.ROUNDING


def _array(value: object) -> np.ndarray | None:
    try:
        return decoded_array(value)
    except (TypeError, ValueError):
        return None


def _number(value: object) -> str:
    return "nothing" if _array(value) is None else brief(value, digits=4, shown=3)


def _effect(row: pd.Series, quantity: Quantity) -> str:
    """The worst row in words: by how much where it is close, what it becomes where it is not."""
    where = f"({row['dtype']}, {row['case_id']})"
    measured: _Measured = row["_measured"]
    if isinstance(row.get("raised"), str) and row["raised"]:
        return f"no value ({row['raised']}) where the loss is {_number(row['oracle'])} {where}"
    if not measured.nonfinite and measured.relative <= LARGE:
        exact = "the gradient" if quantity == Quantity.GRAD else _number(row["oracle"])
        return f"off by {measured.relative:.2g} relative to {exact} {where}"
    if quantity == Quantity.GRAD:
        return f"{_number(row['grad_oracle'])} becomes {_number(row['grad'])} {where}"
    return f"{_number(row['oracle'])} becomes {_number(row['value'])} {where}"


def _headline(interpretations: pd.Series, reason: str) -> str:
    # Several readings may fit one value ("a | b"); the first is the simplest.
    readings = Counter(i.split(" | ")[0] for i in interpretations if isinstance(i, str) and i not in UNEXPLAINED)
    if readings:
        return readings.most_common(1)[0][0]
    sentence = reason.split(". ")[0].split("; ")[0]
    return sentence if len(sentence) <= 140 else sentence[:139].rstrip() + "…"


def _finding(rows: pd.DataFrame, members: list[int], badness: list[tuple], quantity: Quantity) -> Finding:
    """One finding from the rows of one cause (``members``: their positions in ``rows``); its
    example is the worst row (the least ``badness``)."""
    worst = rows.iloc[min(members, key=badness.__getitem__)]
    group = rows.iloc[members]
    reason = str(worst["_reason"])
    links = [link for link in group.get("link", pd.Series(dtype=object)) if isinstance(link, str) and link]
    return Finding(
        quantity=quantity, severity=Severity(int(worst["_severity"])),
        headline=_headline(group["_reading"], reason), reason=reason, effect=_effect(worst, quantity),
        bindings=sorted(set(group["binding"])), frameworks=sorted(set(group["framework"])),
        cases=list(dict.fromkeys(group["case_id"])), dtypes=sorted(set(group["dtype"])),
        link=links[0] if links else None, worst=float(worst["_relative"]), rows=[int(i) for i in group.index])


def _group(rows: pd.DataFrame, quantity: Quantity, reasons: pd.Series, readings: pd.Series,
           statuses: pd.Series, keys: pd.Series) -> list[Finding]:
    """The rows grouped by ``keys`` (a cause each), as findings, in the order causes first appear."""
    if rows.empty:
        return []
    got, exact = ("grad", "grad_oracle") if quantity == Quantity.GRAD else ("value", "oracle")
    measured = [_Measured.of(g, e) for g, e in zip(rows[got], rows[exact])]
    # Only what a finding reads: each group takes its rows out of this frame.
    rows = rows[[c for c in dict.fromkeys((*_READ, got, exact)) if c in rows]].assign(_reason=reasons.fillna(""), _reading=readings.fillna(""), _measured=measured,
                       _relative=[m.relative for m in measured],
                       _severity=[int(m.severity(s)) for m, s in zip(measured, statuses)])
    # Worst first: the most severe, in the dtype a user most likely writes where several are as
    # bad, the largest error; then the first row. Tuples, not a pandas sort per group (hundreds).
    preference = [DTYPE_PREFERENCE.get(d, len(DTYPE_PREFERENCE)) for d in rows["dtype"]]
    badness = [(severity, dtype, -relative, position) for position, (severity, dtype, relative)
               in enumerate(zip(rows["_severity"], preference, rows["_relative"]))]
    members: dict[str, list[int]] = {}
    for position, key in enumerate(keys.fillna("")):
        members.setdefault(key, []).append(position)
    return [_finding(rows, positions, badness, quantity) for positions in members.values()]


def _cause(bindings: pd.Series, reasons: pd.Series, measured: pd.Series, statuses: pd.Series) -> pd.Series:
    # A documented deviation shares its reason. An undocumented one has none to share: what was
    # measured (``measured``: the agreed reading) is its cause, over every binding and dtype that
    # shows it; an unexplained one is one finding per binding.
    undocumented = statuses.isin(FAILING)
    # A note of what could not be measured, or that it raised, names no mechanism to share.
    vague = measured.isin(UNEXPLAINED) | measured.str.startswith(NOT_A_READING) | measured.str.fullmatch(RAISED)
    measured = measured.where(~vague, bindings + "\x00" + measured)
    return reasons.fillna("").where(~undocumented, "\x01" + measured)


def _agreed_readings(cases: pd.Series, bindings: pd.Series, readings: pd.Series) -> pd.Series:
    """Each row's reading: of the ones that fit it ("a | b", simplest first), the one most rows
    of its case and binding share. A coarse dtype fits more readings (bfloat16 fitted "applies
    sigmoid" first, and the batch mean every dtype shows second): the other dtypes settle it."""
    fits = readings.str.split(" | ", regex=False)
    shared: dict[tuple, Counter] = {}
    for key, options in zip(zip(cases, bindings), fits):
        shared.setdefault(key, Counter()).update(set(options))
    chosen = [max(options, key=lambda r, c=shared[key]: (c[r], -options.index(r)))
              for key, options in zip(zip(cases, bindings), fits)]
    return pd.Series(chosen, index=readings.index, dtype=object)


def rank(findings: list[Finding]) -> list[Finding]:
    """Most severe first; then the widest (most cases); then the largest error."""
    return sorted(findings, key=lambda f: (f.severity, -len(f.cases), -f.worst, f.who))


def findings(frame: pd.DataFrame) -> list[Finding]:
    """Deviations from the mathematics (faithful cases): known and failing rows, value and gradient."""
    frame = frame.reset_index(drop=True)
    value = frame[frame["status"].isin(DEVIATING)]
    grad = frame[frame["grad_status"].isin(DEVIATING)] if "grad_status" in frame \
        else frame.iloc[:0]
    grad_readings = grad["grad_interpretation"] if "grad_interpretation" in grad else grad["grad_explanation"]
    found = []
    for rows, quantity, reasons, readings, statuses in (
            (value, Quantity.VALUE, value["explanation"], value["interpretation"], value["status"]),
            (grad, Quantity.GRAD, grad["grad_explanation"], grad_readings, grad["grad_status"])):
        agreed = _agreed_readings(rows["case_id"], rows["binding"], readings.fillna("").astype(str))
        found += _group(rows, quantity, reasons, agreed, statuses, _cause(rows["binding"], reasons, agreed, statuses))
    return rank(found)


def pitfalls(frame: pd.DataFrame) -> list[Finding]:
    """What goes wrong when an input is passed as it is (``difference`` rows of as_is cases)."""
    frame = frame.reset_index(drop=True)
    rows = frame[frame["status"] == "difference"]
    if rows.empty:
        return []
    # An as_is explanation names the binding; what it did (the reading) is the shared cause.
    readings = rows["interpretation"].fillna("")
    causes = readings.where(~readings.isin(UNEXPLAINED), rows["explanation"].fillna(""))
    keys = rows["binding"].str.split(".", n=1).str[-1] + "\x00" + causes
    return rank(_group(rows, Quantity.VALUE, rows["explanation"], rows["interpretation"], rows["status"], keys))
