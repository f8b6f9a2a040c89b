"""The search: hypothesis draws cases, the binding's worker computes them, findings are kept.

Each drawn case is evaluated exactly as ``conformance run`` evaluates a row (the
same worker, oracle, judgement and interpretation search). ``hypothesis.target``
steers the search towards the largest error, in the tolerance policy's unit
(machine epsilons of the dtype at ``max(1, |oracle|)``), of the value and of the
gradient. A row that fails is a finding, keyed by what it shows: the measured
interpretation (the readings of the definition that reproduce the value) or,
where none does, its failure kind (NaN where the oracle is finite, the wrong
sign, an exception...). A thousand clipped inputs are one finding.

Every distinct finding raises an exception of its own, so hypothesis shrinks each
to a minimal example; the search then starts a new round, treating the keys it
has as found, until the budget is spent or a round finds nothing new.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, Phase, given, reject, seed as hypothesis_seed, settings, target
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException

from conformance import families
from conformance.binding import Binding
from conformance.case import Case
from conformance.dtypes import DType
from conformance.evaluation import Evaluation, Evaluator
from conformance.fuzz.strategies import KIND_DOMAINS, cases
from conformance.number_text import decode, decoded_array
from conformance.oracle_cache import OracleCache
from conformance.results import Result, read_result_rows


_NUMBER = re.compile(r"\d+(\.\d+)?(e[-+]?\d+)?")


class FailureKind(StrEnum):
    """How a row fails where no reading of the definition explains it."""

    NAN_WHERE_FINITE = "NaN where the oracle is finite"
    INF_WHERE_FINITE = "infinite where the oracle is finite"
    FINITE_WHERE_INF = "finite where the oracle is infinite"
    WRONG_SIGN = "the opposite sign of the oracle"
    RAISED = "raises"
    BEYOND_TOLERANCE = "beyond the tolerance, unexplained"
    GRADIENT = "gradient"  # a prefix: "gradient: NaN where the oracle is finite"


@dataclass
class Finding:
    """One distinct deviation of one binding, with its smallest example so far."""

    binding: str
    quantity: str              # value | grad
    mechanism: str             # the interpretation, or the failure kind
    case: Case
    dtype: DType
    result: Result
    hits: int = 1
    known_by: str | None = None  # an existing case documenting the same binding and mechanism
    alternatives: tuple[str, ...] = ()  # every mechanism its interpretation allows (the key's first)
    file: Path | None = None     # where it was written as a case file

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.binding, self.quantity, self.mechanism)

    @property
    def summary(self) -> str:
        """The mechanism in words: the simplest reading that reproduces it, or how it fails."""
        said = self.result.interpretation if self.quantity == "value" else self.result.grad_interpretation
        return said.split(" | ")[0] if said and not self.mechanism.startswith(FailureKind.RAISED.value) \
            else self.mechanism


@dataclass(frozen=True)
class Budget:
    """How long to search each binding: a number of examples, or seconds."""

    examples: int | None = 200
    seconds: float | None = None

    @classmethod
    def parse(cls, text: str) -> Budget:
        """``500`` (examples) or ``90s`` / ``2m`` (time); at least one example or second."""
        text = text.strip().lower()
        unit = {"s": 1.0, "m": 60.0}.get(text[-1:])
        try:
            budget = cls(examples=None, seconds=unit * float(text[:-1])) if unit else cls(examples=int(text))
        except ValueError:
            budget = None
        if budget is None or (budget.seconds or budget.examples or 0) <= 0:
            raise ValueError(f"budget {text!r}: give a number of examples (500) or a time (90s, 2m)")
        return budget

    def __str__(self) -> str:
        return f"{self.seconds:g}s" if self.seconds is not None else str(self.examples)


@dataclass
class SearchReport:
    """What one binding's search did."""

    binding: str
    examples: int = 0
    rounds: int = 0
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    unsupported: str | None = None  # why its cases cannot be drawn


def fuzzable(binding: Binding) -> str | None:
    """Why cases of ``binding`` cannot be drawn, or None."""
    family = families.family(binding.loss)
    if not any(k in KIND_DOMAINS for k in binding.inputs & set(family.inputs)):
        return f"no strategy for its input kinds ({', '.join(sorted(binding.inputs))})"
    if not any(k in KIND_DOMAINS for k in binding.targets & set(family.targets)):
        return f"no strategy for its target kinds ({', '.join(sorted(binding.targets))})"
    return None


def mechanism_of(result: Result, quantity: str) -> str | None:
    """The key of a failing row's deviation; None for a row that does not fail.

    A row's interpretation may list several readings that reproduce it (a clip at 1e-7
    and one at 1.19e-7); the first is the simplest, and its knobs - not their values,
    which follow the dtype - name the mechanism, so one clipping is one finding."""
    found = mechanisms_of(result, quantity)
    return found[0] if found else None


def mechanisms_of(result: Result, quantity: str) -> list[str]:
    """Every mechanism a failing row's interpretation allows, simplest first (at the edge of a
    dtype's range several readings reproduce one number); [] for a row that does not fail."""
    if quantity == "grad":
        if result.grad_status not in ("fail", "error"):
            return []
        if result.grad_status == "error":  # raised, or crashed or hung (no name then)
            return [f"{FailureKind.GRADIENT.value}: {FailureKind.RAISED.value} {result.grad_raised or 'an error'}"]
        if not result.grad_interpretation:
            # By how it fails, as a value is: one unexplained gradient deviation of a binding
            # does not make every other one of it known.
            return [f"{FailureKind.GRADIENT.value}: {_failure_kind(result.grad, result.grad_oracle).value}"]
        # The reading's constants follow the dtype (a clip at 1e-7 or at 2.22e-16): not part of the key.
        return list(dict.fromkeys(_NUMBER.sub("#", said) for said in result.grad_interpretation.split(" | ")))
    if result.status not in ("fail", "error"):
        return []
    if result.raised:
        return [f"{FailureKind.RAISED.value} {result.raised}"]
    if result.readings:
        return list(dict.fromkeys("reading: " + (", ".join(sorted(k for k, v in reading.items() if v is not None))
                                                 or "the definition (computed otherwise)")
                                  for reading in result.readings))
    return [_failure_kind(result.value, result.oracle).value]


def _failure_kind(computed: object, exact: object) -> FailureKind:
    """How a value (or gradient) fails against the oracle's, both as a row stores them."""
    value, oracle = decoded_array(computed), decoded_array(exact)
    if value is None or oracle is None or value.shape != oracle.shape:
        return FailureKind.BEYOND_TOLERANCE
    finite = np.isfinite(oracle)
    if (np.isnan(value) & finite).any():
        return FailureKind.NAN_WHERE_FINITE
    if (np.isinf(value) & finite).any():
        return FailureKind.INF_WHERE_FINITE
    if (np.isfinite(value) & np.isinf(oracle)).any():
        return FailureKind.FINITE_WHERE_INF
    if (np.sign(value) * np.sign(oracle) < 0).any():
        return FailureKind.WRONG_SIGN
    return FailureKind.BEYOND_TOLERANCE


def _steer(result: Result) -> None:
    """Point hypothesis at larger errors (log10 of the error in the policy's unit)."""
    for label, error in (("value error", result.scaled_err), ("gradient error", result.grad_scaled_err)):
        try:
            number = float(decode(error)) if error is not None else 0.0
        except (TypeError, ValueError):
            number = 0.0
        score = 400.0 if math.isinf(number) or math.isnan(number) else math.log10(1.0 + number)
        target(score, label=label)


class _Found(Exception):
    """Raised for a finding; hypothesis shrinks each subclass (one per key) on its own."""


_FOUND_TYPES: dict[tuple[str, str, str], type[_Found]] = {}


def _found_type(key: tuple[str, str, str]) -> type[_Found]:
    if key not in _FOUND_TYPES:
        _FOUND_TYPES[key] = type(f"Found{len(_FOUND_TYPES)}", (_Found,), {})
    return _FOUND_TYPES[key]


def _size(case: Case) -> tuple[int, float]:
    values = np.asarray(case.input.values, dtype=np.float64)
    finite = np.abs(values[np.isfinite(values)])
    return (values.size, float(finite.sum()) if finite.size else 0.0)


class _Search:
    """One binding's rounds of hypothesis."""

    def __init__(self, binding: Binding, evaluator: Evaluator, dtypes: Sequence[DType], budget: Budget,
                 seed: int, progress: Callable[[SearchReport], None] | None):
        self.binding, self.evaluator, self.dtypes, self.budget = binding, evaluator, list(dtypes), budget
        self.seed, self.progress = seed, progress
        self.report = SearchReport(binding.id)
        self.found: dict[tuple[str, str, str], Finding] = {}
        self.known_before_round: set[tuple[str, str, str]] = set()
        self.started = time.monotonic()

    def _spent(self) -> bool:
        if self.budget.seconds is not None and time.monotonic() - self.started > self.budget.seconds:
            return True
        return self.budget.examples is not None and self.report.examples >= self.budget.examples

    def _probe(self, drawn: tuple[Case, DType]) -> None:
        case, dtype = drawn
        if self._spent() or self.binding.cannot_express(case) is not None or dtype in self.binding.refuses_dtypes:
            reject()
        case = case.model_copy(update={"dtypes": [dtype]})
        executed = self.evaluator.execute(Evaluation(case, self.binding, dtype))
        result = self.evaluator.judge(executed)
        self.report.examples += 1
        self.report.seconds = time.monotonic() - self.started
        if self.progress:
            self.progress(self.report)
        _steer(result)
        new_keys = []
        for quantity in ("value", "grad"):
            mechanism = mechanism_of(result, quantity)
            if mechanism is None:
                continue
            key = (self.binding.id, quantity, mechanism)
            if key in self.known_before_round:
                self.found[key].hits += 1
                continue
            held = self.found.get(key)
            if held is None or _size(case) <= _size(held.case):
                hits = held.hits + 1 if held else 1
                self.found[key] = Finding(self.binding.id, quantity, mechanism, case, dtype, result, hits,
                                          alternatives=tuple(mechanisms_of(result, quantity)))
            else:
                held.hits += 1
            new_keys.append(key)
        self.report.findings = list(self.found.values())
        if new_keys:
            raise _found_type(new_keys[0])(new_keys[0][2])

    def run(self) -> SearchReport:
        family = families.family(self.binding.loss)
        strategy = st.tuples(cases(family, self.binding.inputs, self.binding.targets), st.sampled_from(self.dtypes))
        while not self._spent():  # a round per batch of new findings, until one finds none
            self.report.rounds += 1
            self.known_before_round = set(self.found)
            remaining = None if self.budget.examples is None else self.budget.examples - self.report.examples
            examples = max(1, min(remaining if remaining is not None else 10_000, 10_000))
            test = settings(max_examples=examples, deadline=None, database=None, report_multiple_bugs=True,
                            suppress_health_check=list(HealthCheck), print_blob=False,
                            phases=[Phase.generate, Phase.target, Phase.shrink])(given(strategy)(self._probe))
            test = hypothesis_seed(self.seed + self.report.rounds)(test)
            try:
                test()
            except (_Found, HypothesisException, ExceptionGroup):
                pass  # the findings are recorded as they are met; hypothesis has shrunk them
            if not set(self.found) - self.known_before_round:
                break
        self.report.findings = sorted(self.found.values(), key=lambda f: (f.quantity, -f.hits))
        self.report.seconds = time.monotonic() - self.started
        return self.report


def search(binding: Binding, dtypes: Sequence[DType] = ("float32", "float64"), budget: Budget = Budget(),
           seed: int = 0, evaluator: Evaluator | None = None,
           progress: Callable[[SearchReport], None] | None = None) -> SearchReport:
    """Search ``binding`` for deviations from the definition; returns its findings.

    Example::

        from conformance import frameworks
        from conformance.fuzz.search import Budget, search
        report = search(frameworks.all_bindings()["torch.binary_cross_entropy"], budget=Budget(100))
        [(f.mechanism, f.hits) for f in report.findings]
    """
    problem = fuzzable(binding)
    if problem is not None:
        return SearchReport(binding.id, unsupported=problem)
    own = evaluator is None
    evaluator = evaluator or Evaluator(oracle_cache=OracleCache(None))  # drawn cases would only fill the cache
    try:
        return _Search(binding, evaluator, dtypes, budget, seed, progress).run()
    finally:
        if own:
            evaluator.close()


def documented_mechanisms(results: Path) -> dict[tuple[str, str, str], str]:
    """(binding, quantity, mechanism) -> the case id that documents it, from a run's results:
    its ``known`` rows, keyed the way findings are. Without the file, nothing is known."""
    known: dict[tuple[str, str, str], str] = {}
    if not results.exists():
        return known
    for row in read_result_rows(results):
        fields = dict(row.__dict__)
        for quantity, status in (("value", "status"), ("grad", "grad_status")):
            if fields.get(status) != "known":
                continue
            # Judged as if undocumented: the keys its deviation would have as a finding.
            for mechanism in mechanisms_of(Result(**{**fields, status: "fail"}), quantity):
                known.setdefault((fields["binding"], quantity, mechanism), fields["case_id"])
    return known


def known_by(finding: Finding, documented: dict[tuple[str, str, str], str]) -> str | None:
    """The case documenting one of the mechanisms ``finding`` allows, or None: it is new."""
    for mechanism in finding.alternatives or (finding.mechanism,):
        case_id = documented.get((finding.binding, finding.quantity, mechanism))
        if case_id is not None:
            return case_id
    return None
