"""The recipe allow-list: every recipe the writer produces passes, nothing else runs."""

from __future__ import annotations

import dataclasses

import pytest

from conformance import frameworks as registry
from conformance.binding import Binding
from conformance.case import Case
from conformance.evaluation import Evaluation, Evaluator, plan
from conformance.loader import load_cases
from conformance.recipe_guard import RecipeRefused, allowed_imports, check_recipe
from tests.conftest import REPO, attached, needs

TORCH = allowed_imports(registry.framework("torch").recipe_lines)
VALID = "import torch\n\nlogits = torch.tensor([[1.0, 2.0]], dtype=torch.float32)\n"

# snippet appended to a valid recipe -> words of the refusal
REFUSED = [
    ("import os", "imports 'os'"),
    ("import subprocess", "imports 'subprocess'"),
    ("import torch.utils.cpp_extension", "imports 'torch.utils.cpp_extension'"),
    ("from os import system", "ImportFrom"),
    ("__import__('os')", "'__import__'"),
    ("eval('1')", "'eval'"),
    ("exec('x = 1')", "'exec'"),
    ("open('/etc/passwd')", "'open'"),
    ("getattr(torch, 'load')", "'getattr'"),
    ("globals()", "'globals'"),
    ("torch.load('model.pt')", "'load'"),
    ("torch.hub", "'hub'"),
    ("torch.tensor.__class__", "'__class__'"),
    ("logits._grad_fn", "'_grad_fn'"),
    ("torch.ops.load_library('x.so')", "'load_library'"),
    ("x = [c for c in (1, 2)]", "ListComp"),
    ("x = f'{logits}'", "JoinedStr"),
    ("x = 'rm -rf /'", "literal"),
    ("x = b'bytes'", "literal"),
    ("x = 1j", "literal"),
    ("while True:\n    pass", "While"),
    ("try:\n    pass\nexcept Exception:\n    pass", "Try"),
    ("del logits", "Delete"),
    ("global loss", "Global"),
    ("x = lambda a=print: a", "default or variable arguments"),
    ("@torch.no_grad\ndef f():\n    return 1", "decorations"),
    ("class C:\n    pass", "ClassDef"),
    ("loss = undefined_name", "'undefined_name'"),
    ("loss = (", "not valid Python"),
    ("exec = print", "rebinds the name 'exec'"),
    ("def loss_of(open):\n    return open", "rebinds the name 'open'"),
    ("loss = later\nlater = 1", "'later'"),
    ("loss = torch.package", "'package'"),
    ("loss = torch.serialization", "'serialization'"),
    ("loss = logits is not None", "IsNot"),
]


@pytest.mark.parametrize("snippet,words", REFUSED, ids=[r[0].split("\n")[0] for r in REFUSED])
def test_anything_the_writer_does_not_produce_is_refused(snippet, words):
    with pytest.raises(RecipeRefused) as refused:
        check_recipe(VALID + snippet + "\n", TORCH)
    assert words in str(refused.value)


def test_every_recipe_of_the_suite_passes_on_every_framework_dtype_and_device():
    loaded = load_cases([REPO / "cases"])
    evaluations, _ = plan(loaded.cases, registry.frameworks(), ("float16", "bfloat16", "float32", "float64"))
    on_devices = [dataclasses.replace(e, device=d) for e in evaluations for d in e.framework.accelerators]
    assert len(evaluations) > 8000
    for evaluation in evaluations + on_devices:
        check_recipe(evaluation.recipe(), allowed_imports(evaluation.framework.recipe_lines))


def test_imports_are_the_framework_s_own():
    assert allowed_imports(registry.framework("jax").recipe_lines) >= {"jax", "jax.numpy", "optax", "numpy"}
    assert "torch" not in allowed_imports(registry.framework("jax").recipe_lines)
    assert "torch" in allowed_imports(registry.framework("keras_torch").recipe_lines)


@needs("torch")
def test_a_writer_bug_that_emits_code_is_an_error_row_and_runs_nothing(tmp_path):
    # The second line of defence, end to end: a binding whose writer is wrong.
    canary = tmp_path / "canary"
    case = Case.model_validate(dict(id="x", loss="cross_entropy", input={"logits": [[1.0, 2.0]]},
                                    target={"index": [0]}, expected=1.3132616875))
    line = f"loss = __import__('os').system('touch {canary}')"
    binding = attached("torch", Binding("torch.bad_writer", "cross_entropy", frozenset({"logits"}),
                                        frozenset({"index"}), write=lambda w: (w.input(), w.emit(line))))
    evaluator = Evaluator(timeout=120)
    try:
        row = evaluator.evaluate(Evaluation(case, binding, "float32"))
    finally:
        evaluator.close()
    assert row.status == "error"
    assert "refused to run this recipe" in row.explanation and "'system'" in row.explanation
    assert not canary.exists()


def test_a_recipe_runs_with_only_the_builtins_it_may_name():
    from conformance.recipe_guard import restricted_builtins

    assert sorted(restricted_builtins()) == ["__import__", "float", "print"]
