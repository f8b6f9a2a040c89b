"""The porting guide keeps only calls that matched the oracle in every dtype."""

from __future__ import annotations

from conformance.porting import format_guide, porting_guide
from conformance.results import Result, to_frame


def row(case_id, binding, dtype, status, call, configuration="cross_entropy: logits vs index, mean",
        mode="faithful") -> Result:
    return Result(case_id=case_id, loss="cross_entropy", binding=binding, framework=binding.split(".")[0],
                  dtype=dtype, mode=mode, status=status, call=call, configuration=configuration)


def test_guide_needs_every_dtype_to_pass_and_names_its_proof():
    frame = to_frame([
        row("a", "torch.cross_entropy", "float32", "pass", "loss = F.cross_entropy(x, y)"),
        row("a", "torch.cross_entropy", "float64", "pass", "loss = F.cross_entropy(x, y)"),
        row("a", "keras.CategoricalCrossentropy", "float32", "pass", "loss = CCE()(y, x)"),
        row("a", "keras.CategoricalCrossentropy", "float64", "known", "loss = CCE()(y, x)"),
        row("b", "keras.CategoricalCrossentropy", "float32", "pass", "loss = CCE(b)(y, x)"),
        row("b", "keras.CategoricalCrossentropy", "float64", "pass", "loss = CCE(b)(y, x)"),
        row("c", "jax.optax.softmax_cross_entropy", "float32", "difference", "x", mode="as_is"),
    ])
    guide = porting_guide(frame)
    assert guide[["binding", "case_id", "passing_cases", "cases"]].values.tolist() == [
        ["keras.CategoricalCrossentropy", "b", 1, 2],
        ["torch.cross_entropy", "a", 1, 1],
    ]
    text = format_guide(guide)
    assert text.startswith("cross_entropy: logits vs index, mean\n")
    assert "      loss = CCE(b)(y, x)" in text
