"""The audit of documented deviations (``conformance audit``): a fixed sample of the suite's own
``expect`` entries re-run without glue must still deviate as documented, and the audit must
catch an entry that documents the glue instead of the API (a planted one, run for real)."""

from __future__ import annotations

import mpmath
import numpy as np

from conformance import frameworks as registry
from conformance.audit import Verdict, audit, documented, sample
from conformance.binding import Binding
from conformance.case import Case
from conformance.dtypes import DEFAULT_DTYPES
from conformance.evaluation import Evaluation, Evaluator
from conformance.loader import load_cases
from conformance.recipe import ArrayOps
from conformance.vocabulary import Quantity
from tests.conftest import attached, needs, require

# Two documented rows of every framework; `conformance audit` checks all of them.
PER_FRAMEWORK = 2
SEED = 11


def test_a_sample_of_documented_deviations_is_the_apis_own():
    frameworks = registry.frameworks()
    for framework in frameworks:
        require(framework.name)
    claims = sample(documented(load_cases(["cases"]).cases, frameworks, DEFAULT_DTYPES), PER_FRAMEWORK, SEED)
    assert len({e.framework.name for e, _ in claims}) >= 6  # the sample spans the frameworks
    evaluator = Evaluator(timeout=120)
    try:
        findings = audit(claims, evaluator)
    finally:
        evaluator.close()
    wrong = [f.line() for f in findings if f.verdict not in (Verdict.HOLDS, Verdict.SKIPPED)]
    assert not wrong, "\n".join(wrong)
    assert sum(f.verdict == Verdict.HOLDS for f in findings) >= len(claims)


# A float64 mean taken in float32 by the glue, documented as if the API did it.
FLOAT32_MEAN = ArrayOps(total="{}.sum()", mean="{}.float().mean().double()")


def _glue_in_float32(w) -> None:
    w.emit(f"per_example = torch.nn.functional.cross_entropy({w.input()}, {w.target()}, reduction='none')")
    w.reduce("per_example", FLOAT32_MEAN)


@needs("torch")
def test_an_entry_that_documents_the_glue_is_caught():
    rng = np.random.default_rng(0)
    logits, labels = rng.normal(size=(64, 10)).tolist(), rng.integers(0, 10, 64).tolist()
    expected = sum(mpmath.log(sum(mpmath.exp(x) for x in row)) - row[t]
                   for row, t in zip(logits, labels)) / len(labels)
    case = Case.model_validate({
        "id": "glue", "loss": "cross_entropy", "input": {"logits": logits}, "expected": float(expected),
        "target": {"index": labels}, "dtypes": ["float64"],
        "expect": {"torch.planted": [{"within": {"like": "float32"}, "reason": "planted: the glue's float32 mean",
                                      "link": "https://example.org/planted"}]}})
    binding = attached("torch", Binding("torch.planted", "cross_entropy", frozenset({"logits"}),
                                        frozenset({"index"}), write=_glue_in_float32))
    evaluator = Evaluator(timeout=120)
    try:
        with_glue = evaluator.evaluate(Evaluation(case, binding, "float64"))
        findings = audit([(Evaluation(case, binding, "float64", bare=True), (Quantity.VALUE,))], evaluator)
    finally:
        evaluator.close()
    assert with_glue.status == "known", with_glue.explanation
    assert [f.verdict for f in findings] == [Verdict.GLUE], [f.line() for f in findings]
    assert "glue" in findings[0].line()
