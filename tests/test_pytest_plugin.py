"""The pytest plugin collects YAML cases directly and evaluates them in workers."""

from __future__ import annotations

import pytest

from tests.conftest import needs

CASES = """
cases:
  - id: plain
    loss: cross_entropy
    input: {logits: [[1.0, 2.0, 3.0]]}
    target: {index: [2]}
    expected: 0.4076059644
  - id: documented
    loss: cross_entropy
    input: {probs: [[0.2, 0.2, 0.2]]}
    target: {index: [0]}
    expected: 1.609437912
    expect:
      torch.cross_entropy:
        value: 1.098612289
        reason: log_softmax renormalises log(p)
        category: semantic
"""


@pytest.fixture
def suite(pytester: pytest.Pytester):
    pytester.makefile(".yaml", **{"cases/ce": CASES})
    pytester.makefile(".yaml", **{"cases/broken": "cases:\n  - id: b\n    loss: wasserstein\n"})
    return pytester


def test_ids_name_file_case_binding_and_dtype(suite):
    result = suite.runpytest_subprocess("--co", "-q", "--conformance-frameworks=torch",
                                        "--conformance-dtypes=float32,float64")
    ids = [line for line in result.outlines if "::" in line]
    assert "cases/ce.yaml::plain[torch.cross_entropy-float32]" in ids
    assert "cases/ce.yaml::plain[torch.nll_loss-float64]" in ids
    assert "cases/broken.yaml::b[invalid]" in ids
    # 2 cases x 4 bindings (cross_entropy, nll_loss and their module forms) x 2 dtypes
    assert len([i for i in ids if i.startswith("cases/ce.yaml")]) == 16


@needs("torch")
def test_known_rows_xfail_with_reason_and_bad_cases_fail_alone(suite):
    result = suite.runpytest_subprocess("-rxf", "--conformance-frameworks=torch",
                                        "--conformance-dtypes=float32")
    result.assert_outcomes(passed=6, xfailed=2, failed=1)
    result.stdout.fnmatch_lines([
        "*cases/broken.yaml:3:11: loss: unknown loss *wasserstein*",
        "*documented[[]torch.cross_entropy-float32[]]*known: log_softmax renormalises log(p)*",
    ])


@needs("torch")
def test_a_documented_row_is_reported_by_its_reason_not_a_traceback(suite):
    # pytest renders an exception before it sees that it is an xfail; rendering a traceback
    # (parsing the source of every frame) was half the matrix's time under pytest.
    suite.makeconftest("""
        def pytest_runtest_logreport(report):
            if getattr(report, "wasxfail", None):
                print("LONGREPR", type(report.longrepr).__name__, repr(str(report.longrepr)))
    """)
    result = suite.runpytest_subprocess("-s", "--conformance-frameworks=torch", "--conformance-dtypes=float32",
                                        "-k", "documented and cross_entropy")
    result.assert_outcomes(xfailed=1)
    result.stdout.fnmatch_lines(["*LONGREPR str 'known: log_softmax renormalises log(p)*'"])


def test_framework_markers_select_items(suite):
    result = suite.runpytest_subprocess("--co", "-q", "-m", "jax", "--conformance-dtypes=float32")
    ids = [line for line in result.outlines if "::" in line]
    assert ids and all("[jax." in i for i in ids)


@needs("torch")
def test_failure_report_shows_value_oracle_and_recipe(pytester: pytest.Pytester):
    pytester.makefile(".yaml", **{"cases/wrong": CASES.replace(
        "        value: 1.098612289", "        value: 1.5")})
    result = pytester.runpytest_subprocess("--conformance-frameworks=torch", "--conformance-dtypes=float32",
                                           "-k", "documented and cross_entropy")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*FAIL: deviates differently than documented*",
                                 "*value  = 1.098612*", "*torch.nn.functional.cross_entropy(*"])


@needs("torch")
def test_a_gradient_deviation_fails_the_item_and_is_reported(pytester: pytest.Pytester):
    pytester.makefile(".yaml", **{"cases/grad": CASES.replace(
        "    expected: 0.4076059644\n",
        "    expected: 0.4076059644\n    expect:\n      torch.cross_entropy:\n        grad: [[0.0, 0.0, 0.0]]\n"
        "        reason: a documented gradient the API does not show\n        category: clipping\n")})
    result = pytester.runpytest_subprocess("--conformance-frameworks=torch", "--conformance-dtypes=float64",
                                           "-k", "plain and cross_entropy and not nn")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*PASS: *", "*GRADIENT FAIL: stale expectation*", "*oracle grad = *"])


def test_hostile_files_are_one_failing_item_each_and_everything_else_is_collected(suite):
    suite.makefile(".yaml", **{"cases/syntax": "cases:\n  - id: [\n"})
    suite.makefile(".yaml", **{"cases/bomb": "a: &a [1,1,1,1,1,1,1,1,1]\n" + "".join(
        f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi"))})
    suite.makefile(".yaml", **{"cases/injection": CASES.replace("id: plain", "id: plain2").replace(
        "id: documented", "id: documented2") + "    generated: {input: [{seed: 0}, \"__import__('os')\"]}\n"})
    result = suite.runpytest_subprocess("-q", "--conformance-frameworks=numpy", "--conformance-dtypes=float64")
    assert "INTERNALERROR" not in result.stdout.str() and "Traceback" not in result.stdout.str()
    result.stdout.fnmatch_lines([
        "*cases/bomb.yaml:7:*the document holds more than * values; the alias [*]f repeats*",
        "*cases/injection.yaml:*: generated: unknown field 'generated' (case documented2)*",
        "*cases/syntax.yaml:3:1: invalid YAML*",
    ])
    outcomes = result.parseoutcomes()
    # broken.yaml, syntax.yaml, bomb.yaml and the injected case fail; ce.yaml and plain2 run.
    assert outcomes["failed"] == 4 and outcomes["passed"] >= 2


def test_an_unknown_framework_is_a_usage_error_not_a_crash(suite):
    result = suite.runpytest_subprocess("--co", "-q", "--conformance-frameworks=torhc")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown framework 'torhc'*"])
