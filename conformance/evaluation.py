"""Evaluations: the (case, binding, dtype) matrix and how one cell is computed.

:func:`plan` expands cases into evaluations; :class:`Evaluator` computes one
evaluation through the framework's worker process and judges it against the
oracle. Both the CLI runner and the pytest plugin use these, so a row means
the same thing everywhere.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from dataclasses import dataclass, replace
from collections.abc import Callable, Iterable

import numpy as np

from conformance import oracle as oracle_module
from conformance.binding import Binding, Framework
from conformance.case import Case
from conformance.compare import Outcome, judge
from conformance.deadline import TimeLimitExceeded, time_limit
from conformance.dtypes import DType
from conformance.exact import divide, mp_array, total
from conformance.interpret import Interpretation, explain_gradient
from conformance.number_text import decode, encode
from conformance.oracle import OracleValue
from conformance.oracle_cache import OracleCache, oracle_key
from conformance.search_cache import SearchCache
from conformance.vocabulary import Quantity, Status
from conformance import warm
from conformance.process import WorkerFailure, WorkerProcess
from conformance.protocol import Computed, Hello, Raised, Reply, WorkerState
from conformance.recipe import RecipeWriter
from conformance.results import GRAD_KEPT, Result
from conformance.tolerance import Tolerance

# `expected` in a case file is checked against the float64 oracle to this
# relative precision: write it with at least 7 significant digits.
EXPECTED_RTOL = 1e-6
EXPECTED_ATOL = 1e-9


@dataclass(frozen=True)
class Evaluation:
    case: Case
    binding: Binding
    dtype: DType
    # "cpu", or an accelerator the framework declares (Framework.accelerators)
    # and its worker reported visible.
    device: str = "cpu"
    # The audit's evaluation (conformance.audit): the API without the suite's glue.
    bare: bool = False

    @property
    def framework(self) -> Framework:
        return self.binding.framework

    @property
    def name(self) -> str:
        on = "" if self.device == "cpu" else f"-{self.device}"
        return f"{self.case.id}[{self.binding.id}-{self.dtype}{on}]"

    def write(self) -> RecipeWriter:
        writer = RecipeWriter(self.case, self.dtype, self.framework, self.device, bare=self.bare)
        self.binding.write(writer)
        return writer

    def recipe(self) -> str:
        return self.write().text()


@dataclass
class Executed:
    """An evaluation whose recipe has run: the row so far and the worker's reply (None when
    the row is already final: the framework missing or broken, the worker crashed)."""

    evaluation: Evaluation
    result: Result
    version: str | None
    writer: RecipeWriter | None = None
    reply: Reply | None = None


def plan(cases: Iterable[Case], frameworks: Iterable[Framework], dtypes: tuple[DType, ...],
         ) -> tuple[list[Evaluation], list[Result]]:
    """Every expressible (case, binding, dtype), plus a skipped row for each
    faithful case that no binding of a framework can express and for each dtype
    a binding declares it does not support."""
    evaluations, unexpressible = [], []
    frameworks = list(frameworks)
    for case in cases:
        for framework in frameworks:
            usable = [b for b in framework.bindings if b.cannot_express(case) is None]
            if not usable and case.mode == "faithful" and framework.complete:
                reasons = "; ".join(b.cannot_express(case) for b in framework.bindings
                                    if b.loss == case.loss) or f"{framework.name} has no API for {case.loss}"
                for dtype in case.dtypes_in(dtypes):
                    unexpressible.append(base_result(case, f"{framework.name}.*", framework.name, dtype,
                                               "skipped", explanation=f"no {framework.name} binding "
                                               f"can express this case: {reasons}"))
            for binding in usable:
                for dtype in case.dtypes_in(dtypes):
                    if dtype in binding.refuses_dtypes:
                        unexpressible.append(base_result(case, binding.id, framework.name, dtype, "skipped",
                                                         explanation=binding.refuses_dtypes[dtype]))
                    else:
                        evaluations.append(Evaluation(case, binding, dtype))
    return evaluations, unexpressible


def base_result(case: Case, binding: str, framework: str, dtype: DType, status: str,
                **more) -> Result:
    """A result row for ``case`` with the case's own fields filled in."""
    return Result(case_id=case.id, loss=case.loss, binding=binding, framework=framework,
                  dtype=dtype, mode=case.mode, status=status, expected=encode(case.expected),
                  input_kind=case.input.kind, target_kind=case.target.kind,
                  reduction=case.reduction, configuration=case.configuration,
                  title=case.title or "", source=case.source or "", tags=list(case.tags),
                  case_data=case_data(case),
                  file=case.file, line=case.line, **more)


def case_data(case: Case) -> dict:
    """The case's arrays and options as JSON, so a report can show them on its own."""
    given = {name: case.option(name) for name in case.options_set()}
    options = {name: encode(value) if hasattr(value, "shape") else value
               for name, value in {"class_axis": case.class_axis, **given}.items()}
    def values(role: str, array: np.ndarray) -> object:
        drawn = case.drawn.get(role)
        if drawn is not None:
            return {"random": drawn.code()}
        return array.tolist() if array.dtype.kind == "i" else encode(array)

    return {"input": {case.input.kind: values("input", case.input.values)},
            "target": {case.target.kind: values("target", case.target.values)},
            "options": options, "description": case.description or ""}


def expect_digest(case: Case, binding: Binding, dtype: DType) -> str:
    """A digest of the ``expect`` entries of ``case`` that can apply to ``binding``'s row in
    ``dtype`` (its own and those it inherits, as :meth:`Case.expectation_for` consults them),
    whatever the framework's version: editing the float16 entry does not touch a float32 row."""
    entries = [[link.binding, [entry.model_dump() for entry in case.expectations(link.binding)
                               if (entry.shared or not link.shared_only)
                               and entry.applies_to(None, dtype, binding.variant)]]
               for link in binding.documentation]
    text = json.dumps(entries, sort_keys=True, default=lambda v: encode(v) if isinstance(v, np.ndarray) else str(v))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def expected_problem(case: Case, oracle64: OracleValue) -> str | None:
    """Why the case's literal ``expected`` is wrong, judged by the oracle; None if right."""
    if case.expected is None:
        return None  # drawn inputs are judged against the oracle alone
    truth = oracle64.as_float()
    for given, exact in zip(np.asarray(case.expected).flat, truth.flat):
        if math.isnan(exact) and math.isnan(given):
            continue
        if math.isinf(exact) and given == exact:
            continue
        if not abs(given - exact) <= EXPECTED_ATOL + EXPECTED_RTOL * abs(exact):
            return (f"the case's expected {encode(case.expected)} disagrees with the oracle "
                    f"{oracle64} (inputs as written, float64); fix the case file")
    return None


class Evaluator:
    """Computes evaluations through one worker process per framework.

    Thread-safe across frameworks: each framework's worker must be driven by
    one thread at a time (the runner gives each framework its own thread).
    """

    def __init__(self, timeout: float = 60.0, startup_timeout: float = 300.0,
                 extra_env: dict[str, str] | None = None, oracle_cache: OracleCache | None = None,
                 keep_warm: float | None = None):
        """``keep_warm``: minutes the workers stay for the next run (:mod:`conformance.warm`);
        None reads ``CONFORMANCE_KEEP_WARM`` (unset: no worker outlives the run)."""
        self.timeout = timeout
        self.idle = warm.idle_seconds(keep_warm)
        self.oracle_cache = oracle_cache if oracle_cache is not None else OracleCache.default()
        self.searches = SearchCache(self.oracle_cache)
        self.extra_env = extra_env
        self.startup_timeout = startup_timeout
        # By (framework, lane): a framework with much work may have several workers at once.
        self._workers: dict[tuple[str, int], tuple[WorkerProcess, Hello]] = {}
        self._retired: dict[str, Hello] = {}  # workers stopped once their rows were done
        self._started_cpu: dict[tuple[str, int], float] = {}  # each worker's CPU once it had started
        self._oracles: dict[tuple[int, str, str], tuple[Case, OracleValue | None]] = {}
        self._gradient_cases: dict[tuple[int, str, str], tuple[Case, Case]] = {}
        self._lock = threading.Lock()

    def oracle(self, case: Case, dtype: DType, of: str = "loss") -> OracleValue:
        """The oracle's loss (``of="loss"``), gradient (``"grad"``) or the gradient under a
        reading (``"grad:<reading>"``), computed once."""
        # Keyed by object identity (the case is kept alive with its value): two
        # cases may share an id, e.g. a file given outside the suite.
        key = (id(case), dtype, of)
        with self._lock:
            cached = self._oracles.get(key)
        if cached is None:
            disk_key = oracle_key(case, dtype, of)
            try:
                computed: OracleValue | None = self.oracle_cache.get(disk_key)
                if computed is None:
                    computed = (oracle_module.evaluate(case, dtype) if of == "loss" else
                                oracle_module.evaluate_gradient(case, dtype, of.partition(":")[2] or None))
                    self.oracle_cache.put(disk_key, computed)
            except TimeLimitExceeded:
                # Remembered: the next binding must not spend its time on it again.
                with self._lock:
                    self._oracles[key] = (case, None)
                raise TimeLimitExceeded(f"the oracle ({of}, {dtype}) did not finish within the time limit") from None
            cached = (case, computed)
            with self._lock:
                self._oracles[key] = cached
        if cached[1] is None:
            raise TimeLimitExceeded(f"the oracle ({of}, {dtype}) did not finish within the time limit "
                                    "earlier; it is not computed again")
        return cached[1]

    def gradient_case(self, case: Case, dtype: DType, kind: str) -> Case:
        """The case whose gradient the API's is judged against: the case itself, or, where the
        glue converts the input (:meth:`RecipeWriter.converted`), the case with its input
        converted exactly to the ``kind`` the API receives (one object per case, dtype and
        kind, so its oracle is computed once)."""
        if kind == case.input.kind:
            return case
        key = (id(case), dtype, kind)
        with self._lock:
            cached = self._gradient_cases.get(key)
        if cached is None:
            # The original is kept alive with it, so its id is not reused.
            cached = (case, case.with_input(kind, case.family.converted_input(case, dtype, kind)))
            with self._lock:
                self._gradient_cases[key] = cached
        return cached[1]

    def _worker(self, framework: Framework, lane: int = 0) -> tuple[WorkerProcess, Hello]:
        with self._lock:
            entry = self._workers.get((framework.name, lane))
        if entry is None or (entry[1].ready and not entry[0].alive):
            worker = warm.worker(framework, self.startup_timeout, self.extra_env, self.idle)
            entry = (worker, worker.start())
            with self._lock:
                self._workers[(framework.name, lane)] = entry
                self._started_cpu[(framework.name, lane)] = worker.cpu_seconds() or 0.0
        return entry

    def evaluate(self, evaluation: Evaluation, lane: int = 0) -> Result:
        """One row: the framework's value and gradient judged against the oracle. ``lane``
        picks one of several workers of the framework (one thread drives each)."""
        return self.judge(self.execute(evaluation, lane))

    def execute(self, evaluation: Evaluation, lane: int = 0) -> Executed:
        """The framework's part of a row: its recipe run by its worker, within ``timeout``
        seconds. Nothing here waits for the suite's own computation, so a runner can judge
        one row (:meth:`judge`) while the worker already runs the next."""
        case, binding, dtype = evaluation.case, evaluation.binding, evaluation.dtype
        worker, hello = self._worker(evaluation.framework, lane)
        version = hello.versions.get(evaluation.framework.distributions[0])
        result = base_result(case, binding.id, binding.framework.name, dtype, "skipped",
                             framework_version=version, expect_digest=expect_digest(case, binding, dtype),
                             device=hello.device if evaluation.device == "cpu" else evaluation.device)
        if not hello.ready:
            # Not installed: nothing to test. Installed but unable to start: a failure.
            result.status = "skipped" if hello.state == WorkerState.MISSING else "error"
            result.explanation = result.message = hello.reason
            return Executed(evaluation, result, version)
        writer = evaluation.write()
        result.recipe, result.call = writer.text(), writer.call_text()
        try:
            reply = worker.execute(result.recipe, self.timeout)
        except WorkerFailure as exc:
            result.status, result.explanation = "error", f"{binding.id} crashed or hung: {exc}"
            result.message = str(exc)
            return Executed(evaluation, result, version)
        if reply.refused is not None:
            result.status = "error"
            result.explanation = (f"the worker refused to run this recipe ({reply.refused}); the "
                                  "recipe writer never produces that - please report it")
            return Executed(evaluation, result, version)
        return Executed(evaluation, result, version, writer, reply)

    def judge(self, executed: Executed) -> Result:
        """The suite's part of a row: the reply judged against the oracle, with the
        interpretation of any deviation, within ``timeout`` seconds of its own."""
        result = executed.result
        if executed.reply is None:
            return result
        with time_limit(self.timeout):
            try:
                self._judge(executed)
            except TimeLimitExceeded:
                result.status = "error"
                result.explanation = (f"the evaluation ran past its time limit of {self.timeout:g} s "
                                      "(--timeout) in the suite's own oracle")
        return result

    def _judge(self, executed: Executed) -> None:
        evaluation, result, version = executed.evaluation, executed.result, executed.version
        writer, reply = executed.writer, executed.reply
        assert writer is not None and reply is not None
        case, dtype = evaluation.case, evaluation.dtype
        oracle = self.oracle(case, dtype)
        result.oracle = encode(oracle.as_float().tolist())
        problem = expected_problem(case, self.oracle(case, "float64"))
        if problem:
            result.status, result.explanation = "error", problem
            return
        if writer.harness_reduces:
            reply = _reduced_exactly(reply, case, dtype)
        _judged(result, evaluation, reply, oracle, version, self.searches.search)
        if reply.grad is not None:
            try:
                grad_case = self.gradient_case(case, dtype, writer.gradient_kind)
                result.grad_input_kind = writer.gradient_kind
                _judged_gradient(result, replace(evaluation, case=grad_case), reply, oracle,
                                 self.oracle(grad_case, dtype, "grad"), version,
                                 lambda name: self.oracle(grad_case, dtype, f"grad:{name}"))
            except TimeLimitExceeded:
                result.grad_status = "error"
                result.grad_explanation = (f"the gradient's oracle ran past the time limit of "
                                           f"{self.timeout:g} s (--timeout)")
        elif reply.ok and not evaluation.framework.gradient and case.mode == "faithful" and case.gradient:
            result.grad_status = "skipped"
            result.grad_explanation = f"{evaluation.framework.name} has no automatic differentiation"

    def retire(self, framework: Framework, lane: int = 0) -> None:
        """Stop the framework's worker on ``lane`` (its rows are done); what it reported at
        start stays in :meth:`environment`, and a later evaluation starts it again."""
        with self._lock:
            entry = self._workers.pop((framework.name, lane), None)
            if entry is not None:
                self._retired[framework.name] = entry[1]
        if entry is not None:
            entry[0].close()

    def worker_cpu(self, framework: Framework, lane: int = 0) -> float | None:
        """CPU seconds the framework's worker on ``lane`` has spent since it started (on its
        recipes, not on importing the framework); None if unknown."""
        with self._lock:
            entry = self._workers.get((framework.name, lane))
            started = self._started_cpu.get((framework.name, lane), 0.0)
        now = entry[0].cpu_seconds() if entry is not None else None
        return None if now is None else max(0.0, now - started)

    def on_accelerators(self, evaluation: Evaluation, lane: int = 0) -> list[Evaluation]:
        """The same evaluation on every accelerator its worker reported (none without one)."""
        _, hello = self._worker(evaluation.framework, lane)
        return [replace(evaluation, device=device) for device in hello.accelerators
                if device in evaluation.framework.accelerators]

    def environment(self) -> dict[str, dict]:
        """What each started worker reported: versions, device, or why it could not start."""
        with self._lock:
            hellos = {**self._retired, **{name: hello for (name, _), (_, hello) in sorted(self._workers.items())}}
            return {name: {"ready": hello.ready, "versions": hello.versions, "device": hello.device,
                           "accelerators": hello.accelerators, "reason": hello.reason}
                    for name, hello in hellos.items()}

    def close(self) -> None:
        with self._lock:
            workers, self._workers = list(self._workers.values()), {}
        for worker, _ in workers:
            worker.close()


def _reduced_exactly(reply: Reply, case: Case, dtype: DType) -> Reply:
    """The reply of a bare recipe, whose ``loss`` is the API's unreduced output, reduced as the
    case asks in exact arithmetic (the gradient of the summed output divided likewise)."""
    divisor = case.family.divisor(case, dtype)

    def reduced(part: Computed | Raised | None, gradient: bool) -> Computed | Raised | None:
        if not isinstance(part, Computed):
            return part
        values = np.asarray(decode(part.value), dtype=np.float64)
        if gradient:
            return Computed(encode(values / float(divisor)), part.dtype)
        return Computed(encode(float(divide(total(mp_array(values)), divisor))), part.dtype)

    return replace(reply, value=reduced(reply.value, False), grad=reduced(reply.grad, True))


def _outcome(part: Computed | Raised) -> Outcome:
    """What the API did for one quantity, from the worker's reply."""
    if isinstance(part, Computed):
        return Outcome(value=np.asarray(decode(part.value), dtype=np.float64))
    return Outcome(exception=part.exception, message=part.message)


# The interpretation search: (case, dtype, value, tolerance) -> what reproduces the value.
Search = Callable[[Case, DType, np.ndarray, Tolerance], Interpretation]


def _judged(result: Result, evaluation: Evaluation, reply: Reply, oracle: OracleValue,
            version: str | None, search: Search) -> Result:
    result.warnings = list(reply.warnings)
    outcome = _outcome(reply.value)
    if isinstance(reply.value, Computed):
        result.value, result.value_dtype = reply.value.value, reply.value.dtype
    else:
        result.message = f"{reply.value.exception}: {reply.value.message}"
        result.raised = reply.value.exception
    case, dtype = evaluation.case, evaluation.dtype
    judgement = judge(Quantity.VALUE, case, evaluation.binding, dtype, outcome, oracle, version)
    result.status, result.explanation = judgement.status.value, judgement.explanation
    if judgement.status != Status.PASS:
        if outcome.exception is not None:
            found = Interpretation(raised=outcome.exception)
        else:
            found = search(case, dtype, outcome.value, case.tolerance_for(dtype))
            if not found.explained:
                found = _coarser(found, evaluation, judgement.expectation, outcome.value, version, search)
        result.interpretation, result.readings = found.describe(case), found.structured()
        if judgement.status == Status.FAIL and judgement.expectation is None:
            result.explanation += f"; measured: {result.interpretation}"
    if judgement.errors is not None:
        errors = judgement.errors
        result.abs_err, result.rel_err, result.ulp_err, result.scaled_err = map(
            encode, (errors.abs_err, errors.rel_err, errors.ulp_err, errors.scaled_err))
    if judgement.expectation is not None:
        result.category, result.link = judgement.expectation.category, judgement.expectation.link
    return result


def _coarser(found: Interpretation, evaluation: Evaluation, entry: object, value: np.ndarray,
             version: str | None, search: Search) -> Interpretation:
    """What a float64 row no reading explains at float64 precision measurably is at float32's:
    the canonical loss, where the binding declares that it computes in float32; or a reading
    whose constants or intermediates the API rounds to float32."""
    case, binding, dtype = evaluation.case, evaluation.binding, evaluation.dtype
    if entry is not None and any(entry is declared for declared in binding.deviations):
        return Interpretation(canonical_like=binding.computes_like(case, version, dtype))
    if dtype != "float64":
        return found
    coarse = search(case, dtype, value, case.tolerance_for("float32"))
    return replace(coarse, precision="float32") if coarse.readings else found


def _judged_gradient(result: Result, evaluation: Evaluation, reply: Reply, oracle: OracleValue,
                     oracle_grad: OracleValue, version: str | None,
                     reading: Callable[[str], OracleValue]) -> None:
    outcome = _outcome(reply.grad)
    if isinstance(reply.grad, Computed):
        result.grad_dtype = reply.grad.dtype
    case, dtype = evaluation.case, evaluation.dtype
    judgement = judge(Quantity.GRAD, case, evaluation.binding, dtype, outcome, oracle_grad, version,
                      loss=oracle, reading=reading)
    result.grad_status, result.grad_explanation = judgement.status.value, judgement.explanation
    result.grad_raised = outcome.exception
    if outcome.value is not None and outcome.value.size <= GRAD_KEPT:
        result.grad, result.grad_oracle = reply.grad.value, encode(oracle_grad.as_float())
    if judgement.errors is not None:
        errors = judgement.errors
        result.grad_max_abs_err, result.grad_ulp_err, result.grad_scaled_err = map(
            encode, (errors.abs_err, errors.ulp_err, errors.scaled_err))
    if judgement.status == Status.FAIL and judgement.expectation is None:
        found = explain_gradient(case, dtype, outcome.value)
        result.grad_interpretation = found.describe(case)
        result.grad_explanation += f"; measured: {result.grad_interpretation}"
