"""The porting guide: equivalent calls across frameworks, each backed by passing rows.

For every canonical configuration the faithful cases exercise (loss, input
and target kinds, class layout, options, reduction), the guide gives each
binding's call - with the glue it needs - taken from a case where that
binding matched the oracle in every dtype of the run.
"""

from __future__ import annotations

import pandas as pd

COLUMNS = ["configuration", "framework", "binding", "call", "case_id", "passing_cases", "cases"]


def porting_guide(frame: pd.DataFrame, dtype: str = "float32") -> pd.DataFrame:
    """One row per (configuration, binding) with a call that reproduced the canonical loss.

    The call is shown as written for ``dtype`` where the run has it: the dtype a user would
    copy, not whichever came first (a bfloat16 call is rarely what a port needs)."""
    faithful = frame[(frame["mode"] == "faithful") & ~frame["binding"].str.endswith(".*")]
    if faithful.empty:
        return pd.DataFrame(columns=COLUMNS)
    passed = (faithful.groupby(["configuration", "binding", "case_id"], sort=False)["status"]
              .agg(lambda s: bool((s == "pass").all())).reset_index(name="all_pass"))
    # One proof row per (case, binding): the one in ``dtype`` where the run has it.
    first = (faithful.assign(_other_dtype=faithful["dtype"] != dtype)
             .sort_values("_other_dtype", kind="stable").drop_duplicates(["case_id", "binding"]))
    proofs = {(case, binding): {"framework": framework, "call": call} for case, binding, framework, call
              in zip(first["case_id"], first["binding"], first["framework"], first["call"])}
    rows = []
    for (configuration, binding), group in passed.groupby(["configuration", "binding"], sort=False):
        good = group[group["all_pass"]]
        if good.empty:
            continue
        case_id = good["case_id"].iloc[0]
        proof = proofs[(case_id, binding)]
        rows.append({"configuration": configuration, "framework": proof["framework"], "binding": binding,
                     "call": proof["call"], "case_id": case_id, "passing_cases": len(good),
                     "cases": len(group)})
    guide = pd.DataFrame(rows, columns=COLUMNS)
    return guide.sort_values(["configuration", "framework", "binding"], kind="stable", ignore_index=True)


def format_guide(guide: pd.DataFrame) -> str:
    """The guide as text: a block per configuration, one call per binding."""
    lines = []
    for configuration, group in guide.groupby("configuration", sort=False):
        lines.append(configuration)
        for _, row in group.iterrows():
            lines.append(f"  {row['binding']}   (proved by {row['case_id']}, "
                         f"{row['passing_cases']}/{row['cases']} cases pass)")
            lines += [f"      {line}" for line in str(row["call"]).splitlines()]
        lines.append("")
    return "\n".join(lines)
