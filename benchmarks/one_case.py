"""The loop a user lives in: one new case, every framework, through `conformance run` and pytest.

Writes a case no cache has seen (its numbers are drawn from the clock, so the oracle is
computed afresh on the first run and then comes from its cache, as it would for a user
re-running the case they are editing), then times, in one invocation, each as a user
types it:

- ``conformance run --cases one.yaml`` without warm workers (every framework started);
- the same with ``--keep-warm``: the first run (which leaves the workers), then the
  runs after it (the frameworks already started);
- ``pytest one.yaml`` the same two ways (``--conformance-keep-warm``).

Wall time of the whole command, median of ``--repeat`` runs (the first warm run is timed
once). The warm workers live in a directory of their own and are stopped at the end.

    .venv/bin/python benchmarks/one_case.py
    .venv/bin/python benchmarks/one_case.py --frameworks torch,jax --repeat 5
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CASE = """\
cases:
  - id: my-new-case
    title: A case no cache has seen
    loss: cross_entropy
    input: {{logits: [{rows}]}}
    target: {{index: [2, 0]}}
    expected: {expected}
"""


def _case(directory: Path) -> Path:
    """A two-row cross-entropy case with fresh numbers and its expected value (float64 is
    plenty for the 10 digits written)."""
    import math

    draw = random.Random(time.time_ns())
    rows = [[round(draw.uniform(-2, 2), 3) for _ in range(3)] for _ in range(2)]
    losses = [math.log(sum(math.exp(v) for v in row)) - row[t] for row, t in zip(rows, (2, 0))]
    path = directory / "one.yaml"
    path.write_text(CASE.format(rows=", ".join(str(r) for r in rows), expected=f"{sum(losses) / 2:.10g}"))
    return path


def _timed(command: list[str], environment: dict[str, str]) -> float:
    began = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True)
    took = time.perf_counter() - began
    if done.returncode not in (0, 1):  # 1: the run has failing rows, still a run
        sys.exit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frameworks", default=None, help="comma-separated (default: every installed one)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median; default 3)")
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="one-case-") as scratch, \
            tempfile.TemporaryDirectory(prefix="cw", dir="/tmp") as slots:
        root = Path(scratch)
        case = _case(root)
        environment = {**os.environ, "CONFORMANCE_WARM_DIR": slots}
        environment.pop("CONFORMANCE_KEEP_WARM", None)
        chosen = ["--frameworks", args.frameworks] if args.frameworks else []
        chosen_pytest = [f"--conformance-frameworks={args.frameworks}"] if args.frameworks else []
        run = [python, "-m", "conformance", "run", "--cases", str(case), "--out", str(root / "out"), "--quiet",
               *chosen]
        # The case beside the shipped ones, as a user adds it: the whole suite is loaded.
        pytest = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", f"conformance_cases=cases {root}",
                  str(case), *chosen_pytest]
        stop = [python, "-m", "conformance", "workers", "--stop"]
        rows = []
        for name, command, warm_flag in (("conformance run", run, ["--keep-warm", "10"]),
                                         ("pytest", pytest, ["--conformance-keep-warm=10"])):
            try:
                cold = [_timed(command, environment) for _ in range(args.repeat)]
                first = _timed(command + warm_flag, environment)
                warm = [_timed(command + warm_flag, environment) for _ in range(args.repeat)]
                rows.append((name, statistics.median(cold), first, statistics.median(warm)))
            finally:  # each command's first warm run starts the workers itself
                subprocess.run(stop, cwd=REPO, env=environment, capture_output=True)
                time.sleep(1.0)
    bytecode = "not written (PYTHONDONTWRITEBYTECODE)" if sys.dont_write_bytecode else "cached"
    print(f"one new case ({case.name}), frameworks: {args.frameworks or 'every installed one'}, "
          f"{os.cpu_count()} cores, Python bytecode {bytecode}; wall time of the command, "
          f"median of {args.repeat}\n")
    print(f"{'command':<18}{'no warm workers':>17}{'--keep-warm, 1st':>18}{'--keep-warm, then':>19}")
    for name, cold, first, warm in rows:
        print(f"{name:<18}{cold:>15.1f} s{first:>16.1f} s{warm:>17.1f} s")


if __name__ == "__main__":
    main()
