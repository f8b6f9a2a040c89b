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
from conformance.user_adapter import AdapterSpecError, UserAdapter
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
