"""Gradients end to end: real torch workers, planted gradient deviations, and the rules
that judge them (tests of the suite itself, not of a framework).

Each planted binding is a real torch call whose gradient deviates in one known way
while its value may not; the row must say so, and the explanation must name it.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest

from conformance.binding import Binding
from conformance.case import Case
from conformance.compare import Outcome, judge
from conformance.vocabulary import Quantity
from conformance.evaluation import Evaluation, Evaluator, plan
from conformance.oracle import evaluate, evaluate_gradient
from conformance.process import THREAD_ENV
from conformance import families
from conformance import frameworks as registry
from tests.conftest import attached, require

F = "torch.nn.functional"


def make(**fields) -> Case:
    return Case.model_validate({"id": "g", **fields})


def planted(case: Case, *lines: str, readings: dict | None = None) -> Evaluation:
    binding = attached("torch", Binding(
        "torch.planted", case.loss, frozenset({case.input.kind}), frozenset({case.target.kind}),
        write=lambda w: [w.input(), w.target()] and [w.emit(line.format(F=F)) for line in lines],
        grad_readings=readings or {}))
    return Evaluation(case, binding, "float64")


@pytest.fixture(scope="module")
def evaluator():
    require("torch")
    evaluator = Evaluator(timeout=120)
    yield evaluator
    evaluator.close()


def test_a_faithful_row_carries_its_gradient_and_passes(evaluator):
    case = make(loss="cross_entropy", input={"logits": [[1.0, 2.0, 3.0]]}, target={"index": [0]},
                expected=2.407605964)
    row = evaluator.evaluate(Evaluation(case, registry.framework("torch").binding("torch.cross_entropy"),
                                        "float64"))
    assert row.status == "pass" and row.grad_status == "pass", row.grad_explanation
    q = np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum()
    np.testing.assert_allclose(row.grad, [q - [1.0, 0.0, 0.0]], rtol=1e-12)
    assert row.grad_oracle is not None and row.grad_ulp_err is not None


def test_a_deviation_only_the_gradient_shows_is_caught_and_named(evaluator):
    # Renormalising probabilities that already sum to 1 leaves the value exact, but
    # adds 1/sum(p) to every component of the gradient.
    case = make(loss="cross_entropy", input={"probs": [[0.3, 0.7]]}, target={"index": [1]},
                expected=0.3566749439)
    row = evaluator.evaluate(planted(case, "loss = {F}.nll_loss(torch.log(probs / probs.sum(1, keepdim=True)), target)"))
    assert row.status == "pass" and row.grad_status == "fail"
    np.testing.assert_allclose(row.grad, [[1.0, 1.0 - 1 / 0.7]], rtol=1e-12)
    assert "gradient of the reading that renormalises the probabilities" in row.grad_interpretation


def test_zero_gradient_of_a_clip_is_named(evaluator):
    case = make(loss="cross_entropy", input={"probs": [[1.0e-9, 0.6, 0.4]]}, target={"index": [0]},
                expected=20.72326584)
    row = evaluator.evaluate(planted(case, "loss = {F}.nll_loss(torch.log(torch.clamp(probs, 1e-7, 1 - 1e-7)), target)"))
    assert row.grad_status == "fail"
    assert "gradient of the reading that clips probabilities to [1e-07, 1-1e-07]" in row.grad_interpretation


def test_nan_through_log_of_a_zero_is_named(evaluator):
    case = make(loss="cross_entropy", input={"probs": [[0.0, 0.6, 0.4]]}, target={"index": [1]},
                expected=0.5108256238)
    row = evaluator.evaluate(planted(case, "loss = {F}.nll_loss(torch.log(probs), target)"))
    assert row.status == "pass" and row.grad_status == "fail"
    assert row.grad_interpretation.startswith("NaN gradient exactly where the input is 0")


def converting(case: Case, call: str, readings: dict | None = None) -> Evaluation:
    """A planted binding whose glue converts probabilities to log-probabilities (declared)."""
    def write(w):
        log_probs = w.converted("log_probs", f"torch.log({w.input()})")
        w.emit(call.format(F=F, x=log_probs, target=w.target()))
    binding = attached("torch", Binding("torch.planted", case.loss, frozenset({"probs"}),
                                        frozenset({case.target.kind}), write=write,
                                        grad_readings=readings or {}))
    return Evaluation(case, binding, "float64")


def test_a_declared_conversion_is_not_differentiated(evaluator):
    # d log p / dp is inf at p = 0: through the glue, autodiff gives 0 * inf = NaN there.
    # The gradient is taken with respect to what the API receives, log p, and judged
    # against the oracle of the case with log-probability input.
    case = make(loss="cross_entropy", input={"probs": [[0.0, 0.6, 0.4]]}, target={"index": [1]},
                expected=0.5108256238)
    row = evaluator.evaluate(converting(case, "loss = {F}.nll_loss({x}, {target})"))
    assert "log_probs = torch.log(probs)" in row.recipe and "def loss_of(log_probs)" in row.recipe
    assert row.status == "pass" and row.grad_status == "pass", row.grad_explanation
    assert row.grad_input_kind == "log_probs"
    np.testing.assert_array_equal(row.grad, [[0.0, -1.0, 0.0]])


def test_a_declared_reading_makes_the_deviation_known_and_only_that_one(evaluator):
    case = make(loss="cross_entropy", input={"probs": [[0.2, 0.5, 0.3]]}, target={"index": [1]},
                expected=0.6931471806)
    softmax = "loss = {F}.cross_entropy({x}, {target})"
    row = evaluator.evaluate(converting(case, softmax, readings={"log_probs": "softmax"}))
    assert row.grad_status == "known" and "renormalises" in row.grad_explanation
    row = evaluator.evaluate(converting(case, softmax))
    assert row.grad_status == "fail" and "undocumented gradient deviation" in row.grad_explanation


def test_a_failing_gradient_keeps_the_value(evaluator):
    case = make(loss="cross_entropy", input={"logits": [[1.0, 2.0]]}, target={"index": [0]},
                expected=1.313261688)
    # The loss leaves the autograd graph: the value is right, the gradient cannot be taken.
    row = evaluator.evaluate(planted(case, "loss = {F}.cross_entropy(logits.detach(), target)"))
    assert row.status == "pass"
    assert row.grad_status == "error" and "RuntimeError" in row.grad_explanation
    assert row.grad_raised == "RuntimeError" and row.raised is None


def test_as_is_cases_and_frameworks_without_autodiff_take_no_gradient(evaluator):
    case = make(loss="cross_entropy", input={"probs": [[0.2, 0.8]]}, target={"index": [1]},
                expected=0.2231435513, mode="as_is")
    row = evaluator.evaluate(Evaluation(case, registry.framework("torch").binding("torch.cross_entropy"),
                                        "float64"))
    assert row.grad_status is None and "gradient" not in row.recipe
    off = make(loss="cross_entropy", input={"logits": [[1.0, 2.0]]}, target={"index": [0]},
               expected=1.313261688, gradient=False)
    assert "gradient" not in Evaluation(off, registry.framework("torch").binding("torch.cross_entropy"),
                                        "float64").recipe()


# -- the judging rules, on numbers alone ----------------------------------------------
BINDING = Binding("torch.rules", "cross_entropy", frozenset({"logits"}), frozenset({"index"}),
                  write=lambda w: None)
CASE = dict(loss="cross_entropy", input={"logits": [[0.0, 1.0]]}, target={"index": [1]}, expected=0.3132616875)


def _judge(case: Case, grad, exception: str | None = None, dtype="float64"):
    outcome = Outcome(exception=exception) if exception else Outcome(value=np.asarray(grad, float))
    return judge(Quantity.GRAD, case, BINDING, dtype, outcome, evaluate_gradient(case, dtype), None,
                 loss=evaluate(case, dtype), reading=lambda name: evaluate_gradient(case, dtype, name))


def test_rules_pass_fail_and_error():
    case = make(**CASE)
    exact = evaluate_gradient(case).as_float()
    assert _judge(case, exact).status == "pass"
    assert _judge(case, exact * 1.01).status == "fail"
    assert _judge(case, None, exception="RuntimeError").status == "error"


def test_rules_documented_gradient_known_and_stale():
    case = make(**CASE, expect={"torch.rules": {"grad": [[0.0, 0.0]], "reason": "clipped", "category": "clipping"}})
    assert _judge(case, [[0.0, 0.0]]).status == "known"
    assert _judge(case, [[0.1, 0.0]]).status == "fail"
    stale = _judge(case, evaluate_gradient(case).as_float())
    assert stale.status == "fail" and "stale" in stale.explanation


def test_rules_within_documents_a_bounded_precision_loss_in_ulps_of_the_dtype():
    entry = {"grad_within": {"ulps": 8}, "reason": "half precision", "category": "precision"}
    case = make(**CASE, expect={"torch.rules": entry})
    exact = evaluate_gradient(case, "bfloat16").as_float()
    # Size 1 (the mean's 1/D): the policy allows 2 * 2**-7 plus its rtol, 8 ULP four times that.
    assert _judge(case, exact * 1.2, dtype="bfloat16").status == "known"
    assert _judge(case, exact * 1.5, dtype="bfloat16").status == "fail"


def test_a_precision_bound_is_stated_in_the_policy_s_terms():
    from pydantic import ValidationError

    from conformance.case import Bound
    from conformance.tolerance import bound_tolerance, default_tolerance

    assert bound_tolerance(Bound(ulps=2), "float16") == default_tolerance("float16")
    assert bound_tolerance(Bound(like="float32"), "float64") == default_tolerance("float32")
    with pytest.raises(ValidationError, match="give `ulps`"):
        Bound.model_validate({"ulps": 2, "like": "float32"})


def test_rules_a_loss_that_is_not_finite_has_no_gradient_to_judge():
    case = make(loss="cross_entropy", input={"probs": [[0.0, 1.0]]}, target={"index": [0]}, expected=math.inf)
    assert _judge(case, [[-1.0, 0.0]]).status == "skipped"


def test_gradient_atol_scales_with_the_mean_so_small_gradients_are_not_vacuous():
    logits = np.linspace(-1, 1, 400).reshape(100, 4).tolist()
    case = make(loss="cross_entropy", input={"logits": logits}, target={"index": [1] * 100},
                expected=float(evaluate(make(loss="cross_entropy", input={"logits": logits},
                                             target={"index": [1] * 100}, expected=0.0)).as_float()))
    exact = evaluate_gradient(case, "float32").as_float()
    # Every component is below 1e-2; an error of 2e-6 is tiny next to atol = 1e-5, but
    # it is 20% of the smallest components and far outside the scaled tolerance.
    assert np.abs(exact).max() < 1e-2
    assert _judge(case, exact + 2e-6, dtype="float32").status == "fail"


def test_declared_dtype_refusals_become_skipped_rows_with_the_reason():
    case = make(loss="cross_entropy", input={"probs": [[0.2, 0.8]]}, target={"index": [1]}, expected=0.2231435513)
    evaluations, skipped = plan([case], [registry.framework("sklearn")], ("bfloat16", "float32"))
    assert [e.dtype for e in evaluations] == ["float32"]
    assert [(r.binding, r.dtype, r.status) for r in skipped] == [("sklearn.log_loss", "bfloat16", "skipped")]
    assert "bfloat16" in skipped[0].explanation


# -- the device axis -------------------------------------------------------------------
def test_an_accelerator_row_starts_its_recipe_on_that_device_and_none_run_without_one(evaluator):
    case = make(loss="cross_entropy", input={"logits": [[1.0, 2.0]]}, target={"index": [0]},
                expected=1.313261688)
    on_cpu = Evaluation(case, registry.framework("torch").binding("torch.cross_entropy"), "float32")
    on_cuda = Evaluation(case, on_cpu.binding, "float32", device="cuda")
    assert 'torch.set_default_device("cuda")' not in on_cpu.recipe()
    assert on_cuda.recipe().splitlines()[1] == 'torch.set_default_device("cuda")'
    assert on_cuda.name.endswith("-float32-cuda]")
    # The axis holds cuda where torch itself (asked in a process of its own) sees a GPU,
    # nothing without one; each row says where it ran.
    asked = subprocess.run([sys.executable, "-c", "import torch; print(torch.cuda.is_available())"],
                           capture_output=True, text=True, timeout=300, cwd="/",
                           env={**os.environ, **THREAD_ENV, **registry.framework("torch").env})
    assert asked.stdout.strip() in ("True", "False"), asked.stderr[-2000:]
    gpu = asked.stdout.strip() == "True"
    assert [e.device for e in evaluator.on_accelerators(on_cpu)] == (["cuda"] if gpu else [])
    assert evaluator.evaluate(on_cpu).device == "cpu"
    if gpu:
        row = evaluator.evaluate(on_cuda)
        assert (row.device, row.status) == ("cuda", "pass"), row.explanation


def test_every_declared_gradient_reading_exists_and_fits_its_input_kind():
    for binding in registry.all_bindings().values():
        for kind, reading in binding.grad_readings.items():
            assert reading in families.family(binding.loss).gradient_readings, (binding.id, reading)
            # logits too: a probability API (Keras' Dice) is given softmax(logits) by the glue,
            # and its own constant then shows in the logits' gradient as well.
            assert kind in binding.inputs, (binding.id, kind)
