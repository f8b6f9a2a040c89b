"""The interpretation search names the cause of planted deviations.

Each planted binding is a real torch call with one known deviation written
into its recipe; it runs in the real torch worker, and the search must name
the planted cause from the number alone.
"""

from __future__ import annotations

import numpy as np
import pytest

from conformance.binding import Binding
from conformance.case import Case
from conformance.evaluation import Evaluation, Evaluator
from conformance.families.classification import Knobs
from conformance.interpret import UNEXPLAINED, search, variant_loss
from conformance.loader import load_cases
from conformance.oracle import evaluate
from tests.conftest import REPO, attached, require

F = "torch.nn.functional"
LOGITS = {"logits": [[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [1.5, -0.5, 0.0]]}
PROBS = {"probs": [[0.0, 0.7, 0.3], [0.2, 0.5, 0.3], [0.6, 0.3, 0.1]]}

# (name, case fields, recipe lines using the defined arrays, words the search must find)
PLANTED = [
    ("clip-1e-7", dict(loss="cross_entropy", input=PROBS, target={"index": [0, 1, 2]}),
     "loss = {F}.nll_loss(torch.log(torch.clamp(probs, 1e-7, 1 - 1e-7)), target)",
     "clips probabilities to [1e-07, 1-1e-07]"),
    ("clamp-100", dict(loss="cross_entropy", input=PROBS, target={"index": [0, 1, 2]}),
     "loss = {F}.nll_loss(torch.clamp(torch.log(probs), min=-100.0), target)",
     "clamps each log at -100"),
    ("logits-read-as-probs", dict(loss="cross_entropy", input={"logits": [[2.0, 0.5, 1.0], [0.1, 0.2, 0.3]]},
                                  target={"index": [0, 2]}),
     "loss = {F}.nll_loss(torch.log(logits), target)", "reads the input as probabilities"),
    ("softmax-on-probs", dict(loss="cross_entropy", input=PROBS, target={"index": [1, 1, 2]}),
     "loss = {F}.cross_entropy(probs, target)", "applies softmax to the input"),
    ("renormalises", dict(loss="cross_entropy", input={"probs": [[0.2, 0.5, 0.1], [0.3, 0.3, 0.9]]},
                          target={"index": [1, 2]}),
     "loss = {F}.nll_loss(torch.log(probs / probs.sum(1, keepdim=True)), target)",
     "renormalises the probabilities"),
    ("batch-mean-not-weights", dict(loss="cross_entropy", input=LOGITS, target={"index": [0, 2, 2]},
                                    weight=[1.0, 2.0, 3.0]),
     "loss = {F}.cross_entropy(logits, target, weight=weight, reduction='sum') / 3",
     "averages over the first axis (batch) only"),
    ("smoothing-over-others", dict(loss="cross_entropy", input=LOGITS, target={"index": [0, 2, 1]},
                                   label_smoothing=0.2),
     "soft = {F}.one_hot(target, 3) * 0.8 + (1 - {F}.one_hot(target, 3)) * 0.1\n"
     "loss = {F}.cross_entropy(logits, soft.to(logits.dtype))",
     "smooths labels as eps/(C-1)"),
    ("smoothing-half", dict(loss="cross_entropy", input=LOGITS, target={"index": [0, 2, 1]},
                            label_smoothing=0.2),
     "soft = {F}.one_hot(target, 3) * 0.8 + 0.1\nloss = {F}.cross_entropy(logits, soft.to(logits.dtype))",
     "smooths labels as eps/2"),
    ("wrong-class-axis", dict(loss="cross_entropy", input={"logits": [[[1.0, 0.0, -1.0], [0.5, 2.0, 0.1],
                                                                       [0.3, -0.2, 1.2]]]},
                              target={"index": [[0, 1, 2]]}),
     "loss = {F}.cross_entropy(logits, target)", "takes axis 1 as the class axis"),
    ("zero-times-log-zero", dict(loss="cross_entropy", input={"logits": [["-inf", 0.0, 1.0]]},
                                 target={"probs": [[0.0, 0.4, 0.6]]}),
     "loss = -(target * {F}.log_softmax(logits, dim=1)).sum(1).mean()", "evaluates 0 * log 0 as NaN"),
    ("empty-mean-zero", dict(loss="cross_entropy", input=LOGITS, target={"index": [-1, -1, -1]},
                             ignore_index=-1, expected=float("nan")),
     "loss = {F}.cross_entropy(logits, target, ignore_index=-1, reduction='sum') * 0",
     "returns 0 for the mean of nothing"),
    ("kl-mean-over-elements", dict(loss="kl_divergence", input={"probs": [[0.9, 0.1], [0.3, 0.7]]},
                                   target={"probs": [[0.5, 0.5], [0.25, 0.75]]}, reduction="batchmean"),
     "loss = {F}.kl_div(torch.log(probs), target, reduction='mean')", "averages over every element"),
    ("bce-row-mean", dict(loss="binary_cross_entropy", input={"probs": [[0.9, 0.2], [0.3, 0.6]]},
                          target={"probs": [[1.0, 0.0], [0.0, 1.0]]}, reduction="none",
                          expected=[[0.0, 0.0], [0.0, 0.0]]),
     "loss = {F}.binary_cross_entropy(probs, target, reduction='none').mean(-1)",
     "averages over the last axis first"),
    ("bce-clamp-100", dict(loss="binary_cross_entropy", input={"probs": [[1.0, 0.2], [0.0, 0.6]]},
                           target={"probs": [[0.0, 0.0], [1.0, 1.0]]}),
     "loss = {F}.binary_cross_entropy(probs, target)", "clamps each log at -100"),
]


def _case(fields: dict) -> Case:
    case = Case.model_validate({"id": "planted", "expected": 0.0, **fields})
    truth = evaluate(case, "float64").as_float()
    return case.model_copy(update={"expected": truth})


def _planted(lines: str) -> Binding:
    def write(w):
        w.input(), w.target()
        if w.case.option("weight") is not None:
            w.weight()
        for line in lines.format(F=F).splitlines():
            w.emit(line)
    return attached("torch", Binding("torch.planted", "cross_entropy", frozenset(), frozenset(), write))


@pytest.fixture(scope="module")
def evaluator():
    require("torch")
    evaluator = Evaluator()
    yield evaluator
    evaluator.close()


@pytest.mark.parametrize("name,fields,lines,cause", PLANTED, ids=[p[0] for p in PLANTED])
def test_search_names_the_planted_cause(evaluator, name, fields, lines, cause):
    case = _case(fields)
    row = evaluator.evaluate(Evaluation(case, _planted(lines), "float32"))
    assert row.status == "fail", (row.status, row.explanation)
    assert cause in row.interpretation, row.interpretation
    assert f"measured: {row.interpretation}" in row.explanation


def test_an_unknown_deviation_is_unexplained():
    case = _case(dict(loss="cross_entropy", input=LOGITS, target={"index": [0, 1, 2]}))
    wrong = np.asarray(float(evaluate(case, "float32").as_float()) * 1.37)
    found = search(case, "float32", wrong, case.tolerance_for("float32"))
    assert not found.explained and found.describe(case) == UNEXPLAINED and found.structured() == []


@pytest.mark.parametrize("case", load_cases([REPO / "cases"]).cases, ids=lambda c: c.id)
def test_the_canonical_reading_reproduces_the_oracle(case):
    """Knobs() is the canonical loss: the explanation model agrees with the oracle."""
    for dtype in ("float32", "float64"):
        variant = variant_loss(case, dtype, Knobs())
        oracle = evaluate(case, dtype).as_float()
        assert variant.shape == oracle.shape
        np.testing.assert_allclose(variant, oracle, rtol=1e-12, atol=1e-12, equal_nan=True)


def test_the_canonical_reading_in_a_lower_precision_is_a_knob_parquet_can_store(tmp_path):
    # An empty struct has no Parquet type: a run whose only interpretation is "the canonical
    # loss, computed in float32" must still export.
    import pandas as pd

    from conformance.interpret import COMPUTED_IN, Interpretation
    from conformance.report import export_frame

    found = Interpretation(canonical_like="float32")
    assert found.structured() == [{COMPUTED_IN: "float32"}] and found.explained
    assert found.describe(None) == "the canonical loss, computed in float32"
    frame = pd.DataFrame({"readings": [found.structured(), []]})
    export_frame(frame).to_parquet(tmp_path / "r.parquet", index=False)
