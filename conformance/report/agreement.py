"""The agreement matrix: for each loss and framework, how often the framework matches the mathematics.

Only faithful rows count (an ``as_is`` case asks another question), and only
rows that ran. A row matches when its value passes and its gradient, where one
was taken, does not deviate. A cell is *failing* when any row fails or errs,
*deviates* when some row deviates as documented, *agrees* when every row
matches, *empty* when the framework has no row of the loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import pandas as pd

from conformance.results import DEVIATING, FAILING


class Agreement(str, Enum):
    AGREES = "agrees"
    DEVIATES = "deviates"
    FAILING = "failing"
    EMPTY = "empty"


@dataclass(frozen=True)
class Cell:
    loss: str
    framework: str
    rows: int
    matching: int
    deviating: int
    failing: int

    @property
    def agreement(self) -> Agreement:
        if not self.rows:
            return Agreement.EMPTY
        if self.failing:
            return Agreement.FAILING
        return Agreement.DEVIATES if self.deviating else Agreement.AGREES

    def as_dict(self) -> dict:
        return {"loss": self.loss, "framework": self.framework, "rows": self.rows, "matching": self.matching,
                "deviating": self.deviating, "failing": self.failing, "agreement": self.agreement.value}


def agreement_cells(frame: pd.DataFrame) -> list[Cell]:
    """One cell per (loss, framework) pair that has a faithful row that ran."""
    ran = frame[(frame["mode"] == "faithful") & (frame["status"] != "skipped")]
    if ran.empty:
        return []
    grad = ran["grad_status"] if "grad_status" in ran else pd.Series(None, index=ran.index)
    marks = pd.DataFrame({
        "loss": ran["loss"], "framework": ran["framework"],
        "matching": (ran["status"] == "pass") & ~grad.isin(DEVIATING),
        "deviating": ran["status"].isin(DEVIATING) | grad.isin(DEVIATING),
        "failing": ran["status"].isin(FAILING) | grad.isin(FAILING),
    })
    totals = marks.groupby(["loss", "framework"], sort=True).agg(
        rows=("matching", "size"), matching=("matching", "sum"), deviating=("deviating", "sum"),
        failing=("failing", "sum"))
    return [Cell(loss, framework, int(r.rows), int(r.matching), int(r.deviating), int(r.failing))
            for (loss, framework), r in totals.iterrows()]
