"""Properties every binding must keep: the metamorphic relations users rely on when porting.

A property turns a drawn case into a second case whose loss is tied to the first
by a relation (equal; the sum of the other; a multiple of it; no smaller). Both
cases are evaluated by the binding's worker, as ``conformance run`` evaluates a
row. The relation is checked on the oracle first - a draw where the canonical
values do not keep it (a shift that rounds in the dtype, inf - inf) is rejected -
and then on the binding's values, within the tolerance policy of the dtype the
binding computes in, for both evaluations together. A binding that breaks a
property the definition keeps is a violation, shrunk by hypothesis like a finding.

The relations, each one declaration in :data:`PROPERTIES`:

* ``logit_shift``: adding a constant to every logit of a row leaves softmax
  cross-entropy unchanged;
* ``class_permutation``: permuting the classes of the input together with the
  target (and the class weights) leaves cross-entropy unchanged;
* ``index_is_one_hot``: an index target equals its one-hot probability target;
* ``sum_is_mean_times_count``: ``sum`` equals ``mean`` times the mean's divisor
  (with weights, the weighted count);
* ``none_sums_to_sum``: the unreduced losses sum to ``sum``;
* ``gibbs``: cross-entropy of soft targets t is at least that of t against
  itself (the entropy): CE(t, q) = H(t) + KL(t || q) and KL >= 0;
* ``logits_are_sigmoid_probs``: binary cross-entropy of logits equals it on their
  sigmoid, where both are finite;
* ``mean_gradient_is_sum_gradient_over_count``: the gradient of ``mean`` is that
  of ``sum`` divided by the divisor;
* ``homogeneity``: doubling predictions and targets multiplies the loss by 2**k - squared
  error by 4, absolute error by 2, Huber (delta doubled too) by 4, smooth L1 (beta too) by 2.

Which family keeps which is the family's declaration (``Family.properties``,
``Family.homogeneity``); the reductions' and gradients' relations hold for every family.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, given, reject, seed as hypothesis_seed, settings
from hypothesis import strategies as st

from conformance import families
from conformance.binding import Binding
from conformance.case import Case
from conformance.dtypes import DType, MACHINE_EPS
from conformance.evaluation import Evaluation, Evaluator
from conformance.families import Family
from conformance.fuzz import by_framework, chosen_bindings
from conformance.fuzz.search import Budget, fuzzable
from conformance.fuzz.strategies import build, cases, written
from conformance.number_text import brief, decoded_array
from conformance.oracle import evaluate, evaluate_gradient
from conformance.oracle_cache import OracleCache
from conformance.compare import gradient_size
from conformance.protocol import Computed
from conformance.tolerance import POLICY_ULPS


class Relation(StrEnum):
    """How the second case's loss follows from the first's."""

    EQUAL = "equal"                 # b = a
    SUM = "sum"                     # b = sum(a)
    TIMES_DIVISOR = "times_divisor"  # b = a * the mean's divisor
    NO_SMALLER = "no_smaller"       # a >= b
    SCALED = "scaled"               # b = factor * a
    GRAD_OVER_DIVISOR = "grad_over_divisor"  # grad b = grad a / the mean's divisor


@dataclass(frozen=True)
class Property:
    name: str
    universal: bool           # kept by every family; otherwise by those naming it (Family.properties)
    relation: Relation
    # The second case, from the first (None: the first does not fit).
    transform: Callable[[Case], Case | None]
    description: str = ""
    # What the first case must be for the transform to apply: drawn that way, not rejected.
    inputs: frozenset[str] | None = None
    targets: frozenset[str] | None = None
    reductions: frozenset[str] | None = None
    # What the second case is (a one-hot target is probabilities): the binding must take it too.
    second_input: str | None = None
    second_target: str | None = None
    second_reduction: str | None = None

    def drawable(self, binding: Binding) -> bool:
        """Whether ``binding`` takes cases this property can transform, and their transforms."""
        return ((self.inputs is None or bool(self.inputs & binding.inputs))
                and (self.targets is None or bool(self.targets & binding.targets))
                and (self.reductions is None or bool(self.reductions & binding.reductions))
                and (self.second_input is None or self.second_input in binding.inputs)
                and (self.second_target is None or self.second_target in binding.targets)
                and (self.second_reduction is None or self.second_reduction in binding.reductions))


def _with(case: Case, **update: Any) -> Case | None:
    """``case`` with fields replaced, validated as a case file is; None where that is refused."""
    return build({"id": case.id, **written(case), **update})


def _shifted(case: Case) -> Case | None:
    if case.input.kind != "logits":
        return None
    return _with(case, input={"logits": (case.input.values + 3.0).tolist()})


def _permuted(case: Case) -> Case | None:
    axis = case.class_axis % case.input.values.ndim
    classes = case.input.values.shape[axis]
    if classes < 2:
        return None
    order = np.roll(np.arange(classes), 1)
    update: dict[str, Any] = {"input": {case.input.kind: np.take(case.input.values, order, axis=axis).tolist()}}
    if case.target.kind == "index":
        new_index = np.argsort(order)  # class c moves to position new_index[c]
        update["target"] = {"index": new_index[case.target.values.astype(int)].tolist()}
    else:
        update["target"] = {case.target.kind: np.take(case.target.values, order, axis=axis).tolist()}
    for name in case.options_set():  # per-class options (weight, focal alpha) move with the classes
        value = case.option(name)
        if isinstance(value, np.ndarray) and value.shape == (classes,):
            update[name] = value[order].tolist()
    if case.option("ignore_index") is not None:
        return None
    return _with(case, **update)


def _one_hot(case: Case) -> Case | None:
    # Class weights are not part of it: a weighted mean divides by the targets' summed weights
    # with indices, by the count with probabilities (the definition, as torch documents it).
    if case.target.kind != "index" or case.option("ignore_index") is not None or case.option("weight") is not None:
        return None
    axis = case.class_axis % case.input.values.ndim
    classes = case.input.values.shape[axis]
    hot = np.moveaxis(np.eye(classes)[case.target.values.astype(int)], -1, axis)
    return _with(case, target={"probs": hot.tolist()})


def _reduced(reduction: str, only_from: str) -> Callable[[Case], Case | None]:
    def transform(case: Case) -> Case | None:
        return _with(case, reduction=reduction) if str(case.reduction) == only_from else None
    return transform


def _self_target(case: Case) -> Case | None:
    # A target with no zero: its entropy is finite under any convention for 0 log 0.
    if case.input.kind != "probs" or case.target.kind != "probs" or case.options_set() \
            or not (case.target.values > 0).all():
        return None
    return _with(case, input={"probs": case.target.values.tolist()})


def _sigmoid_probs(case: Case) -> Case | None:
    if case.input.kind != "logits":
        return None
    with np.errstate(over="ignore"):
        probs = 1.0 / (1.0 + np.exp(-case.input.values))
    return _with(case, input={"probs": probs.tolist()})


def _doubled(case: Case) -> Case | None:
    """Input and target doubled, and the family's scale option with them (``Family.homogeneity``)."""
    degree = case.family.homogeneity
    if degree is None:
        return None
    update: dict[str, Any] = {"input": {case.input.kind: (2 * case.input.values).tolist()},
                              "target": {case.target.kind: (2 * case.target.values).tolist()}}
    if degree[1] is not None:
        update[degree[1]] = 2 * float(case.option(degree[1]))
    return _with(case, **update)


_LOGITS, _PROBS, _MEAN = frozenset({"logits"}), frozenset({"probs"}), frozenset({"mean"})
# Every family keeps the reductions' and the gradients' relations (universal); the others
# hold for the families that name them (``Family.properties``, ``Family.homogeneity``).
PROPERTIES: tuple[Property, ...] = (
    Property("logit_shift", False, Relation.EQUAL, _shifted, inputs=_LOGITS,
             description="adding 3 to every logit leaves softmax cross-entropy unchanged"),
    Property("class_permutation", False, Relation.EQUAL, _permuted,
             description="rolling the classes of input, target and per-class options leaves the loss unchanged"),
    Property("index_is_one_hot", False, Relation.EQUAL, _one_hot, targets=frozenset({"index"}),
             second_target="probs", description="an index target equals its one-hot probability target"),
    Property("sum_is_mean_times_count", True, Relation.TIMES_DIVISOR, _reduced("sum", "mean"), reductions=_MEAN,
             second_reduction="sum",
             description="sum equals mean times the mean's divisor (the weighted count with weights)"),
    Property("none_sums_to_sum", True, Relation.SUM, _reduced("sum", "none"), reductions=frozenset({"none"}),
             second_reduction="sum", description="the unreduced losses sum to sum"),
    Property("gibbs", False, Relation.NO_SMALLER, _self_target, inputs=_PROBS, targets=_PROBS,
             description="CE(t, q) >= CE(t, t): cross-entropy is the entropy plus a KL divergence >= 0"),
    Property("logits_are_sigmoid_probs", False, Relation.EQUAL, _sigmoid_probs, inputs=_LOGITS,
             second_input="probs", description="BCE of logits equals BCE of their sigmoid where both are finite"),
    Property("mean_gradient_is_sum_gradient_over_count", True, Relation.GRAD_OVER_DIVISOR,
             _reduced("sum", "mean"), reductions=_MEAN, second_reduction="sum",
             description="the gradient of mean is that of sum over the divisor"),
    Property("homogeneity", False, Relation.SCALED, _doubled,
             description="doubling input, target (and the scale option) multiplies the loss by 2**k"),
)


def factor(prop: Property, case: Case, dtype: DType) -> float:
    """What multiplies the first loss in the relation: the mean's divisor, 2**k, or 1."""
    if prop.relation in (Relation.TIMES_DIVISOR, Relation.GRAD_OVER_DIVISOR):
        return float(case.family.divisor(case, dtype))
    if prop.relation == Relation.SCALED and case.family.homogeneity is not None:
        return 2.0 ** case.family.homogeneity[0]
    return 1.0


def holds_for(prop: Property, family: Family) -> bool:
    """Whether the definition of ``family`` keeps ``prop``."""
    if prop.name == "homogeneity":
        return family.homogeneity is not None
    return prop.universal or prop.name in family.properties


def applies(prop: Property, binding: Binding) -> bool:
    """Whether ``binding``'s family keeps ``prop`` and the binding takes cases it can transform."""
    differentiable = prop.relation != Relation.GRAD_OVER_DIVISOR or binding.framework.gradient
    return holds_for(prop, families.family(binding.loss)) and prop.drawable(binding) \
        and fuzzable(binding) is None and differentiable


@dataclass
class Violation:
    """A property a binding breaks where the definition keeps it."""

    prop: Property
    binding: str
    dtype: DType
    first: Case
    second: Case
    values: tuple[Any, Any]   # the binding's (value or gradient) on the two cases
    oracle: tuple[Any, Any]
    hits: int = 1

    def line(self) -> str:
        return (f"{self.binding} breaks {self.prop.name} in {self.dtype} ({self.prop.description}): "
                f"it gave {brief(self.values[0])} and {brief(self.values[1])}, the definition "
                f"{brief(self.oracle[0])} and {brief(self.oracle[1])} ({self.hits} examples)")


def _kept(prop: Property, a: np.ndarray, b: np.ndarray, divisor: float, tolerance: float,
          size: float = 1.0) -> bool:
    """Whether ``b`` follows from ``a`` by the relation. Each value may be off by ``tolerance``
    (relative, at max(1, |value|); a gradient at ``size``, the largest component of the
    definition's, as the judgement measures it); what multiplies ``a`` multiplies its error too.
    ``divisor``: the mean's divisor, or the factor of a SCALED relation (2**k)."""
    if a.shape != b.shape and prop.relation != Relation.SUM:
        return False
    if prop.relation == Relation.GRAD_OVER_DIVISOR:  # the sum's gradient over the divisor is the mean's
        same = (np.isnan(a) & np.isnan(b)) | (np.isinf(a) & (a == b / divisor))
        with np.errstate(invalid="ignore"):
            near = np.abs(a - b / divisor) <= 2 * tolerance * size
        return bool(np.all(same | near))
    # A non-finite value has no slack: it must be met exactly.
    with np.errstate(invalid="ignore"):
        slack_a = np.where(np.isfinite(a), tolerance * np.maximum(1.0, np.abs(a)), 0.0)
        slack_b = np.where(np.isfinite(b), tolerance * np.maximum(1.0, np.abs(b)), 0.0)
    if prop.relation == Relation.NO_SMALLER:
        return bool(np.all(a >= b - slack_a - slack_b))
    want, slack = {Relation.EQUAL: (a, slack_a), Relation.SUM: (np.asarray(a.sum()), np.asarray(slack_a.sum())),
                   Relation.TIMES_DIVISOR: (a * divisor, slack_a * divisor),
                   Relation.SCALED: (a * divisor, slack_a * divisor)}[prop.relation]
    same = (np.isnan(want) & np.isnan(b)) | (np.isinf(want) & (want == b))
    with np.errstate(invalid="ignore"):
        near = np.abs(want - b) <= slack + slack_b
    return bool(np.all(same | near))


@dataclass
class PropertyRun:
    """One property searched on one binding: how many drawn pairs it computed, and the
    smallest violation (None: kept on every one)."""

    prop: Property
    binding: str
    examples: int
    violation: Violation | None


def _both(given: frozenset[str], needed: frozenset[str] | None) -> frozenset[str]:
    return given if needed is None else given & needed


class PropertyCheck:
    """Checks properties of bindings through one evaluator (one worker per framework)."""

    def __init__(self, evaluator: Evaluator | None = None, extremes: bool = True):
        """``extremes``: draw the edges of each kind's range (subnormals, 1e±30, exact 0 and 1) among
        ordinary values - where relations meet the deviations of single values - or ordinary values
        only, where a broken relation is the relation's own (the project's tests)."""
        self.evaluator = evaluator or Evaluator(oracle_cache=OracleCache(None))
        self.extremes = extremes

    def close(self) -> None:
        self.evaluator.close()

    def _computed(self, case: Case, binding: Binding, dtype: DType, gradient: bool
                  ) -> tuple[np.ndarray | None, str | None]:
        """The binding's value (or gradient) on ``case`` as the worker returned it, and the
        framework's version; no judgement - a property asks about the API, not the oracle."""
        case = case.model_copy(update={"dtypes": [dtype]})
        executed = self.evaluator.execute(Evaluation(case, binding, dtype))
        reply = executed.reply
        part = None if reply is None else (reply.grad if gradient else reply.value)
        return (decoded_array(part.value) if isinstance(part, Computed) else None), executed.version

    def example(self, prop: Property, binding: Binding, dtype: DType, first: Case) -> Violation | None:
        """Check one drawn case; rejects (hypothesis) a draw the property cannot use."""
        second = prop.transform(first)
        if second is None or binding.cannot_express(first) or binding.cannot_express(second):
            reject()
        gradient = prop.relation == Relation.GRAD_OVER_DIVISOR
        divisor = factor(prop, first, dtype)
        oracles = ((evaluate_gradient(first, dtype), evaluate_gradient(second, dtype)) if gradient
                   else (evaluate(first, dtype), evaluate(second, dtype)))
        truth = (oracles[0].as_float(), oracles[1].as_float())
        # Where the definition itself does not keep it (a shift that rounds in the dtype,
        # inf - inf, an infinite mean), the binding is not asked to.
        exact = 64 * MACHINE_EPS["float64"]
        # A gradient is measured at its size, as the judgement does: its largest component, or the
        # reduction's factor (1/D for a mean) where that is larger.
        size = gradient_size(truth[0], oracles[0].scale) if gradient else 1.0
        # (With respect to the input the glue gave the API - rates for log-rates - the
        # API's own gradient may be larger: measured at the larger of the two.)
        if not all(np.isfinite(t).all() for t in truth) or not _kept(prop, *truth, divisor, exact, size):
            reject()
        (a, version), (b, _) = (self._computed(case, binding, dtype, gradient) for case in (first, second))
        if a is None or b is None:
            reject()  # it raised, or has no gradient: not this property's question
        values = (a, b)
        like = binding.computes_like(first, version, dtype)
        tolerance = 2 * POLICY_ULPS[like] * MACHINE_EPS[like]  # two evaluations' errors
        if gradient:
            size = max(size, float(np.abs(a[np.isfinite(a)]).max(initial=0.0)))
        if _kept(prop, values[0], values[1], divisor, tolerance, size):
            return None
        return Violation(prop, binding.id, dtype, first, second, (values[0], values[1]), truth)

    def run(self, prop: Property, binding: Binding, dtypes: Sequence[DType], budget: Budget, seed: int = 0,
            progress: Callable[[int], None] | None = None) -> PropertyRun:
        """Search one property of one binding; the smallest violation hypothesis shrinks to, or None
        (also where the binding's cases cannot be drawn: :func:`conformance.fuzz.search.fuzzable`)."""
        if not applies(prop, binding):
            return PropertyRun(prop, binding.id, 0, None)
        family = families.family(binding.loss)
        first_cases = cases(family, _both(binding.inputs, prop.inputs), _both(binding.targets, prop.targets),
                            _both(binding.reductions, prop.reductions), infinite=False,  # relations of finite losses
                            extremes=self.extremes)
        strategy = st.tuples(first_cases, st.sampled_from(list(dtypes)))
        found: list[Violation] = []
        count = [0]

        def probe(drawn: tuple[Case, DType]) -> None:
            first, dtype = drawn
            if dtype in binding.refuses_dtypes:
                reject()
            violation = self.example(prop, binding, dtype, first)
            count[0] += 1  # computed by the binding (a rejected draw raised before this)
            if progress:
                progress(count[0])
            if violation is not None:
                violation.hits = len(found) + 1  # the last is the smallest: hypothesis shrinks towards it
                found.append(violation)
                raise AssertionError(violation.line())

        examples = budget.examples or 100
        test = settings(max_examples=examples, deadline=None, database=None, print_blob=False,
                        suppress_health_check=list(HealthCheck),
                        phases=[Phase.generate, Phase.shrink])(given(strategy)(probe))
        try:
            hypothesis_seed(seed)(test)()
        except AssertionError:
            pass
        except Exception as exc:  # Unsatisfiable: no draw fits this property and binding
            if type(exc).__name__ != "Unsatisfiable":
                raise
        return PropertyRun(prop, binding.id, count[0], found[-1] if found else None)


def check_properties(binding_ids: Sequence[str] = (), loss: str | None = None,
                     dtypes: Sequence[DType] = ("float64",), budget: Budget = Budget(50), seed: int = 0,
                     ) -> list[Violation]:
    """Every applicable property of every chosen binding; the violations found."""
    check = PropertyCheck()
    violations = []
    try:
        for group in by_framework(chosen_bindings(binding_ids, loss)):
            for binding in group:
                for prop in PROPERTIES:
                    if applies(prop, binding):
                        violation = check.run(prop, binding, dtypes, budget, seed).violation
                        if violation is not None:
                            violations.append(violation)
            check.evaluator.retire(group[0].framework)  # its bindings are done
    finally:
        check.close()
    return violations


def format_violations(violations: Sequence[Violation]) -> str:
    if not violations:
        return "no property broken"
    return "\n".join(v.line() for v in violations)
