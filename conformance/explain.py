"""``conformance explain``: one case, every binding, the oracle and the causes found."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import pandas as pd

from conformance.case import Case
from conformance.dtypes import DEFAULT_DTYPES, DType
from conformance.loader import LoadResult, load_cases
from conformance.number_text import brief
from conformance.porting import format_guide, porting_guide
from conformance.runner import run


def find_case(case_id: str, cases: Sequence[str] = ("cases",)) -> Case:
    loaded = load_cases(cases)
    for case in loaded.cases:
        if case.id == case_id:
            return case
    close = difflib.get_close_matches(case_id, [c.id for c in loaded.cases], n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise KeyError(f"no case {case_id!r} under {', '.join(map(str, cases))}{hint}")


def explain(case_id: str, binding: str | None = None, cases: Sequence[str] = ("cases",),
            dtypes: Sequence[DType] = DEFAULT_DTYPES, timeout: float = 60.0,
            frameworks: Sequence[str] | None = None, keep_warm: float | None = None) -> pd.DataFrame:
    """Evaluate one case on every binding (or one) and return its rows (``keep_warm``: as
    :func:`conformance.runner.run`'s).

    For an ``as_is`` case the rows of its faithful twin (same arrays, meant
    semantics, no ``expect``) are included with ``mode == "faithful"``: they
    show the calls that would have computed what the user meant.
    """
    case = find_case(case_id, cases)
    selected = [case]
    if case.mode == "as_is":
        selected.append(case.model_copy(update={"mode": "faithful", "expect": {}}))
    if binding:
        frameworks = [binding.split(".", 1)[0]]
    frame = run(loaded=LoadResult(cases=selected), frameworks=frameworks, dtypes=dtypes, out=None,
                timeout=timeout, keep_warm=keep_warm)
    if binding:
        frame = frame[frame["binding"].isin([binding, f"{binding.split('.', 1)[0]}.*"])]
    return frame.reset_index(drop=True)


def format_explanation(case: Case, frame: pd.DataFrame) -> str:
    """The text ``conformance explain`` prints."""
    lines = [f"{case.id} - {case.title or ''}  ({case.file}:{case.line})",
             f"  {case.configuration}; mode {case.mode}",
             f"  input {case.input.kind}: {case.input.values.tolist()}",
             f"  target {case.target.kind}: {case.target.values.tolist()}"]
    if case.source:
        lines.append(f"  source: {case.source}")
    own = frame[frame["mode"] == case.mode]
    for dtype, rows in own.groupby("dtype", sort=False):
        # Rows of a framework that is not installed carry no oracle: take one that does.
        oracle = rows["oracle"].dropna()
        lines.append(f"\n{dtype}: oracle {oracle.iloc[0] if len(oracle) else '-'}")
        for _, row in rows.iterrows():
            lines.append(f"  {row['status']:10} {row['binding']:52} {str(row['value']):24} "
                         f"{_ulp(row['ulp_err'])}")
            if row["status"] != "pass":
                lines.append(f"{'':13}measured: {row['interpretation'] or '-'}")
                lines.append(f"{'':13}why: {row['explanation']}")
            lines += _gradient_lines(row)
    guide = porting_guide(frame)
    lines.append("\nEquivalent calls (faithful, matched the oracle):")
    lines.append(format_guide(guide) if not guide.empty else "  none of the bindings matched")
    return "\n".join(lines)


def _gradient_lines(row: pd.Series) -> list[str]:
    """The gradient under the value: its status and size of error; for a deviation, why."""
    status = row.get("grad_status")
    if not isinstance(status, str):
        return []
    if status == "skipped":
        return [f"{'':13}gradient skipped: {row.get('grad_explanation') or '-'}"]
    got, exact = brief(row.get("grad")), brief(row.get("grad_oracle"))
    error = row.get("grad_max_abs_err")
    size = f", largest error {float(error):.3g}" if isinstance(error, (int, float)) and error == error else ""
    lines = [f"{'':13}gradient {status}: {got} (oracle {exact}){size}"]
    if status != "pass":
        lines.append(f"{'':13}gradient why: {row.get('grad_explanation') or '-'}")
    return lines


def _ulp(value: object) -> str:
    try:
        return f"{float(value):.3g} ULP"
    except (TypeError, ValueError):
        return ""
