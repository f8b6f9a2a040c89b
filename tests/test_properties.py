"""The metamorphic relations (`conformance fuzz --properties`): our transforms keep them in the
definition, a binding that is right keeps them, and a planted violation is found."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from conformance import families
from conformance import frameworks as registry
from conformance.fuzz.properties import PROPERTIES, PropertyCheck, Relation, _kept, applies, factor, holds_for
from conformance.fuzz.search import Budget
from conformance.fuzz.strategies import KIND_DOMAINS, cases
from conformance.oracle import evaluate, evaluate_gradient
from tests.conftest import REPO

EXACT = 64 * np.finfo(np.float64).eps
DRAWABLE = [f for f in families.families()
            if any(k in KIND_DOMAINS for k in f.inputs) and any(k in KIND_DOMAINS for k in f.targets)]
PAIRS = [(p, f) for p in PROPERTIES for f in DRAWABLE if holds_for(p, f)]
# The sigmoid rounded to float64 perturbs -log(1 - p) by eps p / (1 - p): up to about 1e-9 at the
# logits drawn (|x| <= 16); the binding check rejects such draws, this meta test allows them.
ROUNDED_TRANSFORM = {"logits_are_sigmoid_probs": 1e-8}


@pytest.mark.parametrize("prop,family", PAIRS, ids=[f"{p.name}-{f.name}" for p, f in PAIRS])
def test_the_definition_keeps_every_property(prop, family):
    """Meta: each transform is right - the oracle keeps the relation wherever it is finite."""
    @settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(cases(family))
    def kept(first):
        second = prop.transform(first)
        if second is None:
            return
        gradient = prop.relation == Relation.GRAD_OVER_DIVISOR
        truth = [(evaluate_gradient(c) if gradient else evaluate(c)).as_float() for c in (first, second)]
        if not all(np.isfinite(t).all() for t in truth):
            return
        # A gradient's rounding is relative to its largest component, as the judgement measures it.
        size = max(1.0, float(np.abs(truth[0]).max(initial=0.0))) if gradient else 1.0
        assert _kept(prop, truth[0], truth[1], factor(prop, first, "float64"),
                     ROUNDED_TRANSFORM.get(prop.name, EXACT), size), (first, truth)

    kept()


def test_relations():
    by_name = {p.name: p for p in PROPERTIES}
    a, b = np.array([1.0, 2.0]), np.array(3.0)
    assert _kept(by_name["none_sums_to_sum"], a, b, 1.0, EXACT)
    assert not _kept(by_name["none_sums_to_sum"], a, np.array(3.1), 1.0, EXACT)
    assert _kept(by_name["sum_is_mean_times_count"], np.array(1.5), b, 2.0, EXACT)
    assert _kept(by_name["gibbs"], np.array(2.0), np.array(1.0), 1.0, EXACT)
    assert not _kept(by_name["gibbs"], np.array(1.0), np.array(2.0), 1.0, EXACT)
    assert _kept(by_name["homogeneity"], np.array(1.0), np.array(4.0), 4.0, EXACT)
    assert _kept(by_name["logit_shift"], np.array(np.nan), np.array(np.nan), 1.0, EXACT)
    assert not _kept(by_name["logit_shift"], np.array(np.inf), np.array(1.0), 1.0, EXACT)


@pytest.fixture(scope="module")
def check():
    checker = PropertyCheck()
    yield checker
    checker.close()


def test_a_planted_violation_is_found(check):
    # torch's huber_loss divides a weighted mean by the element count, not the summed weights
    # (documented: cases/regression/huber.yaml, huber-weighted-mean): sum != mean x weighted count.
    prop = next(p for p in PROPERTIES if p.name == "sum_is_mean_times_count")
    violation = check.run(prop, registry.all_bindings()["torch.huber_loss"], ("float64",), Budget(40)).violation
    assert violation is not None and violation.first.option("weight") is not None
    assert "torch.huber_loss breaks sum_is_mean_times_count" in violation.line()


@pytest.mark.parametrize("binding_id", ["numpy.squared_error", "numpy.huber", "numpy.binary_cross_entropy"])
def test_the_reference_keeps_its_properties(check, binding_id):
    binding = registry.all_bindings()[binding_id]
    for prop in PROPERTIES:
        if applies(prop, binding):
            run = check.run(prop, binding, ("float64",), Budget(15))
            assert run.examples > 0 and run.violation is None, (prop.name, run)


KNOWN = yaml.safe_load((REPO / "tests" / "property_known_failures.yaml").read_text())
NOT_DRAWN = KNOWN.pop("not_drawn")


@pytest.mark.parametrize("framework", sorted(registry.names()))
def test_every_binding_keeps_its_properties(framework):
    """Every applicable property of every binding of ``framework``, a few examples each (the
    depth is `conformance fuzz --properties`); what breaks must be listed, with its case."""
    bindings = [b for b in registry.all_bindings().values() if b.framework.name == framework]
    found, unchecked = {}, set()
    check = PropertyCheck(extremes=False)
    try:
        for binding in bindings:
            for prop in PROPERTIES:
                if applies(prop, binding):
                    run = check.run(prop, binding, ("float64",), Budget(3))
                    if run.examples == 0:
                        unchecked.add((binding.id, prop.name))
                    elif run.violation is not None:
                        found[(binding.id, prop.name)] = run.violation.line()
    finally:
        check.close()
    known = {(b, p) for b, props in KNOWN.items() for p in props if b in {x.id for x in bindings}}
    repro = "reproduce: conformance fuzz --properties --binding {} --dtypes float64 --budget 3"
    new = [f"{line}\n  {repro.format(key[0])}" for key, line in found.items() if key not in known]
    stale = [f"{b} {p}: listed in tests/property_known_failures.yaml, no longer broken"
             for b, p in known - set(found)]
    not_drawn = {(b, p) for b, props in NOT_DRAWN.items() for p in props}
    blind = [f"{b} {p}: no example could be drawn" for b, p in unchecked - not_drawn]
    assert not (new or stale or blind), "\n".join(new + stale + blind)
