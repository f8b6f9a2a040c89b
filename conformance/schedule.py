"""How a run spreads its rows over worker processes ("lanes").

Every framework gets a worker of its own, and the frameworks run side by side. But one
framework's rows in one worker are a serial chain: if one framework costs more than the
machine's share of the whole (the run's work divided by its cores), that chain alone
sets the run's wall time. Such a framework gets more lanes - more workers of the same
framework, which take its cases one at a time from a shared queue (so they finish
together, and a case's rows stay in one worker, whose in-memory caches, e.g. JAX's
compiled executables, serve its dtypes and bindings) - and the costliest lanes start first.

A framework's cost per row is measured: each run records the CPU seconds its workers spent
on their recipes (not on starting the framework, which would make a run of one case look
a hundred times dearer per row), folded into the record by rows, and the next run plans
with them (``~/.cache/loss-conformance/costs.json``, next to the oracle's cache;
``CONFORMANCE_COSTS`` names another file, or ``off``). Without a record every row counts
the same.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from conformance.evaluation import Evaluation
from conformance.oracle_cache import OFF, default_path

# More workers of one framework than this buys little: each imports the framework anew.
MAX_LANES = 4
SLACK = 0.25


class Work:
    """One framework's rows, in blocks of one case each, taken by its lanes as they go: the
    lanes of a framework finish together, and a case's rows stay in one worker."""

    def __init__(self, evaluations: Sequence[Evaluation]):
        blocks: dict[str, list[Evaluation]] = {}
        for evaluation in evaluations:
            blocks.setdefault(evaluation.case.id, []).append(evaluation)
        self._blocks = deque(blocks.values())
        self._lock = threading.Lock()

    def take(self) -> list[Evaluation]:
        """The next case's rows ([] when none are left)."""
        with self._lock:
            return self._blocks.popleft() if self._blocks else []


@dataclass(frozen=True)
class Lane:
    framework: str
    index: int                 # 0 for the framework's first worker
    work: Work                 # shared by the framework's lanes
    cost: float                # expected seconds of this lane


# ``off``, or a file: where the record is kept (the suite's own tests keep theirs apart).
COSTS_ENVIRONMENT = "CONFORMANCE_COSTS"


def costs_path() -> Path | None:
    setting = os.environ.get(COSTS_ENVIRONMENT, "")
    if setting.lower() in OFF:
        return None
    if setting:
        return Path(setting)
    oracle = default_path()
    return oracle.with_name("costs.json") if oracle is not None else None


# A framework's record weighs the rows it was measured on, up to this many: a run of one
# case moves the record of a full matrix by a little, and a changed framework shows
# within a run or two.
REMEMBERED_ROWS = 20_000


def read_costs(path: Path | None = None) -> dict[str, float]:
    """Seconds per row by framework, as the runs so far measured them ({} if none)."""
    return {name: per_row for name, (per_row, _) in _records(path).items()}


def _records(path: Path | None = None) -> dict[str, tuple[float, int]]:
    """(seconds per row, rows it was measured on) by framework."""
    path = path if path is not None else costs_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path else {}
        records = {}
        for name, value in data.items():
            # An older file held the seconds per row alone: it weighs nothing.
            per_row, rows = (value, 0) if isinstance(value, (int, float)) else (value["per_row"], value["rows"])
            if float(per_row) > 0:
                records[str(name)] = (float(per_row), int(rows))
        return records
    except (OSError, ValueError, TypeError, AttributeError, KeyError):
        return {}


def write_costs(measured: dict[str, tuple[float, int]], path: Path | None = None) -> None:
    """Fold this run's measurements (CPU seconds of the recipes, rows) into the record,
    weighed by rows (the frameworks this run did not measure are kept)."""
    path = path if path is not None else costs_path()
    if path is None:
        return
    records = _records(path)
    for name, (seconds, rows) in measured.items():
        if rows <= 0 or seconds <= 0:
            continue
        before, weight = records.get(name, (0.0, 0))
        per_row = (before * weight + seconds) / (weight + rows)
        records[name] = (per_row, min(weight + rows, REMEMBERED_ROWS))
    data = {name: {"per_row": per_row, "rows": rows} for name, (per_row, rows) in records.items()}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        temporary.replace(path)
    except OSError:
        pass


def plan_lanes(evaluations: Sequence[Evaluation], costs: dict[str, float] | None = None,
               cores: int | None = None) -> list[Lane]:
    """The lanes for ``evaluations``, costliest first."""
    costs = read_costs() if costs is None else costs
    cores = cores or os.cpu_count() or 1
    by_framework: dict[str, list[Evaluation]] = defaultdict(list)
    for evaluation in evaluations:
        by_framework[evaluation.framework.name].append(evaluation)
    default = sum(costs.values()) / len(costs) if costs else 1.0
    cost = {name: len(rows) * costs.get(name, default) for name, rows in by_framework.items()}
    share = sum(cost.values()) / cores
    lanes = []
    for name, rows in by_framework.items():
        # A framework a little over its share (within SLACK) is not worth another worker: each
        # new worker warms its own caches (measured: tinygrad in two workers costs 20 % more CPU).
        wanted = math.ceil(cost[name] / share - SLACK) if share else 1
        work = Work(rows)
        count = max(1, min(MAX_LANES, cores, len({e.case.id for e in rows}), wanted))
        lanes += [Lane(name, index, work, cost[name] / count) for index in range(count)]
    return sorted(lanes, key=lambda lane: (-lane.cost, lane.framework, lane.index))
