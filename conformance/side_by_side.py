"""Two bindings side by side: where they disagree with each other, by how much, and why.

The porter's question is not "is torch right?" but "will my loss change if I move
from A to B?". :func:`compare_bindings` evaluates both bindings on every faithful
case both can express, in every dtype both accept, through the same workers,
oracle and judgement as ``conformance run``, and pairs their rows: the two values,
their distance in the tolerance policy's unit (machine epsilons of the dtype at
``max(1, |oracle|)``), whether they agree within the dtype's policy, the same for
the gradient, and each side's own verdict against the mathematics (its
interpretation, or the documented reason) - the *why*.

Two APIs that deviate the same way agree with each other: the comparison is
between them, the oracle says which (if either) is right.
"""

from __future__ import annotations

import difflib
import math
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from conformance import frameworks as registry
from conformance.binding import Binding
from conformance.case import Case
from conformance.compare import abs_errors
from conformance.dtypes import DEFAULT_DTYPES, MACHINE_EPS, DType
from conformance.evaluation import Evaluation, Evaluator
from conformance.loader import LoadResult, load_cases
from conformance.number_text import brief, decoded_array
from conformance.results import Result
from conformance.tolerance import POLICY_ULPS


class UnknownBinding(LookupError):
    """A binding id that is not installed; the message names the nearest ones."""


@dataclass(frozen=True)
class Pair:
    """One (case, dtype) evaluated by both bindings."""

    case_id: str
    loss: str
    dtype: str
    configuration: str
    oracle: object
    value_a: object
    value_b: object
    status_a: str
    status_b: str
    apart_eps: float          # max |a - b| in machine epsilons at max(1, |oracle|); inf if only one is finite
    agree: bool               # within the dtype's policy (POLICY_ULPS) of each other, or both raised
    grad_apart_eps: float | None
    grad_agree: bool | None   # None: one side has no gradient, or they differentiate different inputs
    why_a: str
    why_b: str
    grad_why_a: str
    grad_why_b: str


def resolve(binding_id: str) -> Binding:
    """The installed binding ``binding_id``; an unknown id names the nearest installed ones."""
    bindings = registry.all_bindings()
    if binding_id in bindings:
        return bindings[binding_id]
    near = difflib.get_close_matches(binding_id, list(bindings), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(near)}?" if near else "; `conformance list` names them"
    raise UnknownBinding(f"no installed binding {binding_id!r}{hint}")


def comparable(case: Case, a: Binding, b: Binding) -> bool:
    """Both bindings express ``case`` through their faithful calls."""
    return case.mode == "faithful" and a.cannot_express(case) is None and b.cannot_express(case) is None


def compare_bindings(a: str, b: str, cases: Sequence[str | Path] = ("cases",),
                     dtypes: Sequence[DType] = DEFAULT_DTYPES, timeout: float = 60.0,
                     loaded: LoadResult | None = None) -> pd.DataFrame:
    """Evaluate bindings ``a`` and ``b`` on the cases both can express and pair their rows.

    Returns one row per (case, dtype) as :class:`Pair` fields, disagreements first
    (largest distance first). Raises :class:`UnknownBinding` for an id not installed.

    Example::

        from conformance.side_by_side import compare_bindings
        pairs = compare_bindings("keras.CategoricalCrossentropy", "torch.cross_entropy",
                                 cases=["cases/cross_entropy"], dtypes=["float32"])
        pairs[~pairs.agree]
    """
    first, second = resolve(a), resolve(b)
    if first.loss != second.loss:
        raise UnknownBinding(f"{a} computes {first.loss} and {b} {second.loss}: nothing to compare")
    loaded = loaded or load_cases(cases)
    evaluations = [Evaluation(case, binding, dtype)
                   for case in loaded.cases if comparable(case, first, second)
                   for dtype in case.dtypes_in(tuple(dtypes))
                   if dtype not in first.refuses_dtypes and dtype not in second.refuses_dtypes
                   for binding in (first, second)]
    rows = _evaluate(evaluations, timeout)
    pairs = [_pair(rows[(e.case.id, first.id, e.dtype)], rows[(e.case.id, second.id, e.dtype)])
             for e in evaluations[::2]]
    frame = pd.DataFrame([asdict(p) for p in pairs], columns=list(Pair.__dataclass_fields__))
    return frame.sort_values(["agree", "apart_eps"], ascending=[True, False], kind="stable").reset_index(drop=True)


def _evaluate(evaluations: list[Evaluation], timeout: float) -> dict[tuple[str, str, str], Result]:
    # Imported here: the runner imports the report machinery, which a caller of resolve() does not need.
    from conformance.runner import evaluate_in_parallel

    rows: dict[tuple[str, str, str], Result] = {}
    lock = threading.Lock()

    def record(result: Result) -> None:
        with lock:
            rows[(result.case_id, result.binding, result.dtype)] = result

    evaluator = Evaluator(timeout=timeout)
    try:
        for thread in evaluate_in_parallel(evaluations, evaluator, record):
            thread.join()
    finally:
        evaluator.close()
    return rows


def _apart(x: np.ndarray | None, y: np.ndarray | None, scale: np.ndarray, dtype: str) -> float:
    """max |x - y| in epsilons of ``dtype`` at ``scale``: 0 where both are the same non-finite
    value, inf where only one is finite or they are different non-finite values."""
    if x is None or y is None or x.shape != y.shape:
        return math.inf
    return float((abs_errors(x, y) / (MACHINE_EPS[dtype] * scale)).max(initial=0.0))


def _pair(ra: Result, rb: Result) -> Pair:
    dtype = ra.dtype
    oracle = decoded_array(ra.oracle)
    scale = np.maximum(1.0, np.abs(np.nan_to_num(oracle, nan=0.0, posinf=0.0, neginf=0.0))) if oracle is not None \
        else np.asarray(1.0)
    both_raised = ra.raised is not None and rb.raised is not None
    apart = 0.0 if both_raised else _apart(decoded_array(ra.value), decoded_array(rb.value), scale, dtype)
    grad_a, grad_b = decoded_array(ra.grad), decoded_array(rb.grad)
    grad_apart = grad_agree = None
    # A gradient is with respect to the input its API received: torch given probabilities via the
    # glue's log differentiates log p, another API p itself; only the same input compares.
    if grad_a is not None and grad_b is not None and ra.grad_input_kind == rb.grad_input_kind:
        size = np.abs(grad_a[np.isfinite(grad_a)]).max(initial=0.0) or 1.0
        grad_apart = _apart(grad_a, grad_b, np.asarray(max(size, 1e-300)), dtype)
        grad_agree = grad_apart <= POLICY_ULPS[dtype]
    return Pair(case_id=ra.case_id, loss=ra.loss, dtype=dtype, configuration=ra.configuration,
                oracle=ra.oracle, value_a=ra.value, value_b=rb.value, status_a=ra.status, status_b=rb.status,
                apart_eps=apart, agree=apart <= POLICY_ULPS[dtype], grad_apart_eps=grad_apart,
                grad_agree=grad_agree, why_a=why(ra), why_b=why(rb), grad_why_a=grad_why(ra),
                grad_why_b=grad_why(rb))


def why(result: Result) -> str:
    """One side's verdict against the mathematics, in words."""
    if result.status == "pass":
        return "agrees with the definition"
    if result.status == "known":  # the case's documented reason, with its source
        return result.explanation
    if result.raised:
        return f"raises {result.raised}" + (f": {result.explanation}" if result.explanation else "")
    if result.status == "skipped":
        return f"skipped: {result.explanation}"
    if result.interpretation:
        return result.interpretation
    return result.explanation or result.status


def grad_why(result: Result) -> str:
    """One side's gradient verdict against the mathematics, in words."""
    if result.grad_status is None:
        return "no gradient taken"
    if result.grad_status == "pass":
        return f"agrees with the definition (with respect to {result.grad_input_kind})"
    return result.grad_interpretation or result.grad_explanation or result.grad_status


def format_comparison(frame: pd.DataFrame, a: str, b: str, limit: int = 20) -> str:
    """What a porter reads: how often the two agree, then each disagreement with both
    values, the oracle, the distance and each side's why - largest first, grouped by case."""
    if frame.empty:
        return f"{a} and {b} have no case in common (faithful cases both can express, in a dtype both accept)"
    disagree = frame[~frame.agree | (frame.grad_agree == False)]  # noqa: E712 (None: no gradient)
    cases = frame.case_id.nunique()
    lines = [f"{a} vs {b}: {len(frame)} configurations ({cases} cases x dtypes); "
             f"{len(frame) - len(disagree)} agree, {len(disagree)} disagree "
             f"(agree: within {', '.join(f'{n:g} eps of {d}' for d, n in POLICY_ULPS.items())}, "
             "at max(1, |oracle|))"]
    for case_id, rows in list(disagree.groupby("case_id", sort=False))[:limit]:
        first = rows.iloc[0]
        lines.append(f"\n{case_id} ({first['configuration']}): in {', '.join(rows['dtype'])}")
        said: tuple[str, str] | None = None
        for _, row in rows.iterrows():
            value = bool(row["agree"]) is False
            gap = row["apart_eps"] if value else row["grad_apart_eps"]
            lines.append(f"  {row['dtype']}: {a} {brief(row['value_a'])} vs {b} {brief(row['value_b'])} "
                         f"(oracle {brief(row['oracle'])}; {'value' if value else 'gradient'} {gap:.3g} eps apart)")
            whys = (row["why_a"], row["why_b"]) if value else (row["grad_why_a"], row["grad_why_b"])
            if whys != said:  # said once for the dtypes that share it
                lines += [f"    {a}: {whys[0]}", f"    {b}: {whys[1]}"]
                said = whys
    more = disagree.case_id.nunique() - limit
    if more > 0:
        lines.append(f"\n... and {more} more cases (--all shows them, --csv FILE writes every row)")
    return "\n".join(lines)
