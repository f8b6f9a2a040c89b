"""Discovery: hypothesis searches for the discrepancies nobody has written a case for.

``conformance fuzz`` (or :func:`fuzz` from Python) draws cases within a loss family's
schema (:mod:`conformance.fuzz.strategies`), evaluates them through the same
workers and oracle as ``conformance run`` (:mod:`conformance.fuzz.search`), and
writes each distinct finding, shrunk to a minimal example, as a case file to
review (:mod:`conformance.fuzz.case_file`). ``--properties`` checks the metamorphic
relations users rely on when porting (:mod:`conformance.fuzz.properties`).

Importing this package imports hypothesis; the rest of the suite does not import it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import groupby
from pathlib import Path

from conformance import families
from conformance import frameworks as registry
from conformance.binding import Binding
from conformance.dtypes import DType
from conformance.evaluation import Evaluator
from conformance.fuzz.case_file import write_findings
from conformance.fuzz.search import Budget, Finding, SearchReport, documented_mechanisms, known_by, search
from conformance.oracle_cache import OracleCache

__all__ = ["Budget", "Finding", "SearchReport", "by_framework", "chosen_bindings", "fuzz"]


def chosen_bindings(binding_ids: Sequence[str] = (), loss: str | None = None) -> list[Binding]:
    """The bindings named, and every binding of ``loss``, grouped by framework (one worker each at a
    time); raises LookupError naming what is unknown."""
    every = registry.all_bindings()
    unknown = [b for b in binding_ids if b not in every]
    if unknown:
        raise LookupError(f"no installed binding {', '.join(unknown)}; `conformance list` names them")
    if loss is not None and loss not in families.names():
        raise LookupError(f"no loss family {loss!r}; known: {', '.join(families.names())}")
    chosen = [every[b] for b in binding_ids]
    if loss is not None:
        chosen += [b for b in every.values() if b.loss == loss and b.id not in binding_ids]
    if not chosen:
        raise LookupError("name a binding (--binding) or a loss family (--loss)")
    return sorted(chosen, key=lambda b: b.framework.name)  # stable: the order given within a framework


def by_framework(bindings: Sequence[Binding]) -> Iterator[list[Binding]]:
    """``bindings`` (grouped as :func:`chosen_bindings` returns them), one framework's at a time."""
    for _, group in groupby(bindings, key=lambda b: b.framework.name):
        yield list(group)


def fuzz(binding_ids: Sequence[str] = (), loss: str | None = None,
         dtypes: Sequence[DType] = ("float32", "float64"), budget: Budget = Budget(),
         out: str | Path | None = "fuzz-findings", seed: int = 0,
         known: str | Path | None = "reports/latest/results.jsonl",
         progress: Callable[[SearchReport], None] | None = None) -> list[SearchReport]:
    """Search each chosen binding; mark findings a run already documents (``known``: its
    results file) and write every finding as a case file under ``out``.

    Example::

        from conformance.fuzz import Budget, fuzz
        reports = fuzz(["torch.binary_cross_entropy"], budget=Budget(examples=100), out=None)
        [(f.summary, f.hits) for r in reports for f in r.findings]
    """
    documented = documented_mechanisms(Path(known)) if known is not None else {}
    evaluator = Evaluator(oracle_cache=OracleCache(None))
    reports = []
    try:
        for group in by_framework(chosen_bindings(binding_ids, loss)):
            for binding in group:
                report = search(binding, dtypes, budget, seed, evaluator, progress)
                for finding in report.findings:
                    finding.known_by = known_by(finding, documented)
                reports.append(report)
            evaluator.retire(group[0].framework)  # its bindings are done: one worker at a time
    finally:
        evaluator.close()
    if out is not None:
        for report in reports:
            replay = f"conformance fuzz --binding {report.binding} --seed {seed} --budget {budget} " \
                     f"--dtypes {','.join(dtypes)}"
            for finding, path in zip(report.findings, write_findings(report.findings, Path(out), replay)):
                finding.file = path
    return reports
