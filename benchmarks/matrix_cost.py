"""How far the runner is from its frameworks: the serial limit S against the run's wall time W.

S is what the frameworks themselves cost: every row's recipe, written beforehand, executed
by a bare worker of its framework (the same worker process a run uses: started, fed one
recipe after the other, closed), one framework after the other, and nothing else - no
oracle, no judging, no writing. W is ``conformance run`` on the same cases, frameworks and
dtypes, as a user runs it (a subprocess, reports included). Both are measured in this one
invocation, on this machine.

Printed per framework and in total: S (start-up and recipes), its CPU, the moment W's rows
of that framework were all written, then W, W/S and the harness's CPU: the run's own
process (read from /proc while it runs; its workers are not in it), as a share of the
frameworks' CPU, and, for comparison, the run's CPU with its workers minus S's CPU.
Two cores allow W/S of about 0.5 (two frameworks at a time, each single-threaded).

Run (the second run is the one to quote: the first fills the oracle and JAX caches):

    .venv/bin/python benchmarks/matrix_cost.py                       # the full matrix
    .venv/bin/python benchmarks/matrix_cost.py --cases cases/probes --frameworks torch,jax
    .venv/bin/python benchmarks/matrix_cost.py --out after/    # then: conformance diff before/ after/
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from conformance import frameworks as registry
from conformance.dtypes import DEFAULT_DTYPES
from conformance.evaluation import Evaluation, plan
from conformance.loader import load_cases
from conformance.process import WorkerFailure, WorkerProcess
from conformance.results import ResultsTail


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Serial:
    """One framework's recipes, executed by a bare worker."""

    rows: int = 0
    start: float = 0.0      # seconds to start the worker (import the framework)
    recipes: float = 0.0    # seconds executing the recipes
    cpu: float = 0.0        # the worker's CPU seconds
    crashes: int = 0

    @property
    def total(self) -> float:
        return self.start + self.recipes


def serial_limit(evaluations: list[Evaluation], timeout: float) -> dict[str, Serial]:
    by_framework: dict[str, list[Evaluation]] = defaultdict(list)
    for evaluation in evaluations:
        by_framework[evaluation.framework.name].append(evaluation)
    costs = {}
    for name, items in sorted(by_framework.items()):
        recipes = [e.recipe() for e in items]  # the suite's work, not the framework's: untimed
        cost, cpu0 = Serial(rows=len(recipes)), _children_cpu()
        began = time.perf_counter()
        worker = WorkerProcess(items[0].framework)
        hello = worker.start()
        cost.start = time.perf_counter() - began
        if hello.ready:
            began = time.perf_counter()
            for recipe in recipes:
                try:
                    worker.execute(recipe, timeout)
                except WorkerFailure:
                    cost.crashes += 1
                    worker.start()
            cost.recipes = time.perf_counter() - began
        worker.close()
        cost.cpu = _children_cpu() - cpu0
        costs[name] = cost
        print(f"  S {name:12} {cost.rows:5} rows  start {cost.start:6.1f} s  recipes {cost.recipes:6.1f} s"
              + ("" if hello.ready else f"  (not ready: {hello.reason[:80]})"), file=sys.stderr)
    return costs


@dataclass
class Whole:
    """``conformance run`` on the same matrix."""

    wall: float = 0.0
    cpu: float = 0.0        # the run's process and its workers
    own_cpu: float = 0.0    # the run's process alone: the harness (oracle, judging, writing, reports)
    returncode: int = 0
    finished: dict[str, float] = field(default_factory=dict)  # framework -> its last row written


def whole_run(args: argparse.Namespace, out: Path) -> Whole:
    command = [sys.executable, "-m", "conformance", "run", "--out", str(out), "--cases", *args.cases,
               "--dtypes", ",".join(args.dtypes)]
    if args.frameworks:
        command += ["--frameworks", ",".join(args.frameworks)]
    result, cpu0 = Whole(), _children_cpu()
    began = time.perf_counter()
    done = threading.Event()
    watcher = threading.Thread(target=_watch, args=(out / "results.jsonl", began, result.finished, done))
    watcher.start()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    sampler = threading.Thread(target=_sample_own_cpu, args=(proc.pid, result))
    sampler.start()
    _, stderr = proc.communicate()
    result.wall = time.perf_counter() - began
    done.set()
    watcher.join()
    sampler.join()
    result.cpu, result.returncode = _children_cpu() - cpu0, proc.returncode
    if proc.returncode not in (0, 1):
        print(stderr[-2000:], file=sys.stderr)
    return result


def _sample_own_cpu(pid: int, result: Whole) -> None:
    """The run's own CPU (all its threads, none of its workers), read from /proc until it
    exits: the last reading misses at most the final 0.1 s."""
    while True:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return
        if fields[0] == "Z":
            return
        result.own_cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        time.sleep(0.1)


def _watch(path: Path, began: float, finished: dict[str, float], done: threading.Event) -> None:
    """When each framework's last row reached results.jsonl (rows are appended as they finish)."""
    tail = ResultsTail(path)
    while True:
        stop = done.is_set()
        for row in tail.read():
            finished[row.framework] = time.perf_counter() - began
        if stop:
            return
        time.sleep(0.2)


def report(serial: dict[str, Serial], whole: Whole) -> str:
    lines = [f"{'framework':12} {'rows':>6} {'S start':>8} {'S recipes':>10} {'S':>7} {'S cpu':>7} "
             f"{'W done at':>10}"]
    for name, cost in sorted(serial.items(), key=lambda item: -item[1].total):
        done = whole.finished.get(name)
        lines.append(f"{name:12} {cost.rows:6} {cost.start:8.1f} {cost.recipes:10.1f} {cost.total:7.1f} "
                     f"{cost.cpu:7.1f} {done if done is not None else float('nan'):10.1f}")
    s = sum(c.total for c in serial.values())
    s_cpu = sum(c.cpu for c in serial.values())
    rows = sum(c.rows for c in serial.values())
    lines.append(f"{'total':12} {rows:6} {'':8} {'':10} {s:7.1f} {s_cpu:7.1f}")
    harness = whole.cpu - s_cpu
    lines += ["",
              f"S (serial limit)  {s:7.1f} s",
              f"W (conformance run, wall)  {whole.wall:7.1f} s   (exit {whole.returncode})",
              f"W/S  {whole.wall / s:.2f}" if s else "W/S  n/a",
              f"harness CPU (the run's own process: oracle, judging, writing, reports)  {whole.own_cpu:.1f} s = "
              f"{100 * whole.own_cpu / s_cpu:.0f} % of the frameworks' {s_cpu:.1f} s" if s_cpu else "CPU: n/a",
              f"(the run's CPU with its workers {whole.cpu:.1f} s, minus S's CPU: {harness:.1f} s; the "
              "frameworks' own CPU varies by several seconds between the two)"]
    crashes = sum(c.crashes for c in serial.values())
    if crashes:
        lines.append(f"({crashes} worker crashes while measuring S)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["cases"])
    parser.add_argument("--frameworks", type=lambda t: [x for x in t.split(",") if x], default=None)
    parser.add_argument("--dtypes", type=lambda t: [x for x in t.split(",") if x], default=list(DEFAULT_DTYPES))
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=None,
                        help="keep W's results and report here (default: a temporary directory), e.g. for "
                             "`conformance diff` against a run before a change")
    args = parser.parse_args(argv)
    loaded = load_cases(args.cases)
    frameworks = [registry.framework(n) for n in (args.frameworks or registry.names())]
    evaluations, _ = plan(loaded.cases, frameworks, tuple(args.dtypes))
    print(f"{len(loaded.cases)} cases, {len(frameworks)} frameworks, {len(args.dtypes)} dtypes: "
          f"{len(evaluations)} evaluations; {os.cpu_count()} cores", file=sys.stderr)
    serial = serial_limit(evaluations, args.timeout)
    if args.out is not None:  # the watcher must not read a previous run's rows
        (args.out / "results.jsonl").unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        whole = whole_run(args, args.out or Path(tmp))
    print(report(serial, whole))
    return 0


if __name__ == "__main__":
    sys.exit(main())
