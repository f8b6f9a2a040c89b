"""Nothing passes silently: broken frameworks, empty case sets, wrong expectations, time limits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.binding import Framework
from conformance.worker import _hello
from tests.conftest import GOOD_CASE_FILE, REPO, needs

GOOD = GOOD_CASE_FILE


def _conformance(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "conformance", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600, env={**os.environ, **(env or {})})


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def _shadowing_sklearn(tmp_path: Path, body: str) -> dict[str, str]:
    """An installed-but-broken scikit-learn: a package of that name that fails on import.
    Only the sklearn worker imports it; the suite's own process never does."""
    package = tmp_path / "shadow" / "sklearn"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(body, encoding="utf-8")
    return {"PYTHONPATH": os.pathsep.join([str(tmp_path / "shadow"), str(REPO)])}


def test_a_framework_that_is_not_installed_is_skipped_not_failed():
    framework = Framework(name="absent", distributions=("absent",), imports=("import absent_module_xyz",),
                          float_array="", index_array="", show="", bindings=(), worker_module="absent")
    hello, module = _hello(framework)
    assert (hello.state, hello.reason) == ("missing", "absent is not installed (no module absent_module_xyz)")
    assert module is None


@pytest.mark.parametrize("body,words", [
    ("raise ImportError('libsklearn.so: cannot open shared object file')",
     "sklearn is installed but failed to start: ImportError: libsklearn.so"),
    ("import os\nos._exit(3)", "exited with status 3"),
    ("import time\ntime.sleep(600)", "no answer within the 3 s time limit"),
], ids=["raises", "exits", "hangs"])
@pytest.mark.cold_workers
def test_an_installed_framework_that_cannot_start_fails_the_run(tmp_path, body, words):
    (tmp_path / "cases.yaml").write_text(GOOD, encoding="utf-8")
    done = _conformance("run", "--cases", "cases.yaml", "--frameworks", "sklearn", "--dtypes", "float64",
                        "--startup-timeout", "3", "--out", "out", cwd=tmp_path,
                        env=_shadowing_sklearn(tmp_path, body))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    (row,) = _rows(tmp_path / "out")
    assert row["status"] == "error" and words in row["explanation"], row["explanation"]


@pytest.mark.parametrize("given", [["empty"], ["cases/mistyped.yaml"], ["broken"]])
def test_run_without_a_valid_case_says_so_and_exits_2(tmp_path, given):
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "bad.yaml").write_text("cases: [\n", encoding="utf-8")
    done = _conformance("run", "--cases", *given, "--frameworks", "numpy", "--out", "out", cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "no valid case in" in done.stderr or "no case files in" in done.stderr
    assert not (tmp_path / "out").exists()


def test_validate_catches_a_misspelled_binding_and_a_wrong_expected_without_any_framework(tmp_path):
    (tmp_path / "cases.yaml").write_text(GOOD + """
  - id: typo
    loss: cross_entropy
    input: {logits: [[1.0, 2.0]]}
    target: {index: [0]}
    expected: 1.313261687518
    expect:
      torch.CrossEntropyLos: {value: 1.0, reason: a typo}
  - id: wrong
    loss: cross_entropy
    input: {logits: [[1.0, 2.0]]}
    target: {index: [0]}
    expected: 1.3
""", encoding="utf-8")
    code = ("import sys\nfrom conformance.cli import main\nrc = main(['validate', 'cases.yaml'])\n"
            "print(sorted(m for m in ('torch', 'tensorflow', 'jax', 'keras', 'sklearn') if m in sys.modules))\n"
            "sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    errors = done.stderr.splitlines()
    assert errors[0].startswith("cases.yaml:14:7: expect: 'torch.CrossEntropyLos' is not a known binding; "
                                "did you mean 'torch.nn.CrossEntropyLoss'?")
    assert errors[1].startswith("cases.yaml:19:15: expected: the case's expected 1.3 disagrees with the oracle")
    assert "1 valid cases, 2 errors" in done.stdout and "[]" in done.stdout


@needs("torch")
def test_the_time_limit_bounds_the_oracle(tmp_path):
    # A million elements: the worker computes them in about a second, the 50-digit oracle
    # would take minutes; the limit stops it. No gradient: a million gradient components sent
    # back by a worker on a loaded machine could take the worker itself past the limit.
    (tmp_path / "cases.yaml").write_text("""
cases:
  - id: huge
    loss: cross_entropy
    input: {logits: {random: {shape: [1000, 1000], seed: 0}}}
    target: {index: {random: {seed: 1}}}
    gradient: false
""", encoding="utf-8")
    done = _conformance("run", "--cases", "cases.yaml", "--frameworks", "torch", "--dtypes", "float64",
                        "--timeout", "10", "--out", "out", cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    rows = [r for r in _rows(tmp_path / "out") if r["device"] == "cpu"]
    assert len(rows) == 4 and {r["status"] for r in rows} == {"error"}  # 4 torch CE bindings
    assert all("ran past its time limit of 10 s (--timeout) in the suite's own oracle" in r["explanation"]
               for r in rows), [r["explanation"] for r in rows]


def test_an_oracle_that_ran_out_of_time_is_remembered_not_recomputed(write_cases):
    from conformance.deadline import TimeLimitExceeded, time_limit
    from conformance.evaluation import Evaluator
    from conformance.loader import load_cases

    path = write_cases("""
        cases:
          - id: huge
            loss: binary_cross_entropy
            input: {logits: {random: {shape: [1000, 1000], seed: 0}}}
            target: {probs: {random: {seed: 1}}}
        """)
    (case,) = load_cases([path]).cases
    evaluator = Evaluator()
    with time_limit(0.5), pytest.raises(TimeLimitExceeded) as first:
        evaluator.oracle(case, "float32")
    assert str(first.value) == "the oracle (loss, float32) did not finish within the time limit"
    with time_limit(30), pytest.raises(TimeLimitExceeded) as second:
        evaluator.oracle(case, "float32")
    assert str(second.value).endswith("earlier; it is not computed again")
