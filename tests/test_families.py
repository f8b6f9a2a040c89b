"""A loss family is one module: a family defined here, in the test, runs end to end.

The family (mean squared error, under a test-only name) is registered from this
file; its binding is a real ``torch.nn.functional.mse_loss`` call run by the real
torch worker. Nothing under ``conformance/`` knows it: the case schema, the
oracle's value and gradient, the interpretation search and the judgement all
come from the declaration below.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conformance import families
from conformance.binding import Binding
from conformance.evaluation import Evaluation, Evaluator, plan
from conformance.exact import mp_array
from conformance.families import Family, Reading, reduce_exact
from conformance.loader import load_cases
from conformance.oracle import evaluate, evaluate_gradient
from conformance.vocabulary import Elements
from tests.conftest import REPO, attached, require


@dataclass(frozen=True)
class Halving(Reading):
    """optax's ``l2_loss`` is half of everyone else's squared error."""

    half: bool = False

    def describe(self, case: Any) -> str:
        return "halves the squared error (1/2 (x - y)^2)"


class SquaredErrorForTest(Family):
    name = "squared_error_for_test"
    definition = "(x - y)^2 per element; mean over every element"
    inputs = ("predictions",)
    targets = {"values": Elements.FLOAT}

    def loss(self, case: Any, dtype: Any, x: np.ndarray) -> Any:
        y = mp_array(case.target.values, dtype)
        losses = np.empty(x.shape, dtype=object)
        for index in np.ndindex(x.shape):
            losses[index] = (x[index] - y[index]) ** 2
        return reduce_exact(losses, case.reduction)

    def readings(self, case: Any, dtype: Any) -> list[Reading]:
        return [Halving(half=True)]

    def variant(self, case: Any, dtype: Any, reading: Halving, inputs: np.ndarray | None = None) -> np.ndarray:
        x = case.input.values if inputs is None else inputs
        losses = (x - case.target.values) ** 2 * (0.5 if reading.half else 1.0)
        return losses if case.reduction == "none" else np.asarray(losses.sum() if case.reduction == "sum"
                                                                  else losses.mean())


CASES = """
cases:
  - id: mse-small
    loss: squared_error_for_test
    input: {predictions: [[1.0, 2.0], [0.5, -1.0]]}
    target: {values: [[0.0, 2.5], [0.5, 1.0]]}
    expected: 1.3125
  - id: mse-sum
    loss: squared_error_for_test
    reduction: sum
    input: {predictions: [3.0, -1.0]}
    target: {values: [1.0, 1.0]}
    expected: 8.0
"""


def _mse(function: str = "mse_loss", factor: str = "") -> Binding:
    def write(w):
        w.emit(f"loss = {factor}torch.nn.functional.{function}({w.input()}, {w.target()}, "
               f"reduction={w.case.reduction!r})")
    return attached("torch", Binding(f"torch.{function}_for_test", "squared_error_for_test",
                                     frozenset({"predictions"}), frozenset({"values"}), write))


@pytest.fixture
def family():
    registered = families.register(SquaredErrorForTest())
    yield registered
    families.unregister(registered.name)


@pytest.fixture
def cases(family, write_cases):
    loaded = load_cases([write_cases(CASES)])
    assert not loaded.errors, loaded.errors
    return {case.id: case for case in loaded.cases}


def test_the_family_brings_its_schema(family, write_cases):
    bad = write_cases(CASES.replace("predictions: [3.0, -1.0]", "logits: [3.0, -1.0]"), "bad.yaml")
    loaded = load_cases([bad])
    (error,) = loaded.errors
    assert error.field == "input" and "squared_error_for_test takes input predictions, not 'logits'" in error.message
    weighted = write_cases(CASES.replace("reduction: sum", "reduction: sum\n    weight: [1.0]"), "w.yaml")
    (error,) = load_cases([weighted]).errors
    assert error.field == "weight" and "squared_error_for_test has no option `weight`" in error.message


def test_the_oracle_value_and_gradient_follow_from_the_definition(cases):
    case = cases["mse-small"]
    assert float(evaluate(case).as_float()) == 1.3125
    grad = evaluate_gradient(case).as_float()  # numerical, at 50 digits, from Family.loss
    x, y = case.input.values, case.target.values
    np.testing.assert_allclose(grad, 2 * (x - y) / x.size, rtol=1e-15)


def test_it_runs_end_to_end_through_a_real_torch_worker(cases):
    require("torch")
    evaluator = Evaluator()
    try:
        for case in cases.values():
            row = evaluator.evaluate(Evaluation(case, _mse(), "float64"))
            assert (row.status, row.grad_status) == ("pass", "pass"), (row.explanation, row.grad_explanation)
        halved = evaluator.evaluate(Evaluation(cases["mse-small"], _mse(factor="0.5 * "), "float32"))
    finally:
        evaluator.close()
    assert halved.status == "fail" and halved.readings == [{"half": True}]
    assert "measured: halves the squared error" in halved.explanation
    assert halved.grad_status == "fail"


def test_a_framework_with_no_binding_for_the_family_has_no_rows(cases):
    torch_without = attached("torch", _mse()).framework
    evaluations, skipped = plan(cases.values(), [torch_without], ("float32",))
    assert [e.binding.id for e in evaluations] == ["torch.mse_loss_for_test"] * 2 and not skipped


FAMILY_NAMES = ("cross_entropy", "binary_cross_entropy", "kl_divergence")
# The generic machinery: none of it may branch on a family (compare with one, key by one).
GENERIC = sorted(p for p in (REPO / "conformance").rglob("*.py") if "families" not in p.parts)


@pytest.mark.parametrize("path", GENERIC, ids=lambda p: str(p.relative_to(REPO)))
def test_no_generic_module_names_a_family(path: Path):
    """No string that is a family's name, anywhere but in docstrings (a help text's example
    ``cross_entropy[logits,index]`` is text, not a name)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    named = [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and id(node) not in docstrings
             and node.value in FAMILY_NAMES]
    assert not named, f"{path.name} names loss families {named}: declare it in the family module"


def test_the_family_name_check_sees_a_name():
    tree = ast.parse('def f(case):\n    return case.loss in ("cross_entropy",) or family("kl_divergence")\n')
    assert sorted(n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in FAMILY_NAMES) \
        == ["cross_entropy", "kl_divergence"]
