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
        page.wait_for_selector("section#results .dt-container", timeout=30_000)
        page.events = events
        yield page


def test_table_renders_every_row_offline_without_console_errors(page, devices):
    # 2 cases x 4 torch bindings on each device
    assert page.locator("#results-table tbody tr").count() == 8 * devices
    assert page.locator(".dtsp-searchPanes").count() == 1
    assert page.events == []


def test_search_by_case_id_filters_the_table(page, devices):
    page.fill("section#results input[type=search]", "plain-logits")
    page.wait_for_function(f"document.querySelectorAll('#results-table tbody tr').length === {4 * devices}")
    assert "plain-logits" in page.locator("#results-table tbody").inner_text()
    assert "hostile-text" not in page.locator("#results-table tbody").inner_text()


def test_filter_pane_selects_a_status(page, devices):
    pane = page.locator('.dtsp-searchPane:has(input[placeholder="status"])')
    pane.locator('span.dtsp-name[title="difference"]').click()
    page.wait_for_function(f"document.querySelectorAll('#results-table tbody tr').length === {4 * devices}")
    assert "pass" not in page.locator("#results-table tbody").inner_text().split()


def test_heatmap_is_drawn(page):
    svg = page.locator("section#heatmap svg")
    assert svg.count() == 1 and svg.bounding_box()["height"] > 100
    assert page.locator("section#heatmap svg image, section#heatmap svg path").count() > 10


def test_a_detail_card_opens(page):
    group = page.locator("details.case-card").first
    assert group.get_attribute("open") is None
    group.locator("summary").first.click()
    assert group.get_attribute("open") is not None
    card = group.locator("details.card").first
    card.locator("summary").click()
    assert card.get_attribute("open") is not None
    assert "torch.nn.functional.cross_entropy(" in card.inner_text()


def test_no_script_from_case_text_runs(page, report):
    page.locator("details.case-card").first.locator("summary").first.click()
    assert page.evaluate("window.__xss") is None
    assert page.events == []
    assert page.locator('a[href^="javascript"]').count() == 0
    assert "<script>window.__xss" in page.locator("details.case-card").first.inner_text()
    assert "<script>window.__xss" not in report.read_text()
