"""The first HTML report and the terminal summary, from real result rows."""

from __future__ import annotations

import pandas as pd

from conformance.report import render_html, status_matrix, summary, write_reports
from conformance.results import Result, to_frame


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


def test_html_escapes_text_and_has_a_section_per_non_pass_row():
    page = render_html(rows())
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img" not in page and 'href="javascript' not in page
    assert page.count("<details class=\"card\"") == 2
    assert "FAILED: 1 failing rows" in page


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
    assert "<h2>Porting guide</h2>" in page and "<h3>cross_entropy: probs vs index, mean</h3>" in page
    assert "nll_loss(torch.log(probs), target)" in page


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
