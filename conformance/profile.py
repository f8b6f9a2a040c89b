"""Semantic profiles: how each API reads its inputs, measured by the probes.

The probe cases (``cases/probes/``, tagged ``aspect:<name>``) call every API
``as_is``. The status and the interpretation found for each probe row become
one label per (binding, aspect); :func:`profile` puts them beside what the
binding declares (``Binding.profile``) so a mismatch is visible - and is a
failing test (``tests/test_profile.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Aspect:
    name: str
    question: str
    canonical: str                      # the label when the probe row passes
    rules: tuple[tuple[str, str], ...]  # (words in the interpretation, label), first match wins


# Readings that only say the probe did not reach this aspect (the API read the
# input differently); dropped when the binding has a more telling row.
_READINGS = (("reads it as logits", "n/a: reads logits"),
             ("reads the input as log-probabilities", "n/a: reads log-probabilities"),
             ("reads the input as probabilities", "n/a: reads probabilities"),
             ("unexplained", "unexplained"))

ASPECTS = (
    Aspect("input", "what it reads its input as", "probabilities",
           (("reads it as logits", "logits"), ("reads the input as log-probabilities", "log-probabilities"))),
    Aspect("unnormalised", "probabilities that do not sum to 1", "kept as given",
           (("renormalis", "renormalised"),)),
    Aspect("zero_probability", "an exact 0 probability", "infinite loss (no clip)",
           (("clips probabilities to [1e-07", "clipped at 1e-7"),
            ("clips probabilities to [1.19e-07", "clipped at machine eps"),
            ("clips probabilities to [2.22e-16", "clipped at machine eps"),
            ("clamps each log at -100", "log clamped at -100"))),
    Aspect("neg_inf", "a -inf logit under a zero target", "finite (0 log 0 = 0)",
           (("0 * log 0 as NaN", "NaN (0 * -inf)"), ("clips probabilities", "finite (clipped)"))),
    Aspect("class_axis", "the class axis of an (N, C, L) input", "1",
           (("takes axis 2 as the class axis", "last"), ("raises", "last (raises on (N, C, L))"))),
    Aspect("smoothing", "how label smoothing spreads eps", "eps/C",
           (("eps/(C-1)", "eps/(C-1)"), ("eps/2", "eps/2"), ("last axis", "eps/(size of last axis)"))),
)
ASPECT_NAMES = tuple(a.name for a in ASPECTS)


_READING_KINDS = {"reads it as logits": "logits",
                  "reads the input as log-probabilities": "log-probabilities",
                  "reads the input as probabilities": "probabilities"}


def _consistent(alternatives: list[str], input_reading: str | None) -> list[str]:
    """Drop the readings that contradict how the binding was measured to read its input."""
    if input_reading is None:
        return alternatives
    kept = [a for a in alternatives
            if all(kind == input_reading for words, kind in _READING_KINDS.items() if words in a)]
    return kept or alternatives


def label(aspect: Aspect, status: str, interpretation: str, input_reading: str | None = None) -> str:
    """The profile label of one probe row.

    ``input_reading`` is the binding's measured ``input`` label: an alternative
    explanation that reads the input otherwise is not this binding's story.
    """
    if status == "pass":
        return aspect.canonical
    text = " | ".join(_consistent((interpretation or "").split(" | "), input_reading))
    # A probe that reached the API through another reading says nothing of this aspect.
    order = aspect.rules if aspect.name == "input" else _READINGS[:-1] + aspect.rules + _READINGS[-1:]
    for words, name in order:
        if words in text:
            return name
    if text.startswith("raises"):
        return text
    return f"other: {text}"


def _combine(labels: list[str]) -> str:
    telling = sorted({l for l in labels if not l.startswith(("n/a", "unexplained"))})
    return " / ".join(telling or sorted(set(labels)))


# The table describes how an API reads its input; half precision adds rounding
# effects of its own (clip bounds that round to 0 or 1, overflow), which the
# cases document, so the profile is measured in full precision only.
PROFILE_DTYPES = ("float32", "float64")


def measured(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (binding, aspect) probed in float32/float64: the measured label and its evidence."""
    rows: list[dict] = []
    readings: dict[str, str] = {}
    frame = frame[frame["dtype"].isin(PROFILE_DTYPES)]
    for aspect in ASPECTS:
        tag = f"aspect:{aspect.name}"
        # An empty frame maps to an empty object Series, which pandas would read as columns.
        probes = frame[frame["tags"].map(lambda tags, tag=tag: tag in (tags or [])).astype(bool)]
        for binding, group in probes.groupby("binding", sort=True):
            labels = [label(aspect, r["status"], r["interpretation"], readings.get(binding))
                      for _, r in group.iterrows()]
            if aspect.name == "input":
                readings[binding] = _combine(labels)
            evidence = sorted({f"{r['case_id']}[{r['dtype']}]" for _, r in group.iterrows()})
            rows.append({"binding": binding, "aspect": aspect.name, "measured": _combine(labels),
                         "evidence": ", ".join(evidence)})
    return pd.DataFrame(rows, columns=["binding", "aspect", "measured", "evidence"])


def profile(frame: pd.DataFrame) -> pd.DataFrame:
    """Measured labels beside each binding's declaration; ``agrees`` is False on a mismatch."""
    import adapters  # the declarations; imports no framework

    table = measured(frame)
    bindings = adapters.all_bindings()
    table["declared"] = [bindings[b].profile.get(a, "") if b in bindings else ""
                         for b, a in zip(table["binding"], table["aspect"])]
    table["agrees"] = table["measured"] == table["declared"]
    return table


def semantic_table(table: pd.DataFrame) -> pd.DataFrame:
    """Bindings x aspects, the measured label in each cell."""
    if table.empty:
        return pd.DataFrame()
    return (table.pivot(index="binding", columns="aspect", values="measured")
            .reindex(columns=[a for a in ASPECT_NAMES if a in set(table["aspect"])]).fillna(""))


def format_profile(table: pd.DataFrame) -> str:
    """The semantic table as text, one block per binding; ``!=`` marks a mismatch."""
    lines = []
    for binding, group in table.groupby("binding", sort=True):
        lines.append(binding)
        for _, row in group.iterrows():
            mark = "" if row["agrees"] else f"   != declared {row['declared']!r}"
            question = next(a.question for a in ASPECTS if a.name == row["aspect"])
            lines.append(f"  {row['aspect']:17} {row['measured']}{mark}")
            lines.append(f"  {'':17} ({question}; probes: {row['evidence']})")
    return "\n".join(lines)
