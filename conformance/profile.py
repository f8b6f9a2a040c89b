"""Semantic profiles: how each API reads its inputs, measured by the probes.

The probe cases (``cases/probes/``, tagged ``aspect:<name>``) call every API
``as_is``. The status and the interpretation found for each probe row become
one label per (binding, aspect); :func:`profile` puts them beside what the
binding declares (``Binding.profile``) so a mismatch is visible - and is a
failing test (``tests/test_profile.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from conformance import families
from conformance.families.base import Aspect, Rule
from conformance.interpret import COMPUTED_IN, SHOWN


def aspects() -> tuple[Aspect, ...]:
    """Every aspect a registered family probes, in the families' order, once each."""
    found: dict[str, Aspect] = {}
    for family in families.families():
        for aspect in family.aspects:
            found.setdefault(aspect.name, aspect)
    return tuple(found.values())


LOWER_PRECISION = "n/a: computed in a lower precision"


def _input_aspect(loss: str | None = None) -> Aspect | None:
    """The aspect that says how an API of ``loss`` reads its input (the others defer to it):
    the family's own, or the first any family declares."""
    known = families.family(loss).aspects if loss in families.names() else aspects()
    return next((a for a in known if a.kind_of is not None), None)


def label(aspect: Aspect, status: str, readings: list[Mapping[str, Any]], raised: str | None = None,
          input_kind: str = "", input_reading: str | None = None, loss: str | None = None) -> str:
    """The profile label of one probe row, from its structured interpretation.

    ``input_reading`` is the binding's measured input label: a reading that takes the
    input as another kind is not this binding's story, and is set aside.
    """
    if status == "pass":
        return aspect.canonical
    if [{k for k, v in r.items() if v is not None} for r in readings] == [{COMPUTED_IN}]:
        # The canonical loss in the lower precision the binding declares: at that precision
        # the probe cannot tell the readings apart, so the row's other dtypes tell.
        return LOWER_PRECISION
    if raised is not None:
        return aspect.raised or f"raises {raised}"
    reads = _input_aspect(loss)
    shown = list(readings)[:SHOWN]  # the readings the interpretation names
    if input_reading is not None and reads is not None:
        kept = [k for k in shown if reads.kind_of(k, input_kind) in (None, input_reading)]
        shown = kept or shown
    rules = aspect.rules
    if aspect.kind_of is None and reads is not None:
        # A probe the API read as another kind of input says nothing of this aspect.
        rules = tuple(Rule(lambda k, i, kind=kind: reads.kind_of(k, i) == kind, f"n/a: reads {kind}")
                      for kind in reads.kinds) + rules
    for rule in rules:
        if any(rule.matches(knobs, input_kind) for knobs in shown):
            return rule.label
    if not shown:
        return "other: unexplained" if aspect.kind_of is not None else "unexplained"
    return "other: " + " | ".join(", ".join(f"{k}={v}" for k, v in knobs.items()) for knobs in shown)


def _combine(labels: list[str]) -> str:
    telling = sorted({l for l in labels if not l.startswith(("n/a", "unexplained"))})
    return " / ".join(telling or sorted(set(labels)))


# The table describes how an API reads its input; half precision adds rounding
# effects of its own (clip bounds that round to 0 or 1, overflow), which the
# cases document, so the profile is measured in full precision only.
PROFILE_DTYPES = ("float32", "float64")
# The columns a probe's label is read from.
_PROBED = ("binding", "case_id", "dtype", "tags", "status", "readings", "raised", "input_kind", "loss")


def measured(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (binding, aspect) probed in float32/float64: the measured label and its evidence."""
    rows: list[dict] = []
    readings: dict[str, str] = {}
    # Records, not pandas rows: a full run probes thousands of rows.
    frame = frame.loc[frame["dtype"].isin(PROFILE_DTYPES), [c for c in _PROBED if c in frame]]
    # How a binding reads its input first: the other aspects set aside readings that contradict it.
    for aspect in sorted(aspects(), key=lambda a: a.kind_of is None):
        tag = f"aspect:{aspect.name}"
        # An empty frame maps to an empty object Series, which pandas would read as columns.
        probes = frame[frame["tags"].map(lambda tags, tag=tag: tag in (tags or [])).astype(bool)]
        for binding, group in probes.groupby("binding", sort=True):
            records = group.to_dict("records")
            labels = [label(aspect, r["status"], _readings(r), _raised(r), r.get("input_kind", ""),
                            readings.get(binding), r.get("loss")) for r in records]
            if aspect.kind_of is not None:
                readings[binding] = _combine(labels)
            evidence = sorted({f"{r['case_id']}[{r['dtype']}]" for r in records})
            rows.append({"binding": binding, "aspect": aspect.name, "measured": _combine(labels),
                         "evidence": ", ".join(evidence)})
    return pd.DataFrame(rows, columns=["binding", "aspect", "measured", "evidence"])


def _readings(row: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    value = row.get("readings")
    return list(value) if isinstance(value, (list, tuple)) else []


def _raised(row: Mapping[str, Any]) -> str | None:
    value = row.get("raised")
    return value if isinstance(value, str) and value else None


def profile(frame: pd.DataFrame) -> pd.DataFrame:
    """Measured labels beside each binding's declaration; ``agrees`` is False on a mismatch."""
    from conformance import frameworks as registry

    table = measured(frame)
    bindings = registry.all_bindings()
    table["declared"] = [bindings[b].profile.get(a, "") if b in bindings else ""
                         for b, a in zip(table["binding"], table["aspect"])]
    table["agrees"] = table["measured"] == table["declared"]
    return table


def semantic_table(table: pd.DataFrame) -> pd.DataFrame:
    """Bindings x aspects, the measured label in each cell."""
    if table.empty:
        return pd.DataFrame()
    return (table.pivot(index="binding", columns="aspect", values="measured")
            .reindex(columns=[a.name for a in aspects() if a.name in set(table["aspect"])]).fillna(""))


def format_profile(table: pd.DataFrame) -> str:
    """The semantic table as text, one block per binding; ``!=`` marks a mismatch."""
    lines = []
    for binding, group in table.groupby("binding", sort=True):
        lines.append(binding)
        for _, row in group.iterrows():
            mark = "" if row["agrees"] else f"   != declared {row['declared']!r}"
            question = next(a.question for a in aspects() if a.name == row["aspect"])
            lines.append(f"  {row['aspect']:17} {row['measured']}{mark}")
            lines.append(f"  {'':17} ({question}; probes: {row['evidence']})")
    return "\n".join(lines)
