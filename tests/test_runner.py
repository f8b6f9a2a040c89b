"""The runner with real frameworks in real worker processes."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import threading
import subprocess
import sys

import pytest

from conformance import frameworks as registry
from conformance.binding import Binding
from conformance.case import Case
from conformance.evaluation import Evaluation, Evaluator
from conformance.loader import load_cases
from conformance.process import THREAD_ENV, WorkerProcess
from conformance.runner import run
from tests.conftest import FRAMEWORK_MODULES, REPO, attached, needs

CASES = """
cases:
  - id: small-logits
    loss: cross_entropy
    input: {logits: [[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]]}
    target: {index: [0, 2]}
    label_smoothing: 0.2
    expected: 0.7816270724
  - id: small-kl
    loss: kl_divergence
    input: {probs: [[0.9, 0.1]]}
    target: {probs: [[0.5, 0.5]]}
    reduction: batchmean
    expected: 0.5108256238
"""
REQUIRED = ["case_id", "loss", "binding", "framework", "framework_version", "dtype", "device", "mode",
            "status", "value", "oracle", "expected", "abs_err", "rel_err", "ulp_err", "recipe",
            "explanation", "message"]


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    (root / "cases.yaml").write_text(CASES)
    frame = run([root / "cases.yaml"], dtypes=("float32", "float64"), out=root / "out")
    return frame, root / "out"


@needs(*FRAMEWORK_MODULES)
def test_every_framework_evaluates_and_writes_jsonl(small_run):
    frame, out = small_run
    assert set(frame["framework"]) >= {"torch", "keras", "keras_jax", "keras_torch", "jax", "numpy"}
    # The only deviation here is declared once per binding: the Keras loss classes' mean,
    # which the PyTorch backend divides in float32 (adapters/keras.py _CLASS_MEAN_IN_FLOAT32).
    known = frame[frame["status"] != "pass"]
    assert set(known["status"]) <= {"known"}, known[["binding", "status", "explanation"]]
    assert known["binding"].str.match(r"keras_torch\.[A-Z]").all() and set(known["dtype"]) <= {"float64"}
    assert known["explanation"].str.contains("casts both operands").all(), known["explanation"]
    assert set(frame["dtype"]) == {"float32", "float64"}
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == len(frame)
    assert all(set(REQUIRED) <= set(row) for row in rows)
    float64 = frame[frame["dtype"] == "float64"]
    # x64 really on in JAX, dtype passed to Keras - whose loss classes on the PyTorch
    # backend still return float32 (a measured downcast, listed in docs/measured-differences.md).
    downcast = float64["binding"].str.match(r"keras_torch\.[A-Z]")
    assert set(float64[~downcast]["value_dtype"]) == {"float64"}
    assert set(float64[downcast]["value_dtype"]) == {"float32"}


def _run_recipe(recipe: str, framework: str) -> str:
    env = {**os.environ, **THREAD_ENV, **registry.framework(framework).env}
    done = subprocess.run([sys.executable, "-c", recipe], capture_output=True, text=True, env=env,
                          timeout=300, cwd="/")
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()


@pytest.mark.parametrize("framework", [pytest.param(f, marks=needs(f)) for f in ("torch", "keras", "jax")])
def test_recipe_pasted_into_python_prints_the_same_value_and_gradient(small_run, framework):
    frame, _ = small_run
    rows = frame[(frame["framework"] == framework) & (frame["dtype"] == "float32") & frame["grad"].notna()]
    row = rows.iloc[0]
    value, grad = _run_recipe(row["recipe"], framework)
    assert float(value) == row["value"]
    assert json.loads(grad) == row["grad"]


def _evaluation(recipe_line: str) -> Evaluation:
    """A torch evaluation whose recipe ends in ``recipe_line`` (a test-only binding)."""
    case = Case.model_validate(dict(id="x", loss="cross_entropy", input={"logits": [[1.0, 2.0]]},
                                    target={"index": [0]}, expected=1.3132616875))
    binding = attached("torch", Binding("torch.crash_test", "cross_entropy", frozenset({"logits"}),
                                        frozenset({"index"}), write=lambda w: w.emit(recipe_line)))
    return Evaluation(case, binding, "float32")


# Long enough for any limit below (a single-threaded 432 GFLOP product), and
# written only with what a recipe may hold: the worker refuses anything else.
SLOW = "loss = torch.mm(torch.ones(6000, 6000), torch.ones(6000, 6000)).sum()"


@needs("torch")
@pytest.mark.cold_workers
def test_a_crash_becomes_an_error_row_and_the_next_evaluation_runs():
    evaluator = Evaluator(timeout=120)
    try:
        worker, hello = evaluator._worker(registry.framework("torch"))
        assert hello.ready
        # The worker dies mid-evaluation, as a segfaulting framework would.
        threading.Timer(3.0, os.kill, (worker._proc.pid, signal.SIGKILL)).start()
        crashed = evaluator.evaluate(_evaluation(SLOW))
        assert crashed.status == "error" and "killed by signal 9" in crashed.explanation
        fine = evaluator.evaluate(_evaluation(
            "loss = torch.nn.functional.cross_entropy(torch.tensor([[1.0, 2.0]]), torch.tensor([0]))"))
        assert fine.status == "pass", fine.explanation
    finally:
        evaluator.close()


@needs("torch")
@pytest.mark.cold_workers
def test_a_hang_past_the_time_limit_becomes_an_error_row():
    evaluator = Evaluator(timeout=2)
    try:
        hung = evaluator.evaluate(_evaluation(SLOW))
        assert hung.status == "error" and "2 s time limit" in hung.explanation
    finally:
        evaluator.close()


@needs("torch")
def test_an_exception_in_the_api_is_an_error_row_with_its_message():
    evaluator = Evaluator()
    try:
        raised = evaluator.evaluate(_evaluation("loss = torch.nn.functional.cross_entropy("
                                                "torch.tensor([[1.0, 2.0]]), torch.tensor([5]))"))
        assert raised.status == "error" and "IndexError" in raised.explanation
        assert "out of bounds" in raised.message
    finally:
        evaluator.close()


@needs("keras")
@pytest.mark.cold_workers
def test_an_installed_framework_that_cannot_start_gives_error_rows_with_the_reason():
    evaluator = Evaluator(extra_env={"KERAS_BACKEND": "no-such-backend"})
    try:
        case = load_cases([REPO / "cases" / "kl_divergence" / "basics.yaml"]).cases[0]
        binding = registry.all_bindings()["keras.KLDivergence"]
        row = evaluator.evaluate(Evaluation(case, binding, "float32"))
        assert row.status == "error" and "keras is installed but failed to start" in row.explanation
        assert "no-such-backend" in row.explanation
    finally:
        evaluator.close()


def test_library_imports_no_framework():
    code = ("import sys, conformance, conformance.frameworks, conformance.pytest_plugin, conformance.evaluation,"
            " conformance.report, conformance.cli; conformance.frameworks.all_bindings(); "
            "print(sorted(m for m in ('torch', 'tensorflow', 'jax', 'keras', 'optax') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.stdout.strip() == "[]", done.stderr


def test_every_framework_declares_the_modules_its_worker_needs():
    # The worker skips a framework lacking one of these, and tests.conftest.needs()
    # skips its tests (tox -e torch): a backend left out would make them errors instead.
    built_in = {name: modules for name, modules in FRAMEWORK_MODULES.items()
                if registry.registrations()[name].distribution == "loss-conformance"}
    assert built_in == {"torch": ("torch",), "keras": ("keras", "tensorflow"),
                                 "keras_jax": ("keras", "jax"), "keras_torch": ("keras", "torch"),
                                 "jax": ("jax", "optax"), "sklearn": ("ml_dtypes", "numpy", "scipy", "sklearn"),
                                 "tensorflow": ("tensorflow",), "numpy": ("ml_dtypes", "numpy", "scipy"),
                        "kornia": ("torch", "kornia"), "monai": ("torch", "monai")}


def test_unknown_binding_lookup_names_the_known_ones():
    with pytest.raises(KeyError, match="torch.cross_entropy"):
        registry.framework("torch").binding("torch.crossentropy")
    assert dataclasses.is_dataclass(registry.framework("jax"))


@needs("torch")
def test_a_bug_in_a_binding_becomes_an_error_row_and_the_rest_still_runs():
    from conformance.runner import _run_serial

    def broken(w):
        raise RuntimeError("bug in a binding's write")

    case = Case.model_validate(dict(id="x", loss="cross_entropy", input={"logits": [[1.0, 2.0]]},
                                    target={"index": [0]}, expected=1.3132616875))
    bad = attached("torch", Binding("torch.broken", "cross_entropy", frozenset({"logits"}), frozenset({"index"}),
                                    broken))
    good = registry.all_bindings()["torch.cross_entropy"]
    rows = []
    evaluator = Evaluator()
    try:
        _run_serial([Evaluation(case, bad, "float32"), Evaluation(case, good, "float32")], evaluator,
                    lambda executed: rows.append(evaluator.judge(executed)))
    finally:
        evaluator.close()
    assert [r.status for r in rows] == ["error", "pass"]
    assert "bug in a binding's write" in rows[0].explanation


@needs("torch")
def test_a_default_device_set_by_one_recipe_does_not_leak_into_the_next():
    # A cuda row's recipe starts with torch.set_default_device("cuda"), which is
    # process-wide; "meta" shows the same on a machine without a GPU.
    worker = WorkerProcess(registry.framework("torch"))
    try:
        assert worker.start().ready
        moved = worker.execute("import torch\ntorch.set_default_device('meta')\n"
                               "loss = torch.ones(1, device='cpu')\n", timeout=60)
        assert moved.ok, moved
        plain = worker.execute("import torch\nloss = torch.ones(1)\n", timeout=60)
        assert plain.ok and plain.value.value == [1.0], plain
    finally:
        worker.close()
