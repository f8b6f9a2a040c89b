"""Shards: a deterministic, balanced 1/N of the matrix, so N machines share one run.

``conformance run --shard K/N`` (and pytest's ``--conformance-shard K/N``) evaluates the
K-th of N shards. Within each framework the rows are ordered by (case, binding, dtype)
and dealt out in turn, so every shard gets an equal share (to within one row) of every
framework's rows - the expensive frameworks are split, not handed to one machine - and
the N shards together are the unsharded matrix, each row exactly once. The deal depends
only on the rows, so every machine computes the same split without talking to the others.
``conformance report`` and ``conformance diff`` merge the shards' results files.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from conformance.evaluation import Evaluation
    from conformance.results import Result

Row = TypeVar("Row")
_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


class ShardSpecError(ValueError):
    """A --shard that is not K/N with 1 <= K <= N."""


@dataclass(frozen=True)
class Shard:
    index: int   # 1-based: K of K/N
    count: int   # N

    @classmethod
    def parse(cls, text: str) -> Shard:
        match = _SPEC.match(text)
        if not match:
            raise ShardSpecError(f"--shard takes K/N, e.g. 2/4 for the second of four shards; got {text!r}")
        index, count = int(match[1]), int(match[2])
        if not 1 <= index <= count:
            raise ShardSpecError(f"--shard {text}: K must be between 1 and N")
        return cls(index, count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def select(self, rows: Iterable[Row], framework: Callable[[Row], str],
               key: Callable[[Row], tuple[str, ...]]) -> list[Row]:
        """This shard's rows: each framework's rows, ordered by ``key``, dealt out in turn."""
        by_framework: dict[str, list[Row]] = defaultdict(list)
        for row in rows:
            by_framework[framework(row)].append(row)
        chosen = []
        for name in sorted(by_framework):
            ordered = sorted(by_framework[name], key=key)
            # Start each framework's deal where the last one stopped, so the single leftover
            # rows of small frameworks do not all land on the first shard.
            start = sum(len(by_framework[n]) for n in sorted(by_framework) if n < name)
            chosen += [row for i, row in enumerate(ordered) if (start + i) % self.count == self.index - 1]
        return chosen

    def of_plan(self, evaluations: list[Evaluation], planned: list[Result]) -> tuple[list[Evaluation], list[Result]]:
        """This shard of a :func:`~conformance.evaluation.plan`: its evaluations and its
        planned (skipped) rows, each keyed by (case, binding, dtype)."""
        return (self.select(evaluations, lambda e: e.framework.name, lambda e: (e.case.id, e.binding.id, e.dtype)),
                self.select(planned, lambda r: r.framework, lambda r: (r.case_id, r.binding, r.dtype)))
