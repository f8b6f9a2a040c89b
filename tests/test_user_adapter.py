"""Your own loss under test: ``--adapter module:function --as loss[input,target]``.

The worked example is the wrapper quoted in the seed post
(``examples/user_loss/seed_losses.py``): it turns one-hot targets into class
indices with ``target.max(dim=0)``, over the batch axis. The suite must catch it
from the command line, from pytest and from Python, and say what it did.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from conformance.runner import run
from conformance.evaluation import Evaluation
from conformance.loader import load_cases
from conformance.recipe_guard import allowed_imports, check_recipe
from conformance.user_adapter import AdapterSpecError, UserAdapter, coverage
from tests.conftest import REPO, needs

SEED = "examples.user_loss.seed_losses:cross_entropy_one_hot"
FIXED = "examples.user_loss.seed_losses:cross_entropy_one_hot_fixed"
CASES = REPO / "cases" / "cross_entropy" / "basics.yaml"
WRONG_AXIS = "turns the one-hot target into class indices along axis 0"


@pytest.mark.parametrize("function,declared,on,words", [
    ("mypkg.losses", "cross_entropy[logits,index]", "torch", "write module:function"),
    ("mypkg.losses:_private", "cross_entropy[logits,index]", "torch", "write module:function"),
    ("os:system; rm", "cross_entropy[logits,index]", "torch", "write module:function"),
    ("mypkg:f", "cross_entropy(logits)", "torch", "write loss[input,target]"),
    ("mypkg:f", "cross_entrop[logits,index]", "torch", "did you mean 'cross_entropy'?"),
    ("mypkg:f", "cross_entropy[probs,log_probs]", "torch", "takes target index | probs, not 'log_probs'"),
    ("mypkg:f", "binary_cross_entropy[logits,probs,batchmean]", "torch", "reductions are"),
    ("mypkg:f", "cross_entropy[logits,index]", "paddle", "--on 'paddle'"),
])
def test_a_wrong_spec_says_what_to_write(function, declared, on, words):
    with pytest.raises(AdapterSpecError, match=None) as raised:
        UserAdapter.parse(function, declared, on)
    assert words in str(raised.value)


def test_a_loss_name_with_digits_is_a_name():
    # [a-z_]+ refused smooth_l1 with "write loss[input,target]", the form given.
    adapter = UserAdapter.parse("mypkg:f", "smooth_l1[predictions, values, sum]")
    assert (adapter.loss, adapter.input, adapter.target, adapter.reduction) == \
        ("smooth_l1", "predictions", "values", "sum")


def test_the_cases_an_adapter_cannot_run_are_counted_with_why():
    loaded = load_cases([REPO / "cases" / "regression" / "smooth_l1.yaml", REPO / "cases" / "regression" / "huber.yaml"])
    smooth = [c for c in loaded.cases if c.loss == "smooth_l1"]
    # Every shipped smooth L1 case sets beta: without the option declared, none runs.
    assert coverage(UserAdapter.parse("mypkg:f", "smooth_l1[predictions,values]"), loaded.cases).runs == 0
    found = coverage(UserAdapter.parse("mypkg:f", "smooth_l1[predictions,values](beta)"), loaded.cases)
    plain = [c for c in smooth if c.reduction == "mean" and set(c.options_set()) <= {"beta"} and c.mode == "faithful"]
    assert found.loaded == len(loaded.cases) and found.runs == len(plain) > 0
    assert sum(n for _, n in found.not_run) == found.loaded - found.runs
    huber = sum(c.loss == "huber" for c in loaded.cases)
    assert (f"another loss than smooth_l1 (huber {huber})", huber) in found.not_run
    assert ("your function has no equivalent of `weight`", 1) in found.not_run, found.not_run


def test_a_declared_option_is_passed_as_a_keyword_and_an_array_in_the_run_dtype():
    loaded = load_cases([REPO / "cases" / "regression" / "smooth_l1.yaml"])
    weighted = next(c for c in loaded.cases if c.option("weight") is not None)
    framework = UserAdapter.parse("mypkg:f", "smooth_l1[predictions,values](beta,weight)").framework()
    recipe = Evaluation(weighted, framework.bindings[0], "float32").recipe()
    assert "loss = user_module.f(predictions, target, beta=1.0, weight=weight)" in recipe
    assert "weight = torch.tensor(" in recipe and "dtype=torch.float32" in recipe


@pytest.mark.parametrize("declared,words", [
    ("smooth_l1[predictions,values](betta)", "options are weight | beta, not 'betta' (did you mean 'beta'?)"),
    ("smooth_l1[predictions,values](beta;import os)", "write loss[input,target]"),
    # A choice, not a number: every case has it (its default), and none could pass it.
    ("dice[probs,probs](overlap_over)", "dice's overlap_over is a choice"),
])
def test_a_wrong_option_says_what_to_write(declared, words):
    with pytest.raises(AdapterSpecError) as raised:
        UserAdapter.parse("mypkg:f", declared)
    assert words in str(raised.value)


def test_an_adapter_that_runs_no_case_is_a_usage_error(tmp_path):
    # It printed an empty table, "OK: no failures" and exited 0.
    done = subprocess.run([sys.executable, "-m", "conformance", "run", "--cases", str(CASES), "--adapter", SEED,
                           "--as", "smooth_l1[predictions,values]", "--out", str(tmp_path)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "runs 0 of the" in done.stderr and "another loss than smooth_l1 (cross_entropy" in done.stderr
    assert "conformance list cases --loss smooth_l1" in done.stderr and "OK" not in done.stdout


def test_an_adapter_that_runs_no_case_beside_named_frameworks_lets_them_run(tmp_path):
    done = subprocess.run([sys.executable, "-m", "conformance", "run", "--cases", str(CASES), "--adapter", SEED,
                           "--as", "smooth_l1[predictions,values]", "--frameworks", "numpy", "--dtypes", "float64",
                           "--out", str(tmp_path)], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert "runs 0 of the" in done.stderr and done.returncode == 0, done.stdout + done.stderr
    assert "numpy" in done.stdout


def test_the_reference_round_trips_and_is_data_not_code():
    adapter = UserAdapter.parse(SEED, "cross_entropy[logits,probs]")
    framework = adapter.framework()
    assert framework.reference.startswith("adapter:{") and framework.name == "user"
    assert framework.imports[-1] == "import examples.user_loss.seed_losses as user_module"
    assert [b.id for b in framework.bindings] == ["user.examples.user_loss.seed_losses.cross_entropy_one_hot"]


@needs("torch")
def test_python_catches_the_seed_wrapper_and_explains_it():
    frame = run([CASES], adapter=UserAdapter.parse(SEED, "cross_entropy[logits,probs]"), out=None,
                dtypes=("float64",))
    assert set(frame["framework"]) == {"user"}  # with an adapter, no other framework by default
    by_case = frame.set_index("case_id")
    square = by_case.loc["ce-logits-onehot-square-batch"]
    assert square["status"] == "fail" and WRONG_AXIS in square["interpretation"]
    assert square["readings"] == [{"target_argmax_axis": 0}]
    assert WRONG_AXIS in square["explanation"]
    # N != C: torch refuses the labels of the wrong length.
    assert by_case.loc["ce-logits-onehot", "status"] == "error"
    assert "Expected input batch_size (2) to match target batch_size (3)" in by_case.loc["ce-logits-onehot",
                                                                                          "explanation"]
    # A 1-d input has one axis: there the wrapper is right.
    assert by_case.loc["ce-seed-1d-onehot-logits", "status"] == "pass"


@needs("torch")
def test_the_fixed_wrapper_passes_its_one_hot_cases():
    frame = run([CASES], adapter=UserAdapter.parse(FIXED, "cross_entropy[logits,probs]"), out=None,
                dtypes=("float32", "float64"))
    one_hot = frame[frame["case_id"].isin(["ce-logits-onehot", "ce-logits-onehot-square-batch"])]
    assert len(one_hot) == 4 and (one_hot["status"] == "pass").all() and (one_hot["grad_status"] == "pass").all()


@needs("torch")
def test_the_command_line_runs_the_adapter(tmp_path):
    done = subprocess.run([sys.executable, "-m", "conformance", "run", "--cases", str(CASES), "--adapter", SEED,
                           "--as", "cross_entropy[logits,probs]", "--dtypes", "float32", "--out", str(tmp_path)],
                          capture_output=True, text=True, cwd=REPO, timeout=600)
    assert done.returncode == 1, done.stderr[-2000:]
    assert f"FAIL   ce-logits-onehot-square-batch[user.{SEED.replace(':', '.')}-float32]" in done.stdout
    assert WRONG_AXIS in done.stdout


@needs("torch")
def test_a_module_that_does_not_import_is_an_error_not_a_skip():
    frame = run([CASES], adapter=UserAdapter.parse("no_such_package_xyz.losses:f", "cross_entropy[logits,probs]"),
                out=None, dtypes=("float32",))
    assert len(frame) and (frame["status"] == "error").all()
    assert "ModuleNotFoundError" in frame["explanation"].iloc[0]


def test_an_adapter_built_by_hand_is_checked_too():
    with pytest.raises(AdapterSpecError):
        UserAdapter("os;import subprocess", "getoutput", "cross_entropy", "logits", "index")


def test_the_command_line_refuses_half_a_spec(tmp_path):
    done = subprocess.run([sys.executable, "-m", "conformance", "run", "--adapter", SEED, "--out", str(tmp_path)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 2 and "--adapter and --as go together" in done.stderr


@needs("torch")
def test_pytest_runs_the_adapter(pytester, monkeypatch):
    # The function's module must be importable where the worker starts: the user's project.
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    pytester.syspathinsert(REPO)
    pytester.makefile(".yaml", cases=CASES.read_text(encoding="utf-8"))
    pytester.makeini("[pytest]\nconformance_cases = .\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--conformance-adapter", SEED,
                                "--conformance-adapter-as", "cross_entropy[logits,probs]",
                                "--conformance-dtypes", "float64", "-q")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 3 and "user.examples.user_loss.seed_losses.cross_entropy_one_hot" \
        in result.stdout.str()
    result.stdout.fnmatch_lines([f"*{WRONG_AXIS}*"])


@pytest.mark.parametrize("declared", [
    "smooth_l1[predictions,values](beta,weight)",
    "cross_entropy[logits,index](weight,ignore_index,label_smoothing)",
    "triplet_margin[anchors,positives](negatives,margin,p,swap)",
    "binary_focal[logits,probs](gamma,alpha,label_smoothing)",
    "gaussian_nll[means,values](variance,full)",
])
def test_option_values_from_case_files_reach_recipes_only_as_numbers_the_guard_accepts(declared):
    # The values come from case files: every recipe with them must pass the worker's AST allow-list.
    adapter = UserAdapter.parse("mypkg.losses:f", declared)
    framework = adapter.framework()
    binding = framework.bindings[0]
    cases = [c for c in load_cases([REPO / "cases"]).cases if binding.cannot_express(c) is None]
    passed = [c for c in cases if any(c.option(o) is not None for o in adapter.options)]
    assert passed, "no shipped case gives one of these options"
    modules = allowed_imports(framework.recipe_lines)
    for case in passed:
        for dtype in ("float32", "bfloat16"):
            check_recipe(Evaluation(case, binding, dtype).recipe(), modules)
