"""The HTML report in a real headless Chromium (Debian's chromium via Playwright)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.browser import browser_page, find_chromium
from conformance.report import write_reports
from conformance.results import read_results
from conformance.runner import run
from tests.conftest import needs

CHROMIUM, WHY_NOT = find_chromium()
pytestmark = [pytest.mark.skipif(CHROMIUM is None, reason=WHY_NOT), needs("torch")]

CASES = """
cases:
  - id: hostile-text
    title: "<script>window.__xss = 1; alert(1)</script>"
    description: "<img src=x onerror=\\"window.__xss = 2\\">"
    source: "javascript:window.__xss=3"
    mode: as_is
    loss: cross_entropy
    input: {probs: [[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]]}
    target: {index: [1, 2]}
    expected: 1.176939194
  - id: plain-logits
    title: Plain logits
    source: https://pytorch.org/docs/stable/generated/torch.nn.CrossEntropyLoss.html
    loss: cross_entropy
    input: {logits: [[2.0, 0.5, -1.0]]}
    target: {index: [0]}
    expected: 0.2413112967
  - id: bce-certain-wrong
    title: Probability 1 where the label is 0
    loss: binary_cross_entropy
    input: {probs: [[1.0, 1.0], [1.0, 0.0]]}
    target: {probs: [[1, 0], [1, 0]]}
    expected: inf
    expect:
      torch.binary_cross_entropy: &clamp
        value: 25.0
        reason: BCELoss clamps each log at -100, so -log(1 - 1) becomes 100 and the mean of [0, 100, 0, 0] is 25.
        category: clipping
        link: https://github.com/pytorch/pytorch/blob/v2.13.0/torch/nn/modules/loss.py#L668-L670
      torch.nn.BCELoss: *clamp
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("report")
    (root / "cases.yaml").write_text(CASES)
    frame = run([root / "cases.yaml"], frameworks=["torch"], dtypes=("float32",), out=root)
    return write_reports(frame, root)


@pytest.fixture(scope="module")
def devices(report) -> int:
    """Each row runs on the cpu, and once more on cuda where torch sees a GPU."""
    return read_results(report.parent / "results.jsonl")["device"].nunique()


@pytest.fixture
def page(report):
    events: list[str] = []
    with browser_page() as page:
        page.on("console", lambda m: events.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: events.append(f"pageerror: {e}"))
        page.on("dialog", lambda d: (events.append(f"dialog: {d.message}"), d.dismiss()))
        page.on("request", lambda r: events.append(f"request: {r.url}")
                if not r.url.startswith(("file:", "data:", "blob:")) else None)
        page.goto(report.as_uri())
        page.wait_for_selector("body[data-ready]", timeout=30_000)
        page.events = events
        yield page


def rows_shown(page) -> int:
    return page.locator("#results-table tbody tr.row").count()


def test_the_first_screen_shows_the_verdict_the_findings_and_the_agreement_matrix(page, tmp_path):
    page.screenshot(path=str(tmp_path / "first-screen.png"))  # kept in the test's folder to look at
    height = page.viewport_size["height"]
    for selector in ("#verdict", "#findings-list li", "#agreement-matrix table"):
        box = page.locator(selector).first.bounding_box()
        assert box is not None and box["y"] + min(box["height"], 60) <= height, selector
    first = page.locator("#findings-list li").first.inner_text()
    assert first.startswith("binary_cross_entropy, nn.BCELoss on torch — ")
    assert "inf becomes 25 (float32, bce-certain-wrong) — 1 case" in first
    assert page.events == []


def test_a_finding_opens_to_its_reason_and_its_rows(page, devices):
    finding = page.locator("#findings-list li").first
    finding.locator(".line").click()
    assert "loss.py#L668-L670" in finding.locator(".more").inner_text()
    finding.locator("button").click()
    # torch.binary_cross_entropy and torch.nn.BCELoss, in float32, on each device
    page.wait_for_function(f"document.querySelectorAll('#results-table tbody tr.row').length === {2 * devices}")
    assert "bce-certain-wrong" in page.locator("#results-table tbody").inner_text()


def test_an_agreement_cell_opens_the_binding_detail(page):
    cell = page.locator('#agreement-matrix button[data-loss="binary_cross_entropy"][data-framework="torch"]')
    assert cell.inner_text().endswith("%")
    cell.click()
    detail = page.locator("#agreement-detail").inner_text()
    assert "torch on binary_cross_entropy" in detail and "torch.binary_cross_entropy" in detail


def test_table_renders_every_row_offline_without_console_errors(page, devices):
    # two cross-entropy cases x 4 torch bindings, the BCE case x its 2 probability bindings, on each device
    assert rows_shown(page) == 10 * devices
    assert page.events == []


def test_search_by_case_id_filters_the_table(page, devices):
    page.fill("#results-search", "plain-logits")
    page.wait_for_function(f"document.querySelectorAll('#results-table tbody tr.row').length === {4 * devices}")
    assert "plain-logits" in page.locator("#results-table tbody").inner_text()
    assert "hostile-text" not in page.locator("#results-table tbody").inner_text()


def test_a_status_filter_selects_its_rows(page, devices):
    page.select_option('#results-filters select[data-column="status"]', "difference")
    page.wait_for_function(f"document.querySelectorAll('#results-table tbody tr.row').length === {4 * devices}")
    statuses = page.locator("#results-table tbody td:nth-child(5)").all_inner_texts()
    assert set(statuses) == {"difference"}


def test_sorting_a_number_column_orders_numbers_with_inf_last(page):
    page.locator('#results-table th[data-column="oracle"]').click()
    oracles = page.locator("#results-table tbody td:nth-child(8)").all_inner_texts()
    numbers = [float(v) for v in oracles]
    assert numbers == sorted(numbers) and numbers[-1] == float("inf")
    assert not any('"' in v for v in oracles)


def test_a_loss_map_is_drawn_when_opened(page):
    family = page.locator('details.family[data-loss="cross_entropy"]')
    assert family.locator("table.heat").count() == 0
    family.locator("summary").click()
    family.locator("table.heat").wait_for()  # drawn on the toggle event, which comes after the click
    assert family.locator("table.heat tbody tr").count() == 2
    assert family.locator("table.heat td[data-status]").count() == 8


def test_two_frameworks_side_by_side(page):
    page.select_option("#compare-a", "b:torch.cross_entropy")
    page.select_option("#compare-b", "b:torch.nn.CrossEntropyLoss")
    assert page.locator("#compare-summary").inner_text() == (
        "1 (case, dtype) pair both run faithfully: both match the mathematics in 1; only torch.cross_entropy "
        "in 0; only torch.nn.CrossEntropyLoss in 0; neither in 0.")
    assert page.locator("#compare-table tr").count() == 2  # the header and plain-logits


def test_the_rows_of_a_finding_show_whatever_was_typed_before(page, devices):
    page.fill("#results-search", "plain-logits")
    page.select_option('#results-filters select[data-column="status"]', "pass")
    finding = page.locator("#findings-list li").first
    finding.locator(".line").click()
    finding.locator("button").click()
    page.wait_for_function(f"document.querySelectorAll('#results-table tbody tr.row').length === {2 * devices}")
    assert page.input_value("#results-search") == ""


def test_compare_pairs_faithful_rows_only(page):
    page.select_option("#compare-a", "b:torch.cross_entropy")
    page.select_option("#compare-b", "b:torch.nll_loss")
    cases = page.locator("#compare-table tr td:first-child").all_inner_texts()
    assert "plain-logits" in cases and "hostile-text" not in cases  # hostile-text is as_is


def test_a_row_opens_its_card_with_the_recipe(page):
    page.fill("#results-search", "plain-logits")
    page.locator("#results-table tbody tr.row").first.click()
    card = page.locator("#results-table tr.card")
    assert card.count() == 1
    assert "torch.nn.functional.cross_entropy(" in card.locator("pre.recipe").inner_text()


def test_no_script_from_case_text_runs(page, report):
    page.fill("#results-search", "hostile-text")
    page.locator("#results-table tbody tr.row").first.click()
    assert page.evaluate("window.__xss") is None
    assert page.events == []
    assert page.locator('a[href^="javascript"]').count() == 0
    assert "<script>window.__xss" in page.locator("#results-table tr.card").inner_text()
    assert "<script>window.__xss" not in report.read_text()
