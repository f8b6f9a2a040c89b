"""How big is report.html, and how long does headless Chromium take to open it?

Usage: python benchmarks/report_open.py [reports/latest/report.html] [repeats]

Prints the file size and, over several fresh page loads, the time from
navigation until the results table is interactive (DataTables initialised) -
measured, not asserted: the issue's budget is < 5 MB and < 2 s.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from conformance.browser import browser_page, find_chromium


def main() -> int:
    report = Path(sys.argv[1] if len(sys.argv) > 1 else "reports/latest/report.html")
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    if find_chromium()[0] is None:
        print(f"skipped: {find_chromium()[1]}")
        return 0
    size = report.stat().st_size
    times = []
    with browser_page() as page:
        for _ in range(repeats):
            page.goto("about:blank")
            start = time.perf_counter()
            page.goto(report.resolve().as_uri())
            page.wait_for_selector("section#results .dt-container", timeout=60_000)
            times.append(time.perf_counter() - start)
    print(f"{report}: {size / 1e6:.2f} MB (budget 5 MB: {size / 5e6:.0%})")
    print(f"open until interactive over {repeats} loads: median {statistics.median(times):.2f} s, "
          f"max {max(times):.2f} s (budget 2 s: {statistics.median(times) / 2:.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
