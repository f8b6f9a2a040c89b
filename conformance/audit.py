"""The audit: every documented deviation must be the API's own, not the suite's glue's.

A faithful recipe has glue around the API call: it converts the case's input to the
kind the API takes (``log p`` for an API that takes log-probabilities), and reduces
the API's per-position output as the case asks where the API cannot. Glue can cause
a deviation (a conversion's singular derivative, a reduction averaging float64 in
float32) that an ``expect`` entry then blames on the API.

The audit re-runs each documented row *bare*: the converted input is a literal of
the exact conversion (:meth:`conformance.families.base.Family.converted_input`), and
the API's unreduced output is reduced by the harness in exact arithmetic. The row
is then judged against the same entry. The entry **holds** if the bare API still
deviates as documented; it is **glue** if the bare API agrees with the oracle (the
deviation came from the suite); it **differs** if the bare API deviates otherwise.

What stays in a bare recipe is data movement (moving the class axis, one-hot
encoding, adding a trailing axis) and the few products that express an option the
API lacks (class weights on per-example losses, ``pos_weight`` as a combination of
two labels), each rounding at most once in the dtype.

Run it on every documented row with ``conformance audit``; ``make test`` runs it on a
fixed sample (``tests/test_audit.py``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from conformance.binding import Framework
from conformance.case import Case
from conformance.compare import AGREES_NOW
from conformance.dtypes import DType
from conformance.evaluation import Evaluation, Evaluator, plan
from conformance.results import Result
from conformance.vocabulary import Quantity


class Verdict(StrEnum):
    HOLDS = "holds"        # without glue, the API deviates as documented
    GLUE = "glue"          # without glue, the API agrees with the oracle: the glue caused it
    DIFFERS = "differs"    # without glue, the API deviates, but not as documented
    ERROR = "error"        # the bare API raised where the entry documents a value, or crashed
    SKIPPED = "skipped"    # nothing to check (framework missing, gradient undefined)


@dataclass(frozen=True)
class Finding:
    """What the bare re-run says about one documented quantity of one row."""

    evaluation: Evaluation
    quantity: Quantity
    verdict: Verdict
    detail: str

    def line(self) -> str:
        what = "gradient" if self.quantity == Quantity.GRAD else "value"
        return f"{self.verdict.value.upper():7} {self.evaluation.name} ({what}): {self.detail}"


def documented(cases: Iterable[Case], frameworks: Iterable[Framework], dtypes: tuple[DType, ...],
               ) -> list[tuple[Evaluation, tuple[Quantity, ...]]]:
    """Every bare evaluation an ``expect`` entry documents, with the quantities it documents."""
    evaluations, _ = plan(cases, frameworks, dtypes)
    out = []
    for evaluation in evaluations:
        case, binding, dtype = evaluation.case, evaluation.binding, evaluation.dtype
        quantities = tuple(q for q in (Quantity.VALUE, Quantity.GRAD) if case.expectation_for(
            binding.documentation, None, dtype, about=q, variant=binding.variant) is not None)
        if quantities:
            out.append((Evaluation(case, binding, dtype, bare=True), quantities))
    return out


def sample(claims: list[tuple[Evaluation, tuple[Quantity, ...]]], per_framework: int,
           seed: int) -> list[tuple[Evaluation, tuple[Quantity, ...]]]:
    """Up to ``per_framework`` claims of each framework, drawn with ``seed``."""
    chosen, rng = [], random.Random(seed)
    for name in sorted({e.framework.name for e, _ in claims}):
        mine = [c for c in claims if c[0].framework.name == name]
        chosen += rng.sample(mine, min(per_framework, len(mine)))
    return chosen


def _verdict(result: Result, quantity: Quantity) -> tuple[Verdict, str] | None:
    """The verdict on one quantity of a bare row, from how it was judged against the entry."""
    status, explanation = ((result.grad_status, result.grad_explanation) if quantity == Quantity.GRAD
                           else (result.status, result.explanation))
    if status is None:
        return None
    if status in ("known", "difference"):
        return Verdict.HOLDS, explanation
    if status == "pass" or (status == "fail" and AGREES_NOW in (explanation or "")):
        # A `within` entry judged bare reports itself stale when the API agrees.
        return Verdict.GLUE, ("without the suite's glue the API agrees with the oracle; the documented "
                              "deviation is the glue's: fix the adapter and remove the entry")
    if status == "fail":
        return Verdict.DIFFERS, f"without the suite's glue: {explanation}"
    return (Verdict.ERROR if status == "error" else Verdict.SKIPPED), explanation


def audit(claims: list[tuple[Evaluation, tuple[Quantity, ...]]], evaluator: Evaluator,
          on_finding: Callable[[Finding], None] | None = None) -> list[Finding]:
    """Re-run each claim bare and judge it against its entry."""
    findings = []
    for evaluation, quantities in claims:
        result = evaluator.evaluate(evaluation)
        for quantity in quantities:
            judged = _verdict(result, quantity)
            if judged is None:
                continue
            finding = Finding(evaluation, quantity, *judged)
            findings.append(finding)
            if on_finding:
                on_finding(finding)
    return findings
