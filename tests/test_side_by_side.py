"""`conformance compare`: two bindings side by side, through the real workers."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from conformance.side_by_side import UnknownBinding, compare_bindings, format_comparison, resolve
from tests.conftest import REPO

CASES = """
cases:
  - id: zero-prob-on-label-one
    loss: binary_cross_entropy
    input: {probs: [0.0, 0.5]}
    target: {probs: [1.0, 0.0]}
    reduction: none
    expected: [inf, 0.6931471805599453]
  - id: ordinary
    loss: binary_cross_entropy
    input: {probs: [0.25, 0.5]}
    target: {probs: [1.0, 0.0]}
    expected: 1.0397207708399179
"""


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    path = tmp_path_factory.mktemp("cases") / "bce.yaml"
    path.write_text(CASES)
    return compare_bindings("torch.binary_cross_entropy", "numpy.binary_cross_entropy", cases=[path],
                            dtypes=("float32", "float64"))


def test_one_row_per_case_and_dtype_disagreements_first(pairs):
    assert sorted(zip(pairs.case_id, pairs.dtype)) == [
        ("ordinary", "float32"), ("ordinary", "float64"),
        ("zero-prob-on-label-one", "float32"), ("zero-prob-on-label-one", "float64")]
    assert list(pairs.agree) == [False, False, True, True]


def test_a_disagreement_has_both_values_and_each_sides_why(pairs):
    row = pairs[(pairs.case_id == "zero-prob-on-label-one") & (pairs.dtype == "float64")].iloc[0]
    # torch clamps its log at -100: a certain wrong answer costs 100, not inf.
    assert row.value_a[0] == 100.0 and row.value_b[0] == "inf"
    assert math.isinf(row.apart_eps)
    assert "-100" in row.why_a and row.why_b == "agrees with the definition"


def test_agreeing_rows_are_within_the_policy(pairs):
    ordinary = pairs[pairs.case_id == "ordinary"]
    assert (ordinary.apart_eps <= 4).all() and ordinary.grad_agree.all()


def test_the_text_names_the_cause(pairs):
    text = format_comparison(pairs, "torch.binary_cross_entropy", "numpy.binary_cross_entropy")
    assert text.startswith("torch.binary_cross_entropy vs numpy.binary_cross_entropy: 4 configurations")
    assert "2 agree, 2 disagree" in text and "zero-prob-on-label-one" in text and "-100" in text


def test_unknown_binding_names_the_nearest():
    with pytest.raises(UnknownBinding, match="did you mean torch.cross_entropy"):
        resolve("torch.crossentropy")


def test_bindings_of_different_losses_are_refused():
    with pytest.raises(UnknownBinding, match="nothing to compare"):
        compare_bindings("torch.cross_entropy", "numpy.binary_cross_entropy", cases=[])


def test_the_command_exits_1_on_a_disagreement(tmp_path):
    path = tmp_path / "bce.yaml"
    path.write_text(CASES)
    done = subprocess.run([sys.executable, "-m", "conformance", "compare", "torch.binary_cross_entropy",
                           "numpy.binary_cross_entropy", "--cases", str(path), "--dtypes", "float64",
                           "--csv", str(tmp_path / "pairs.csv")], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 1, done.stderr
    assert "1 agree, 1 disagree" in done.stdout and (tmp_path / "pairs.csv").exists()
    unknown = subprocess.run([sys.executable, "-m", "conformance", "compare", "torch.nope", "numpy.ce"],
                             capture_output=True, text=True, cwd=REPO)
    assert unknown.returncode == 2 and "no installed binding 'torch.nope'" in unknown.stderr
