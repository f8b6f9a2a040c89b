"""Measure what correct implementations achieve, per dtype: the basis of the tolerance policy.

The pass policy (:mod:`conformance.tolerance`) must be derived from measurement,
not borrowed: a bound far above what correct code achieves lets a float64 row
computed in float32 pass. This script takes a run's results and, for the rows
that are right by construction, prints the distribution of their error in
units of the dtype's machine epsilon at the scale ``max(1, |oracle|)`` (for a
gradient: at the gradient's size, its largest component), and the bound a small
factor above the largest error.

Right by construction:

- the NumPy reference (float64 and float32 accumulate in float64; half precision
  rounds the float64 result once), values;
- torch's stable paths: ``cross_entropy`` / ``CrossEntropyLoss`` on logits,
  ``binary_cross_entropy_with_logits`` / ``BCEWithLogitsLoss`` on logits,
  ``kl_div`` / ``KLDivLoss`` on log-probabilities, values and gradients;

in faithful cases with a finite oracle and no ``expect`` entry (a documented
deviation is not a correct computation).

Run:  .venv/bin/python -m conformance run --out /tmp/full
      .venv/bin/python benchmarks/tolerance_policy.py /tmp/full/results.parquet
"""

from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np
import pandas as pd

from conformance.number_text import decode
from conformance.tolerance import POLICY_ULPS

# (binding prefix, input kind): the paths that are right by construction.
STABLE = (
    ("numpy.", None),
    ("torch.cross_entropy", "logits"), ("torch.nn.CrossEntropyLoss", "logits"),
    ("torch.binary_cross_entropy_with_logits", "logits"), ("torch.nn.BCEWithLogitsLoss", "logits"),
    ("torch.kl_div", "log_probs"), ("torch.nn.KLDivLoss", "log_probs"),
)
# The policy is the next power of two at or above this factor times the largest error measured
# (the README and conformance/tolerance.py state the same rule).
FACTOR = 1.5


def _number(text: object) -> float | None:
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    return float(decode(json.loads(text)))


def right_by_construction(rows: pd.DataFrame) -> pd.DataFrame:
    keep = np.zeros(len(rows), dtype=bool)
    for prefix, kind in STABLE:
        hit = rows.binding.str.startswith(prefix)
        keep |= hit if kind is None else hit & (rows.input_kind == kind)
    return rows[keep & (rows["mode"] == "faithful")]


def measurements(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (evaluation, quantity) with its error in eps at the policy's scale
    (``scaled_err``, as :func:`conformance.compare.measure` records it)."""
    out = []
    for row in right_by_construction(rows).itertuples():
        for quantity, status, error in (("value", row.status, row.scaled_err),
                                        ("grad", row.grad_status, row.grad_scaled_err)):
            error = _number(error)
            if error is None or status in ("known", "skipped", "error"):
                continue
            out.append({"dtype": row.dtype, "quantity": quantity, "binding": row.binding,
                        "case": row.case_id, "error": error})
    return pd.DataFrame(out)


def summary(measured: pd.DataFrame) -> pd.DataFrame:
    table = measured.groupby(["dtype", "quantity"]).error.describe(percentiles=[0.5, 0.99])
    table = table[["count", "50%", "99%", "max"]].rename(columns={"50%": "median", "99%": "p99"})
    worst = measured.loc[measured.groupby(["dtype", "quantity"]).error.idxmax()]
    table["worst row"] = [f"{r.case}[{r.binding}]" for r in worst.itertuples()]
    table["bound"] = [2.0 ** math.ceil(math.log2(max(FACTOR * m, 1.0))) for m in table["max"]]
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="results.parquet of a `conformance run`")
    args = parser.parse_args(argv)
    table = summary(measurements(pd.read_parquet(args.results)))
    pd.set_option("display.width", 200)
    print("error of right-by-construction rows, in eps at max(1, |oracle|) (gradient: at its size)")
    print(table.to_string(float_format=lambda x: f"{x:.3g}"))
    print("\npolicy in conformance.tolerance (ULPs): " + ", ".join(f"{k} {v:g}" for k, v in POLICY_ULPS.items()))
    policy = {(d, q): POLICY_ULPS[d] for d, q in table.index}
    above = [f"{d} {q}" for (d, q), b in table["max"].items() if b > policy[(d, q)]]
    print("measured errors above the policy: " + (", ".join(above) if above else "none"))
    return 1 if above else 0


if __name__ == "__main__":
    sys.exit(main())
