"""No case file can make the suite run code: every injection route, end to end.

Each route below is a case file that tries to run ``touch <canary>`` through
one field, tag or YAML feature. The files are validated, run on real workers
(NumPy and PyTorch) and collected by pytest, each in its own process; no
canary may exist afterwards. A route either fails to load with a located
error or loads as plain data and evaluates normally.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import needs

GOOD = """\
    loss: cross_entropy
    input: {{logits: [[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]]}}
    target: {{index: [0, 2]}}
    expected: 0.6216270724
"""
CODE = "__import__('os').system('touch {canary}')"

# route -> case file text; {code} is a Python payload, {canary} the file it would create.
ROUTES = {
    "generated-input": "cases:\n  - id: r\n" + GOOD + "    generated:\n      input: [{{seed: 0}}, \"{code} or [[2.0]]\"]\n",
    "generated-target": "cases:\n  - id: r\n" + GOOD + "    generated: {{target: [{{seed: 0}}, \"{code}\"]}}\n",
    "generated-in-defaults": "defaults:\n  generated: {{input: [{{seed: 0}}, \"{code}\"]}}\ncases:\n  - id: r\n" + GOOD,
    "generated-by-merge-key": "cases:\n  - <<: {{generated: {{input: [{{seed: 0}}, \"{code}\"]}}}}\n    id: r\n" + GOOD,
    "file-field": "cases:\n  - id: r\n" + GOOD + "    file: \"{code}\"\n",
    "line-field": "cases:\n  - id: r\n" + GOOD + "    line: \"{code}\"\n",
    "drawn-private-field": "cases:\n  - id: r\n" + GOOD + "    _drawn: {{input: \"{code}\"}}\n",
    "id": "cases:\n  - id: \"r'); {code}; ('\"\n" + GOOD,
    "title": "cases:\n  - id: r\n    title: \"{code}\"\n" + GOOD,
    "description": "cases:\n  - id: r\n    description: \"{code}\"\n" + GOOD,
    "source": "cases:\n  - id: r\n    source: \"javascript:{code}\"\n" + GOOD,
    "tags": "cases:\n  - id: r\n    tags: [\"{code}\"]\n" + GOOD,
    "logits-as-text": "cases:\n  - id: r\n    loss: cross_entropy\n    input: {{logits: [[\"{code}\", 1.0]]}}\n"
                      "    target: {{index: [0]}}\n    expected: 1.0\n",
    "number-as-text": "cases:\n  - id: r\n    loss: cross_entropy\n    input: {{logits: [[\"1.0]]); {code}; ([[1.0\", 1.0]]}}\n"
                      "    target: {{index: [0]}}\n    expected: 1.0\n",
    "expected-as-text": "cases:\n  - id: r\n    loss: cross_entropy\n    input: {{logits: [[1.0, 2.0]]}}\n"
                        "    target: {{index: [0]}}\n    expected: \"{code}\"\n",
    "weight": "cases:\n  - id: r\n" + GOOD + "    weight: [\"{code}\", 1.0, 1.0]\n",
    "dtype-name": "cases:\n  - id: r\n" + GOOD + "    dtypes: [\"float64); {code}; (\"]\n",
    "reduction": "cases:\n  - id: r\n" + GOOD.replace("    expected", "    reduction: \"sum'); {code}; ('\"\n    expected"),
    "mode": "cases:\n  - id: r\n" + GOOD + "    mode: \"{code}\"\n",
    "class-axis": "cases:\n  - id: r\n" + GOOD + "    class_axis: \"1); {code}; (1\"\n",
    "ignore-index": "cases:\n  - id: r\n" + GOOD + "    ignore_index: \"-100); {code}; (0\"\n",
    "label-smoothing": "cases:\n  - id: r\n" + GOOD + "    label_smoothing: \"0.1); {code}; (0\"\n",
    "tolerance": "cases:\n  - id: r\n" + GOOD + "    tolerance: {{rtol: \"{code}\", atol: 0}}\n",
    "expect-key": "cases:\n  - id: r\n" + GOOD + "    expect:\n      \"torch.cross_entropy); {code}; (\": {{value: 1.0, reason: r}}\n",
    "expect-raises": "cases:\n  - id: r\n" + GOOD + "    expect:\n      torch.cross_entropy: {{raises: \"{code}\", reason: r}}\n",
    "expect-reason-and-link": "cases:\n  - id: r\n" + GOOD + "    expect:\n      torch.nll_loss: {{value: 1.0, reason: \"{code}\", link: \"javascript:{code}\"}}\n",
    "expect-versions": "cases:\n  - id: r\n" + GOOD + "    expect:\n      torch.cross_entropy: {{value: 1.0, reason: r, versions: \"{code}\"}}\n",
    "expect-grad-reading": "cases:\n  - id: r\n" + GOOD + "    expect:\n      torch.cross_entropy: {{grad_reading: \"{code}\", reason: r}}\n",
    "expect-backends": "cases:\n  - id: r\n" + GOOD + "    expect:\n      keras.CategoricalCrossentropy: {{value: 1.0, reason: r, backends: [\"{code}\"]}}\n",
    "random-seed": "cases:\n  - id: r\n    loss: cross_entropy\n    input: {{logits: {{random: {{shape: [2, 3], seed: \"0); {code}; (0\"}}}}}}\n"
                   "    target: {{index: {{random: {{seed: 1}}}}}}\n",
    "random-shape": "cases:\n  - id: r\n    loss: cross_entropy\n    input: {{logits: {{random: {{shape: \"(2, 3)); {code}; ((1,)\", seed: 0}}}}}}\n"
                    "    target: {{index: {{random: {{seed: 1}}}}}}\n",
    "random-distribution": "cases:\n  - id: r\n    loss: cross_entropy\n    input: {{logits: {{random: {{shape: [2, 3], seed: 0, distribution: \"normal(0); {code}; print\"}}}}}}\n"
                           "    target: {{index: {{random: {{seed: 1}}}}}}\n",
    "random-parameter": "cases:\n  - id: r\n    loss: cross_entropy\n    input: {{logits: {{random: {{shape: [2, 3], seed: 0, loc: \"0); {code}; (0\"}}}}}}\n"
                        "    target: {{index: {{random: {{seed: 1}}}}}}\n",
    "random-unknown-parameter": "cases:\n  - id: r\n    loss: cross_entropy\n    input: {{logits: {{random: {{shape: [2, 3], seed: 0, code: \"{code}\"}}}}}}\n"
                                "    target: {{index: {{random: {{seed: 1}}}}}}\n",
    "yaml-tag-apply": "cases:\n  - !!python/object/apply:os.system [\"touch {canary}\"]\n",
    "yaml-tag-new": "cases:\n  - id: !!python/object/new:os.system [\"touch {canary}\"]\n" + GOOD,
    "yaml-tag-name": "cases:\n  - id: r\n" + GOOD + "    title: !!python/name:os.system\n",
    "alias-of-code": "cases:\n  - id: r\n    title: &payload \"{code}\"\n    loss: cross_entropy\n"
                     "    input: {{logits: [[*payload, 1.0]]}}\n    target: {{index: [0]}}\n    expected: 1.0\n",
}


@pytest.fixture(scope="module")
def routes(tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    root = tmp_path_factory.mktemp("injection")
    cases = root / "cases"
    cases.mkdir()
    canaries = {}
    for name, template in ROUTES.items():
        canaries[name] = root / f"canary-{name}"
        text = template.format(code=CODE.format(canary=canaries[name]), canary=canaries[name])
        (cases / f"{name}.yaml").write_text(text, encoding="utf-8")
    return root, canaries


def _conformance(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "conformance", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=900)


def test_there_are_at_least_25_routes():
    assert len(ROUTES) >= 25


def test_validate_runs_nothing_and_reports_the_hostile_routes(routes):
    root, canaries = routes
    done = _conformance("validate", "cases", cwd=root)
    assert "Traceback" not in done.stderr
    assert not [name for name, canary in canaries.items() if canary.exists()]
    for name in ("generated-input", "generated-in-defaults", "generated-by-merge-key", "file-field",
                 "line-field", "yaml-tag-apply", "random-seed", "expect-key", "reduction"):
        assert f"cases/{name}.yaml:" in done.stderr, name


@needs("torch")
def test_run_and_pytest_run_nothing_on_real_workers(routes):
    root, canaries = routes
    done = _conformance("run", "--cases", "cases", "--frameworks", "numpy,torch", "--dtypes", "float64",
                        "--out", "out", cwd=root)
    assert done.returncode == 1, done.stderr[-3000:]  # the hostile files are errors
    assert "Traceback" not in done.stderr
    assert (root / "out" / "results.jsonl").stat().st_size > 0  # the harmless routes ran
    (root / "pytest.ini").write_text("[pytest]\nconformance_cases = cases\n", encoding="utf-8")
    tested = subprocess.run([sys.executable, "-m", "pytest", "cases", "-q", "-p", "no:cacheprovider",
                             "--conformance-frameworks=numpy,torch", "--conformance-dtypes=float64"],
                            cwd=root, capture_output=True, text=True, timeout=900)
    assert "INTERNALERROR" not in tested.stdout and "Traceback" not in tested.stdout
    assert not [name for name, canary in canaries.items() if canary.exists()]


def test_the_issue_reproduction_is_refused_with_the_field_named(write_cases):
    from conformance.loader import load_cases

    path = write_cases(textwrap.dedent("""
        cases:
          - id: innocent
            loss: cross_entropy
            input: {logits: [[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]]}
            target: {index: [0, 2]}
            expected: 0.6216270724
            generated:
              input: [{seed: 0}, "__import__('os').system('echo owned > PWNED') or [[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]]"]
        """))
    (error,) = load_cases([path]).errors
    assert (error.line, error.field) == (7, "generated") and "unknown field 'generated'" in error.message
