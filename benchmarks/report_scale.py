"""The report at a size the matrix is growing to: a results file grown to N rows, rendered and opened.

Usage: python benchmarks/report_scale.py RESULTS.jsonl [ROWS=50000] [OUT=/tmp/report-scale]

Grows a real run's rows to ROWS by repeating them as new cases: each copy gets
its own case ids (``<id>~k``), its recipes name that id, and its values and
errors are scaled by a random factor per copy, so the copies are not verbatim
repeats that compression would erase. Then, in one run, it times
``write_reports`` and opens the page in headless Chromium (as
``report_open.py``), and prints rows, size, render time and time to interactive
beside the budgets of issue 17 (5 MB and 2 s at 50,000 rows).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from report_open import open_times  # run as a script: benchmarks/ is on the path
from conformance.browser import find_chromium
from conformance.report import write_reports
from conformance.results import read_results

SCALED = ("value", "oracle", "abs_err", "ulp_err", "rel_err", "scaled_err")


def _scaled(value: object, factor: float) -> object:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value * factor
    if isinstance(value, list):
        return [_scaled(v, factor) for v in value]
    return value


def grown(frame: pd.DataFrame, rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    copies = [frame]
    k = 0
    while sum(len(c) for c in copies) < rows:
        k += 1
        factor = float(rng.uniform(0.5, 2.0))
        copy = frame.copy()
        copy["case_id"] = copy["case_id"] + f"~{k}"
        copy["recipe"] = copy["recipe"] + f"# copy {k}\n"
        for column in SCALED:
            copy[column] = copy[column].map(lambda v: _scaled(v, factor))
        copies.append(copy)
    return pd.concat(copies, ignore_index=True).head(rows)


def main() -> int:
    source = Path(sys.argv[1])
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 50_000
    out = Path(sys.argv[3] if len(sys.argv) > 3 else "/tmp/report-scale")
    frame = grown(read_results(source), rows)
    start = time.perf_counter()
    page = write_reports(frame, out)
    render = time.perf_counter() - start
    size = page.stat().st_size
    print(f"{len(frame)} rows ({frame['case_id'].nunique()} cases) from {source}")
    print(f"write_reports: {render:.1f} s; report.html {size / 1e6:.2f} MB")
    if find_chromium()[0] is None:
        print(f"not opened: {find_chromium()[1]}")
        return 0
    times = open_times(page, 5)
    print(f"open until interactive over 5 loads: median {statistics.median(times):.2f} s, max {max(times):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
