"""The first HTML report and the terminal summary, from real result rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

import re

import pytest

from conformance.number_text import brief
from conformance.report import page_data, render_html, status_matrix, summary, write_reports
from conformance.report.agreement import Agreement, agreement_cells
from conformance.report.findings import Severity, findings, pitfalls
from conformance.report.payload import decode
from conformance.report.text import story
from conformance.results import Result, to_frame


def embedded(page: str) -> dict:
    """The data block of a rendered page, decoded as the page's script decodes it."""
    return decode(re.search(r'<script type="application/octet-stream" id="report-data">([^<]*)</script>', page)[1])


def column(data: dict, name: str) -> list:
    col = data["rows"]["columns"][name]
    return col["plain"] if col["codes"] is None else [col["values"][c] if c >= 0 else "" for c in col["codes"]]


def rows() -> pd.DataFrame:
    return to_frame([
        Result(case_id="a", loss="cross_entropy", binding="torch.cross_entropy", framework="torch",
               dtype="float32", mode="faithful", status="pass", framework_version="2.13.0", ulp_err=0.5),
        Result(case_id="a", loss="cross_entropy", binding="torch.cross_entropy", framework="torch",
               dtype="float64", mode="faithful", status="known",
               explanation="<script>alert(1)</script> clipped", recipe="print('<b>')",
               title="<img src=x onerror=alert(2)>", source="javascript:alert(3)"),
        Result(case_id="b", loss="cross_entropy", binding="keras.CategoricalCrossentropy",
               framework="keras", dtype="float32", mode="faithful", status="fail",
               explanation="undocumented deviation"),
    ])


def test_matrix_has_a_cell_per_case_and_binding_listing_dtypes():
    matrix = status_matrix(rows())
    assert matrix.loc["a", "torch.cross_entropy"] == "float32: pass (0.5 ULP) / float64: known"
    assert matrix.loc["b", "keras.CategoricalCrossentropy"] == "float32: fail"


def test_case_text_is_data_in_the_page_never_markup():
    page = render_html(rows().iloc[1:])
    assert "<script>alert" not in page and "<img" not in page and 'href="javascript' not in page
    data = embedded(page)
    # The text survives unchanged, to be put into the page as text by its script.
    assert column(data, "explanation")[0] == "<script>alert(1)</script> clipped"
    assert data["rows"]["cases"]["a"]["title"] == "<img src=x onerror=alert(2)>"
    assert column(data, "recipe")[0] == "print('<b>')"
    assert "FAILED: 1 failing rows" in page


def test_the_embedded_rows_are_the_run_column_for_column():
    frame = rows()
    data = page_data(frame)
    for name in ("case_id", "binding", "dtype", "status", "explanation"):
        assert column({"rows": data["rows"]}, name) == list(frame[name])
    assert column({"rows": data["rows"]}, "ulp_err") == [0.5, None, None]


def test_write_reports_writes_csv_and_html(tmp_path):
    write_reports(rows(), tmp_path)
    assert len(pd.read_csv(tmp_path / "results.csv")) == 3
    assert (tmp_path / "report.html").read_text().startswith("<!doctype html>")


def test_summary_lists_failures_and_verdict():
    text = summary(rows())
    assert "FAIL   b[keras.CategoricalCrossentropy-float32]: undocumented deviation" in text
    assert text.splitlines()[-1] == "FAILED: 1 failing rows or case errors"


def test_html_has_a_porting_guide_section_for_passing_faithful_rows():
    frame = to_frame([Result(case_id="p", loss="cross_entropy", binding="torch.nll_loss", framework="torch",
                             dtype="float32", mode="faithful", status="pass",
                             configuration="cross_entropy: probs vs index, mean",
                             call="loss = torch.nn.functional.nll_loss(torch.log(probs), target)")])
    page = render_html(frame)
    assert "<h2>Porting guide</h2>" in page and "<summary>cross_entropy: probs vs index, mean (1 call)" in page
    assert "nll_loss(torch.log(probs), target)" in page


def test_the_porting_guide_shows_the_float32_call():
    def row(dtype):
        return Result(case_id="p", loss="cross_entropy", binding="keras.CategoricalCrossentropy", framework="keras",
                      dtype=dtype, mode="faithful", status="pass", configuration="cross_entropy: probs vs probs",
                      call=f"loss = keras.losses.CategoricalCrossentropy(dtype='{dtype}')(target, probs)")
    page = render_html(to_frame([row("bfloat16"), row("float32"), row("float64")]))
    assert "dtype=&#39;float32&#39;" in page and "bfloat16&#39;)" not in page


def test_gradient_failures_fail_the_run_and_show_in_their_own_section():
    frame = to_frame([
        Result(case_id="g", loss="cross_entropy", binding="torch.cross_entropy", framework="torch",
               dtype="float32", mode="faithful", status="pass", grad_status="fail",
               grad_explanation="undocumented gradient deviation", device="cpu"),
        Result(case_id="g", loss="cross_entropy", binding="torch.cross_entropy", framework="torch",
               dtype="float32", mode="faithful", status="pass", grad_status="pass", device="cuda"),
    ])
    text = summary(frame)
    assert "gradients: 1 pass, 1 fail" in text
    assert "FAIL   g[torch.cross_entropy-float32]: gradient: undocumented gradient deviation" in text
    page = render_html(frame)
    assert "<h2>Gradients</h2>" in page and "FAILED: 1 failing rows" in page
    # Two devices for one evaluation: the Devices section lists it, its statuses being equal.
    assert "1 evaluations ran on cpu, cuda" in page and "same status on each device" in page


def test_devices_section_says_when_only_the_cpu_ran():
    assert "Evaluated on cpu only" in render_html(rows())


def test_reports_are_written_when_no_row_is_in_a_profiled_dtype(tmp_path):
    # Only half-precision rows (or none at all): the semantic table is empty, not a crash.
    only_half = to_frame([Result(case_id="a", loss="cross_entropy", binding="numpy.cross_entropy",
                                 framework="numpy", dtype="bfloat16", mode="faithful", status="skipped")])
    for frame, folder in ((only_half, tmp_path / "half"), (to_frame([]), tmp_path / "none")):
        write_reports(frame, folder)
        assert (folder / "report.html").read_text().startswith("<!doctype html>")


def _ce(case_id, binding, status, value, oracle, **more):
    framework = binding.partition(".")[0]
    return Result(case_id=case_id, loss="cross_entropy", binding=binding, framework=framework, dtype="float32",
                  mode=more.pop("mode", "faithful"), status=status, value=value, oracle=oracle, **more)


CLIP = "Keras clips probabilities to [1e-7, 1 - 1e-7]"


def deviations() -> pd.DataFrame:
    return to_frame([
        _ce("zero-prob", "keras.CategoricalCrossentropy", "known", 16.118, "inf", explanation=CLIP,
            interpretation="clips probabilities to [1e-07, 1-1e-07]", link="https://example.org/keras#L1"),
        _ce("zero-prob", "keras_jax.CategoricalCrossentropy", "known", 16.118, "inf", explanation=CLIP,
            interpretation="clips probabilities to [1e-07, 1-1e-07]"),
        _ce("near-zero", "keras.CategoricalCrossentropy", "known", 16.1, 16.2, explanation=CLIP,
            interpretation="clips probabilities to [1e-07, 1-1e-07]"),
        _ce("rounded", "jax.optax.softmax_cross_entropy", "known", 1.0000001, 1.0, explanation="float32 inside",
            interpretation="the canonical loss, computed in float32"),
        _ce("plain", "torch.cross_entropy", "fail", 2.0, 1.0, explanation="undocumented deviation",
            interpretation="unexplained"),
        _ce("plain", "numpy.cross_entropy", "pass", 1.0, 1.0),
        _ce("probs-as-logits", "torch.cross_entropy", "difference", 0.9, 0.5, mode="as_is",
            explanation="as_is: probs into a logits API", interpretation="applies softmax to the input"),
    ])


def test_findings_are_one_per_cause_ranked_by_what_they_do():
    found = findings(deviations())
    assert [f.severity for f in found] == [Severity.UNDOCUMENTED, Severity.NONFINITE, Severity.ROUNDING]
    clip = found[1]
    # One reason over two backends and two cases is one finding; its example is its worst row.
    assert clip.frameworks == ["keras", "keras_jax"] and sorted(clip.cases) == ["near-zero", "zero-prob"]
    assert clip.line == ("CategoricalCrossentropy on keras, keras_jax — clips probabilities to [1e-07, 1-1e-07]: "
                         "inf becomes 16.12 (float32, zero-prob) — 2 cases")
    assert clip.link == "https://example.org/keras#L1" and len(clip.rows) == 3
    assert found[2].effect.startswith("off by 1e-07 relative to 1")
    # as_is rows are pitfalls, not deviations from the mathematics.
    assert [p.headline for p in pitfalls(deviations())] == ["applies softmax to the input"]


def test_undocumented_rows_are_one_finding_per_measured_mechanism():
    # They were one finding per binding: one clip on three Keras backends, in two forms, was six lines.
    clip = "clips probabilities to [1e-07, 1-1e-07]"
    frame = to_frame([
        _ce("z", "keras.CategoricalCrossentropy", "fail", 15.9, "inf", interpretation=clip),
        _ce("z", "keras_jax.losses.categorical_crossentropy", "fail", 15.9, "inf",
            interpretation=f"{clip} | {clip}, then renormalises them"),
        _ce("z", "torch.cross_entropy", "fail", 2.0, 1.0, interpretation="unexplained"),
        _ce("z", "jax.optax.softmax_cross_entropy", "fail", 3.0, 1.0, interpretation="unexplained"),
        _ce("z", "tensorflow.nn.softmax_cross_entropy_with_logits", "fail", 3.0, 1.0,
            interpretation="not measured: the time limit ran out during the interpretation search"),
        _ce("z", "keras_torch.CategoricalCrossentropy", "fail", 3.0, 1.0,
            interpretation="not measured: the time limit ran out during the interpretation search"),
        # What raised, and what was too large to search, name no shared mechanism either.
        _ce("r", "torch.nn.CrossEntropyLoss", "error", None, 1.0, interpretation="raises RuntimeError"),
        _ce("r", "sklearn.log_loss", "error", None, 1.0, interpretation="raises RuntimeError"),
        _ce("u", "tinygrad.cross_entropy", "fail", 3.0, 1.0,
            interpretation="unexplained (more than 256 components: not searched)"),
        _ce("u", "kornia.cross_entropy", "fail", 3.0, 1.0,
            interpretation="unexplained (more than 256 components: not searched)"),
        # A reading that begins with "raises" is a reading all the same.
        _ce("p", "torch.triplet_margin_loss", "fail", 3.0, 1.0, interpretation="raises the differences to p"),
        _ce("p", "jax.optax.triplet_margin_loss", "fail", 3.0, 1.0, interpretation="raises the differences to p"),
    ])
    found = {tuple(f.bindings): f for f in findings(frame)}
    assert set(found) == {("keras.CategoricalCrossentropy", "keras_jax.losses.categorical_crossentropy"),
                          ("torch.cross_entropy",), ("jax.optax.softmax_cross_entropy",),
                          ("tensorflow.nn.softmax_cross_entropy_with_logits",),
                          ("keras_torch.CategoricalCrossentropy",), ("torch.nn.CrossEntropyLoss",),
                          ("sklearn.log_loss",), ("tinygrad.cross_entropy",), ("kornia.cross_entropy",),
                          ("jax.optax.triplet_margin_loss", "torch.triplet_margin_loss")}
    assert found["keras.CategoricalCrossentropy", "keras_jax.losses.categorical_crossentropy"].headline == clip


def test_agreement_cells_count_faithful_rows_per_loss_and_framework():
    cells = {(c.loss, c.framework): c for c in agreement_cells(deviations())}
    assert cells["cross_entropy", "numpy"].agreement == Agreement.AGREES
    assert cells["cross_entropy", "keras"].agreement == Agreement.DEVIATES
    assert cells["cross_entropy", "torch"].agreement == Agreement.FAILING
    assert cells["cross_entropy", "torch"].rows == 1  # the as_is row does not count


def test_accuracy_counts_rows_whose_exact_loss_is_zero_apart():
    frame = to_frame([
        Result(case_id="z", loss="squared_error", binding="sklearn.mean_squared_error", framework="sklearn",
               dtype="float64", mode="faithful", status="pass", value=1e-300, oracle=0.0, abs_err=1e-300,
               ulp_err=4.49e307),
        Result(case_id="o", loss="squared_error", binding="sklearn.mean_squared_error", framework="sklearn",
               dtype="float64", mode="faithful", status="pass", value=1.0, oracle=1.0, abs_err=0.0, ulp_err=0.5),
    ])
    page = render_html(frame)
    accuracy = page[page.index('<section id="accuracy">'):page.index("</section>", page.index('<section id="accuracy">'))]
    assert "4.49e+307" not in accuracy and "<td>0.5</td>" in accuracy
    assert "Rows whose exact loss is 0" in accuracy and "1e-300" in accuracy


def test_a_finding_measures_error_against_the_whole_exact_value():
    # An error in a component whose exact value is 0 is small next to the gradient's size,
    # not 1e300 times it; the wrong infinity is not finite-vs-finite; an undocumented row at
    # rounding level says by how much, not "1 becomes 1".
    frame = to_frame([
        Result(case_id="g", loss="cross_entropy", binding="keras.CategoricalCrossentropy", framework="keras",
               dtype="float32", mode="faithful", status="pass", grad_status="known", grad=[0.5, 1e-7],
               grad_oracle=[0.5, 0.0], grad_explanation="float32 mean", grad_interpretation=""),
        _ce("signs", "jax.optax.softmax_cross_entropy", "known", "-inf", "inf", explanation="sign flipped",
            interpretation=""),
        _ce("tiny", "torch.cross_entropy", "fail", 1.0 + 1e-10, 1.0, explanation="off", interpretation=None),
    ])
    found = {f.reason: f for f in findings(frame)}
    assert found["float32 mean"].severity == Severity.ROUNDING and found["float32 mean"].worst == pytest.approx(2e-7)
    assert found["sign flipped"].severity == Severity.NONFINITE
    # A row with no interpretation is still a finding (its key is not NaN).
    tiny = next(f for f in findings(frame) if f.bindings == ["torch.cross_entropy"])
    assert tiny.severity == Severity.UNDOCUMENTED and tiny.effect.startswith("off by 1e-10 relative to 1 ")


@pytest.mark.parametrize("value,shown", [
    (None, "-"), (2.5, "2.5"), ("-inf", "-inf"), (np.float32(1 / 3), "0.33333334"), (np.array(3.0), "3"),
    ([], "[]"), ([1, 2, 3, 4], "[1, 2, 3, 4]"), ([1, 2, 3, 4, 5], "[1, 2, 3, 4, ...]"),
    ([["nan", 1.0], [2.0, 1 / 3], [5.0, 6.0]], "[nan, 1, 2, 0.33333333, ...]"),
    (np.arange(64000.0).reshape(64, 1000), "[0, 1, 2, 3, ...]"),
])
def test_brief_shows_the_first_numbers_in_c_order(value, shown):
    # Only the numbers shown are read (a report briefs 64,000-element losses by the thousand).
    assert brief(value) == shown


def test_the_story_counts_failing_values_and_gradients():
    # "6 match the mathematics" stood beside "FAILED: 5 failing rows" where the gradients failed.
    frame = to_frame([
        _ce("a", "torch.cross_entropy", "pass", 1.0, 1.0, grad_status="fail"),
        _ce("b", "torch.cross_entropy", "pass", 1.0, 1.0, grad_status="pass"),
        _ce("c", "torch.cross_entropy", "fail", 2.0, 1.0, grad_status="skipped"),
    ])
    assert story(frame) == ("3 evaluations of 3 cases by 1 bindings in 1 dtypes: 2 match the mathematics, "
                            "1 is a failure or an error. Of their 2 gradients, 1 match the oracle, 1 is a failure or an error.")


def test_a_coarse_dtype_s_extra_reading_does_not_become_a_cause_of_its_own():
    # bfloat16 fitted "applies sigmoid" first and the batch mean every other dtype shows second; the
    # headline is the reading the rows were grouped by, though two of four list sigmoid first.
    batch = "averages over the first axis (batch) only"
    rows = [Result(case_id="m", loss="binary_cross_entropy", binding="user.f", framework="user", dtype=d,
                   mode="faithful", status="fail", value=1.6, oracle=0.8,
                   interpretation=(f"applies sigmoid to the input | {batch}" if d in ("bfloat16", "float16")
                                   else batch))
            for d in ("float64", "float32", "float16", "bfloat16")]
    (found,) = findings(to_frame(rows))
    assert found.headline == batch and found.dtypes == ["bfloat16", "float16", "float32", "float64"]
