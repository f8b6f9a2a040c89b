"""The discrepancy report: one self-contained HTML file, plus CSV and Parquet.

``report.html`` opens on the answer: the verdict, the findings (one line per
cause of deviation, worst first) and the agreement matrix (loss x framework).
Below them: two frameworks side by side, a case x binding map per loss, every
row in a filterable table with a card per row, accuracy in ULPs, gradients,
devices, the semantic table and the porting guide.

The rows are embedded once, as compressed columns (:mod:`conformance.report.payload`),
and the page draws tables, maps and cards from them when they are looked at, so
the file stays small as the matrix grows. Jinja2 autoescapes every string of the
server-drawn parts; the page's script puts case text in as text, never as markup.
It needs no network to open.
"""

from __future__ import annotations

import json
from importlib import metadata
from importlib.resources import files
from pathlib import Path
from collections.abc import Iterable

import pandas as pd

from conformance.diff import compare_runs
from conformance.loader import CaseError
from conformance.number_text import decoded_array
from conformance.porting import porting_guide
from conformance.profile import profile, semantic_table
from conformance.report.agreement import agreement_cells
from conformance.report.findings import findings, pitfalls
from conformance.report.text import count_failing, in_words, story, summary, verdict
from conformance.report.payload import encode, rows_payload
from conformance.results import DEVIATING, STATUSES

__all__ = ["export_frame", "in_words", "page_data", "render_html", "status_matrix", "summary", "write_reports"]

STATUS_COLOURS = {"pass": "#4caf50", "known": "#9575cd", "difference": "#ffb300",
                  "skipped": "#bdbdbd", "fail": "#e53935", "error": "#8e0000"}
# The page's worst-of order for a map cell (over dtypes, value and gradient): a row that did
# not apply hides nothing, a deviation shows through a pass.
WORST_LAST = ("skipped", "pass", "difference", "known", "fail", "error")
_STRUCTURED = ["value", "oracle", "expected", "abs_err", "rel_err", "ulp_err", "scaled_err", "warnings", "tags",
               "grad", "grad_oracle", "grad_max_abs_err", "grad_ulp_err", "grad_scaled_err",
               "case_data"]


def export_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows with nested values as JSON text, ready for CSV and Parquet."""
    out = frame.copy()
    for column in _STRUCTURED:
        if column in out:
            out[column] = out[column].map(lambda v: json.dumps(v) if v is not None else None)
    return out


def write_reports(frame: pd.DataFrame, out: str | Path, errors: Iterable[CaseError] = (),
                  run_info: dict | None = None, baseline: pd.DataFrame | None = None,
                  html_name: str = "report.html") -> Path:
    """Write ``results.csv``, ``results.parquet`` and the HTML report into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    exported = export_frame(frame)
    exported.to_csv(out / "results.csv", index=False)
    exported.to_parquet(out / "results.parquet", index=False)
    page = out / html_name
    page.write_text(render_html(frame, list(errors), run_info, baseline), encoding="utf-8")
    return page


def status_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    """Case x binding table; each cell lists ``dtype: status (ULP)`` for the run's dtypes."""
    if frame.empty:
        return pd.DataFrame()
    cells = frame.assign(cell=frame["dtype"] + ": " + frame["status"] + frame["ulp_err"].map(_ulps))
    return cells.pivot_table(index="case_id", columns="binding", values="cell",
                             aggfunc=lambda s: " / ".join(sorted(s)), sort=False).fillna("")


def _ulps(value: object) -> str:
    number = _as_float(value)
    return f" ({number:.3g} ULP)" if number is not None else ""


def _as_float(value: object) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None


def render_html(frame: pd.DataFrame, errors: list[CaseError] | tuple = (), run_info: dict | None = None,
                baseline: pd.DataFrame | None = None) -> str:
    """The whole report as one HTML string."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("conformance.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    counts = frame["status"].value_counts().reindex(STATUSES, fill_value=0)
    accuracy, zero_oracle = _accuracy(frame)
    return env.get_template("report.html.j2").render(
        verdict=verdict(frame, errors), failing=count_failing(frame, errors), story=story(frame),
        counts=[(s, int(n)) for s, n in counts.items() if n], colours=STATUS_COLOURS,
        statuses_json=json.dumps({"colours": STATUS_COLOURS, "worst_last": WORST_LAST,
                                  "deviating": sorted(DEVIATING)}),
        environment=_environment(frame, run_info or {}), errors=[str(e) for e in errors],
        accuracy=accuracy, zero_oracle=zero_oracle, gradients=_gradients(frame), devices=_devices(frame),
        semantic=_semantic(frame), porting=_porting(frame), diff=_diff(baseline, frame),
        data=encode(page_data(frame)), css=_asset("report.css"), script=_asset("report.js"))


def page_data(frame: pd.DataFrame) -> dict:
    """What the page's script draws from: the rows, the findings, the pitfalls and the agreement matrix."""
    frame = frame.reset_index(drop=True)
    return {"rows": rows_payload(frame), "findings": [f.as_dict() for f in findings(frame)],
            "pitfalls": [f.as_dict() for f in pitfalls(frame)],
            "agreement": [c.as_dict() for c in agreement_cells(frame)]}


def _asset(name: str) -> str:
    return files("conformance.report").joinpath("templates", name).read_text(encoding="utf-8")


def _environment(frame: pd.DataFrame, info: dict) -> list[tuple[str, str]]:
    rows = []
    for name, fw in sorted((info.get("frameworks") or {}).items()):
        versions = ", ".join(f"{k} {v}" for k, v in fw.get("versions", {}).items())
        rows.append((name, f"{versions} on {fw.get('device', '?')}" if fw.get("ready")
                     else f"not available: {fw.get('reason', '')}"))
    if not rows:
        versions = frame.dropna(subset=["framework_version"]).groupby("framework")["framework_version"].first()
        rows += [(name, version) for name, version in versions.items()]
    rows += [("python", info.get("python", "")), ("platform", info.get("platform", "")),
             ("devices", ", ".join(sorted(set(frame["device"].dropna())))),
             ("date", info.get("finished", "")), ("command", info.get("command", "")),
             ("loss-conformance", _own_version())]
    return [(k, v) for k, v in rows if v]


def _own_version() -> str:
    try:
        return metadata.version("loss-conformance")
    except metadata.PackageNotFoundError:
        return "not installed"


def _accuracy(frame: pd.DataFrame) -> tuple[str, str]:
    """ULP error at the exact loss's magnitude per framework and dtype over passing rows; rows whose
    exact loss has a 0 apart, by absolute error."""
    passing = frame[frame["status"] == "pass"].assign(ulp=frame["ulp_err"].map(_as_float),
                                                      abs_error=frame["abs_err"].map(_as_float))
    if passing.empty:
        return "", ""
    zero = passing["oracle"].map(_has_zero)
    measured = passing[~zero].dropna(subset=["ulp"])
    table = measured.groupby(["framework", "dtype"])["ulp"].agg(["count", "median", "max"])
    table.columns = ["passing rows", "median ULP", "max ULP"]
    zeros = passing[zero].groupby(["framework", "dtype"])["abs_error"].agg(["count", "max"])
    zeros.columns = ["passing rows", "max |error|"]
    render = dict(float_format=lambda v: f"{v:.3g}", escape=True, classes="plain")
    return (table.to_html(**render) if not table.empty else "",
            zeros.to_html(**render) if not zeros.empty else "")


def _has_zero(exact: object) -> bool:
    """Whether any element of the exact loss is 0, where a ULP is a subnormal's and says nothing."""
    array = decoded_array(exact)
    return array is not None and bool((array == 0).any())


def _gradients(frame: pd.DataFrame) -> str:
    """Gradient statuses per framework and dtype (rows without a gradient left out)."""
    if "grad_status" not in frame or frame["grad_status"].isna().all():
        return ""
    taken = frame.dropna(subset=["grad_status"])
    table = pd.crosstab([taken["framework"], taken["dtype"]], taken["grad_status"])
    return table.reindex(columns=[s for s in STATUSES if s in table.columns]).to_html(escape=True, classes="plain")


def device_comparison(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows evaluated on more than one device, side by side: value and status per device."""
    keys = ["case_id", "binding", "dtype"]
    several = frame.groupby(keys)["device"].transform("nunique") > 1
    if not several.any():
        return pd.DataFrame(columns=keys)
    table = frame[several].pivot_table(index=keys, columns="device", values=["status", "value"],
                                       aggfunc="first")
    table.columns = [f"{what} ({device})" for what, device in table.columns]
    return table.reset_index()


def _devices(frame: pd.DataFrame) -> dict:
    devices = sorted(set(frame["device"].dropna()))
    table = device_comparison(frame)
    if table.empty:
        return {"devices": devices, "table": ""}
    statuses = [c for c in table.columns if c.startswith("status (")]
    differing = table[table[statuses].nunique(axis=1) > 1]
    return {"devices": devices, "table": differing.to_html(index=False, escape=True, classes="plain")
            if not differing.empty else "", "compared": len(table)}


def _semantic(frame: pd.DataFrame) -> dict | None:
    table = profile(frame)
    if table.empty:
        return None
    wrong = table[~table["agrees"]]
    return {"table": semantic_table(table).to_html(escape=True, classes="plain"),
            "mismatches": [f"{r['binding']} {r['aspect']}: measured {r['measured']}, declared "
                           f"{r['declared']}" for _, r in wrong.iterrows()]}


def _porting(frame: pd.DataFrame) -> list[dict]:
    guide = porting_guide(frame, dtype="float32")
    return [{"configuration": configuration, "calls": group.to_dict("records")}
            for configuration, group in guide.groupby("configuration", sort=False)]


def _diff(baseline: pd.DataFrame | None, frame: pd.DataFrame) -> dict | None:
    if baseline is None:
        return None
    compared = compare_runs(baseline, frame)
    changes = compared.changes
    return {"summary": compared.counts(),
            "table": changes.to_html(escape=True, index=False, classes="plain") if not changes.empty else ""}


