"""Figures of the report, drawn with matplotlib and embedded as inline SVG."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd

STATUS_ORDER = ("pass", "known", "difference", "skipped", "fail", "error")
STATUS_COLOURS = {"pass": "#4caf50", "known": "#9575cd", "difference": "#ffb300",
                  "skipped": "#bdbdbd", "fail": "#e53935", "error": "#8e0000"}


def _worst(statuses: pd.Series) -> int:
    return max(STATUS_ORDER.index(s) for s in statuses)


def _ulps(values: pd.Series) -> float:
    numbers = [float(v) for v in values if v is not None and v == v and v != ""]
    numbers = [v if not math.isnan(v) else 0.0 for v in numbers]
    return math.log10(1 + max(numbers)) if numbers else np.nan


def heatmap_svg(frame: pd.DataFrame) -> str:
    """Cases x bindings, coloured by the worst status over dtypes and by log10(1 + ULP error)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    plt.rcParams["svg.hashsalt"] = "loss-conformance"  # deterministic ids
    cases = list(dict.fromkeys(frame["case_id"]))
    bindings = sorted(set(frame["binding"]))
    status = frame.groupby(["case_id", "binding"])["status"].agg(_worst).unstack()
    status = status.reindex(index=cases, columns=bindings)
    ulps = frame.groupby(["case_id", "binding"])["ulp_err"].agg(_ulps).unstack()
    ulps = ulps.reindex(index=cases, columns=bindings).clip(upper=16)
    height = max(3.0, 0.14 * len(cases) + 2.5)
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, height), sharey=True, layout="constrained")
    cmap = ListedColormap([STATUS_COLOURS[s] for s in STATUS_ORDER])
    cmap = cmap.with_extremes(bad="white")
    left.imshow(np.ma.masked_invalid(status.to_numpy(dtype=float)), aspect="auto", cmap=cmap,
                vmin=-0.5, vmax=len(STATUS_ORDER) - 0.5, interpolation="nearest")
    left.set_title("status (worst over dtypes)", pad=30)
    image = right.imshow(np.ma.masked_invalid(ulps.to_numpy(dtype=float)), aspect="auto",
                         cmap="viridis", vmin=0, vmax=16, interpolation="nearest")
    right.set_title("log10(1 + max ULP error)", pad=30)
    for axis in (left, right):
        axis.set_xticks(range(len(bindings)), bindings, rotation=90, fontsize=7)
        axis.set_yticks(range(len(cases)), cases, fontsize=6)
    handles = [plt.Rectangle((0, 0), 1, 1, color=STATUS_COLOURS[s]) for s in STATUS_ORDER]
    left.legend(handles, STATUS_ORDER, loc="lower left", bbox_to_anchor=(0, 1.07), ncol=6,
                fontsize=7, frameon=False)
    fig.colorbar(image, ax=right, shrink=0.3, label="log10(1 + ULP)")
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]
