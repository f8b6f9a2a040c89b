"""``conformance validate``: every problem a case file has, found before any framework starts.

Loading finds what is malformed (see :mod:`conformance.loader`); this adds the
check that needs the oracle: every literal ``expected`` must agree with the
float64 oracle on the inputs as written, so a wrong number is caught here
rather than as an error row on every binding.
"""

from __future__ import annotations

from collections.abc import Iterable

from conformance.case import Case
from conformance.deadline import TimeLimitExceeded, time_limit
from conformance.loader import CaseError


def expected_errors(cases: Iterable[Case], timeout: float = 60.0) -> list[CaseError]:
    """One error per case whose literal ``expected`` the float64 oracle contradicts."""
    from conformance import oracle
    from conformance.evaluation import expected_problem

    errors = []
    for case in cases:
        if case.expected is None:
            continue
        line, column = case.mark_of("expected")
        try:
            with time_limit(timeout):
                problem = expected_problem(case, oracle.evaluate(case, "float64"))
        except TimeLimitExceeded:
            problem = f"the oracle did not finish within {timeout:g} s (--timeout); the value is unchecked"
        except Exception as exc:  # noqa: BLE001 - a bug of ours costs this case, not the others
            problem = (f"the oracle failed on this case ({type(exc).__name__}: {str(exc)[:200]}); "
                       "please report it")
        if problem:
            errors.append(CaseError(case.file, line, column, "expected", problem, case.id))
    return errors
