"""Reports of a run: CSV, a first HTML page, and the terminal summary.

The HTML page is deliberately plain (pandas-rendered): a case x binding table
of statuses, then one section per non-pass row with everything needed to
understand and reproduce it. Every string is HTML-escaped.
"""

from __future__ import annotations

import html
import platform
from importlib import metadata
from pathlib import Path

import pandas as pd

from conformance.loader import CaseError
from conformance.porting import porting_guide
from conformance.profile import profile, semantic_table
from conformance.results import FAILING, STATUSES

_STATUS_COLOURS = {"pass": "#d9f2d9", "known": "#e6e6fa", "difference": "#fff3cd",
                   "fail": "#f8d7da", "error": "#f5b7b1", "skipped": "#eeeeee"}


def write_reports(frame: pd.DataFrame, out: str | Path, errors: list[CaseError] = ()) -> None:
    """Write ``results.csv`` and ``report.html`` into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out / "results.csv", index=False)
    (out / "report.html").write_text(render_html(frame, errors), encoding="utf-8")


def status_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    """Case x binding table; each cell lists ``dtype: status`` for the run's dtypes."""
    if frame.empty:
        return pd.DataFrame()
    cells = frame.assign(cell=frame["dtype"] + ": " + frame["status"] + frame["ulp_err"].map(_ulps))
    return cells.pivot_table(index="case_id", columns="binding", values="cell",
                             aggfunc=lambda s: " / ".join(sorted(s)), sort=False).fillna("")


def _ulps(value: object) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return ""
    return f" ({number:.3g} ULP)" if number == number else ""


def render_html(frame: pd.DataFrame, errors: list[CaseError] = ()) -> str:
    counts = frame["status"].value_counts().reindex(STATUSES, fill_value=0)
    parts = [f"<h1>loss-conformance report</h1><p><b>{_verdict(frame, errors)}</b> — "
             + ", ".join(f"{n} {s}" for s, n in counts.items() if n) + "</p>",
             "<h2>Environment</h2>" + _environment(frame)]
    if errors:
        parts.append("<h2>Case files with errors</h2><ul>" + "".join(
            f"<li><code>{html.escape(str(e))}</code></li>" for e in errors) + "</ul>")
    matrix = status_matrix(frame)
    styled = matrix.style.map(_cell_colour).set_table_attributes('class="matrix"')
    parts.append("<h2>Cases × bindings</h2>" + styled.to_html(table_uuid="matrix", escape="html"))
    parts.append(_profile_section(frame))
    parts.append(_porting_section(frame))
    parts.append("<h2>Every row that did not pass</h2>")
    for _, row in frame[frame["status"] != "pass"].iterrows():
        parts.append(_detail(row))
    body = "\n".join(parts)
    return ("<!doctype html><html><head><meta charset='utf-8'><title>loss-conformance</title>"
            "<style>body{font-family:sans-serif;margin:2em}td,th{border:1px solid #ccc;padding:2px 6px;"
            "font-size:12px}table{border-collapse:collapse}pre{background:#f6f6f6;padding:8px;"
            "overflow-x:auto}section{border-top:1px solid #999;margin-top:1em}</style></head>"
            f"<body>{body}</body></html>")


def _profile_section(frame: pd.DataFrame) -> str:
    table = profile(frame)
    if table.empty:
        return ""
    cells = semantic_table(table)
    wrong = table[~table["agrees"]]
    note = ("<p>Every measured cell agrees with the binding's declaration.</p>" if wrong.empty else
            "<p><b>Disagreements with the declarations:</b> " + html.escape("; ".join(
                f"{r['binding']} {r['aspect']}: measured {r['measured']}, declared {r['declared']}"
                for _, r in wrong.iterrows())) + "</p>")
    return ("<h2>Semantic table (measured by the probes)</h2>"
            + cells.to_html(escape=True) + note)


def _porting_section(frame: pd.DataFrame) -> str:
    guide = porting_guide(frame)
    if guide.empty:
        return ""
    e = html.escape
    out = ["<h2>Porting guide</h2><p>For each configuration the faithful cases exercise, the call of "
           "every binding that matched the oracle in every dtype, with the case that proves it.</p>"]
    for configuration, group in guide.groupby("configuration", sort=False):
        rows = "".join(f"<tr><td>{e(r['binding'])}</td><td><pre>{e(str(r['call']))}</pre></td>"
                       f"<td>{e(r['case_id'])} ({r['passing_cases']}/{r['cases']})</td></tr>"
                       for _, r in group.iterrows())
        out.append(f"<h3>{e(configuration)}</h3><table><tr><th>binding</th><th>call</th>"
                   f"<th>proved by</th></tr>{rows}</table>")
    return "\n".join(out)


def _verdict(frame: pd.DataFrame, errors) -> str:
    bad = int(frame["status"].isin(FAILING).sum()) + len(errors)
    return "FAILED: " + f"{bad} failing rows or case errors" if bad else "OK: no failures"


def _cell_colour(cell: str) -> str:
    worst = next((s for s in ("error", "fail", "difference", "known", "skipped", "pass") if s in cell), None)
    return f"background-color: {_STATUS_COLOURS[worst]}" if worst else ""


def _environment(frame: pd.DataFrame) -> str:
    versions = (frame.dropna(subset=["framework_version"])
                .groupby("framework")["framework_version"].first().to_dict())
    rows = {"python": platform.python_version(), "platform": platform.platform(),
            **{f"{k} version": v for k, v in versions.items()},
            "loss-conformance": _own_version()}
    return pd.Series(rows, name="value").to_frame().to_html(escape=True)


def _own_version() -> str:
    try:
        return metadata.version("loss-conformance")
    except metadata.PackageNotFoundError:
        return "not installed"


def _detail(row: pd.Series) -> str:
    e = html.escape
    fields = {"status": row["status"], "dtype": row["dtype"], "mode": row["mode"],
              "value": row["value"], "oracle": row["oracle"], "expected": row["expected"],
              "abs_err": row["abs_err"], "ulp_err": row["ulp_err"], "message": row["message"],
              "source": f"{row['file']}:{row['line']}", "link": row["link"]}
    table = "".join(f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in fields.items()
                    if v is not None and v == v and v != "")
    source = row.get("source") or ""
    cite = (f'<a href="{e(source)}">{e(source)}</a>' if source.startswith(("http://", "https://"))
            else e(source))
    return (f"<section><h3>{e(row['case_id'])} — {e(row['binding'])} ({e(row['dtype'])})</h3>"
            f"<p><i>{e(row.get('title') or '')}</i> {cite}</p>"
            f"<p>{e(row['explanation'])}</p><table>{table}</table>"
            f"<pre>{e(row['recipe'] or '')}</pre></section>")


def summary(frame: pd.DataFrame, errors: list[CaseError] = (), limit: int = 25) -> str:
    """A one-screen text summary of a run."""
    lines = []
    table = pd.crosstab(frame["framework"], frame["status"]).reindex(
        columns=[s for s in STATUSES if s in set(frame["status"])])
    lines.append(table.to_string())
    bad = frame[frame["status"].isin(FAILING)]
    for _, row in bad.head(limit).iterrows():
        lines.append(f"{row['status'].upper():6} {row['case_id']}[{row['binding']}-{row['dtype']}]: "
                     f"{row['explanation'][:200]}")
    if len(bad) > limit:
        lines.append(f"... and {len(bad) - limit} more failing rows (see results.csv)")
    for error in errors:
        lines.append(f"CASE   {error}")
    lines.append(_verdict(frame, errors))
    return "\n".join(lines)
