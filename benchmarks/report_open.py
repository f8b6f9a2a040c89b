"""How big is report.html, and how long does headless Chromium take to open it?

Usage: python benchmarks/report_open.py [reports/latest/report.html] [repeats]

Prints the file size and, over several fresh page loads, the time from
navigation until the page is interactive (its data decoded, the findings, the
agreement matrix and the results table drawn: ``body[data-ready]``) - measured,
not asserted. Budgets (issue 17): 2 MB and 1 s at the full matrix, 5 MB and 2 s
at 50,000 rows (``benchmarks/report_scale.py`` makes such a report).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from conformance.browser import browser_page, find_chromium


def open_times(report: Path, repeats: int) -> list[float]:
    """Seconds from navigation until ``body[data-ready]``, over fresh loads."""
    times = []
    with browser_page() as page:
        for _ in range(repeats):
            page.goto("about:blank")
            start = time.perf_counter()
            page.goto(report.resolve().as_uri())
            page.wait_for_selector("body[data-ready]", timeout=60_000)
            times.append(time.perf_counter() - start)
    return times


def main() -> int:
    report = Path(sys.argv[1] if len(sys.argv) > 1 else "reports/latest/report.html")
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    if find_chromium()[0] is None:
        print(f"skipped: {find_chromium()[1]}")
        return 0
    size = report.stat().st_size
    times = open_times(report, repeats)
    print(f"{report}: {size / 1e6:.2f} MB")
    print(f"open until interactive over {repeats} loads: median {statistics.median(times):.2f} s, "
          f"max {max(times):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
