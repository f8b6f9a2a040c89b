"""Time to load a large literal case file: the suite's reader against PyYAML's.

Writes a case file of 3000 x 1000 written-out logits (about 31 MB), then, in
one run, times (1) ``conformance.loader.load_file`` - YAML 1.2 parsing with
limits and source marks, and validation into a case - and (2) PyYAML's
``yaml.safe_load`` alone (C parser where available), which parses the same
text and validates nothing. Prints both and their ratio.

    python benchmarks/load_large.py [ROWS]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from conformance.loader import load_file


def write_case_file(path: Path, rows: int) -> None:
    logits = np.random.default_rng(0).normal(size=(rows, 1000))
    lines = ["cases:", "  - id: big", "    loss: cross_entropy", "    input:", "      logits:"]
    lines += ["        - [" + ", ".join(f"{v:.6f}" for v in row) + "]" for row in logits]
    lines += ["    target: {index: [" + ", ".join(str(i % 1000) for i in range(rows)) + "]}",
              "    expected: 7.43"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "large.yaml"
        write_case_file(path, rows)
        size = path.stat().st_size / 1e6
        ours = timed(lambda: load_file(path))
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        theirs = timed(lambda: yaml.load(path.read_text(encoding="utf-8"), Loader=loader))
    print(f"{rows} x 1000 logits, {size:.1f} MB")
    print(f"conformance load_file (parse, limits, marks, validation): {ours:6.2f} s")
    print(f"yaml.load with {loader.__name__} (parse only):           {theirs:6.2f} s")
    print(f"ratio: {theirs / ours:.1f}x")


if __name__ == "__main__":
    main()
