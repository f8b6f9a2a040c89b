"""Command line: ``conformance run``, ``validate``, ``explain``, ``profile``, ``report``, ``diff``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from collections.abc import Sequence

import pandas as pd

import adapters
from conformance.dtypes import DEFAULT_DTYPES, DTYPES
from conformance.explain import explain, find_case, format_explanation
from conformance.profile import format_profile, profile
from conformance.loader import load_cases
from conformance.report import summary, write_reports
from conformance.diff import diff_results, format_diff
from conformance.results import failing, read_results, read_run_info
from conformance.runner import run


def _csv(allowed: Sequence[str], what: str):
    def parse(text: str) -> list[str]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        unknown = [t for t in items if t not in allowed]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {what} {', '.join(unknown)}; "
                                             f"choose from {', '.join(allowed)}")
        return items
    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="conformance", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run_cmd = commands.add_parser("run", help="run cases x bindings x dtypes and write reports")
    run_cmd.add_argument("--cases", nargs="+", default=["cases"], metavar="PATH")
    run_cmd.add_argument("--frameworks", type=_csv(list(adapters.ADAPTER_MODULES), "framework"),
                         default=list(adapters.ADAPTER_MODULES))
    run_cmd.add_argument("--dtypes", type=_csv(DTYPES, "dtype"), default=list(DEFAULT_DTYPES))
    run_cmd.add_argument("--out", default="reports/latest", metavar="DIR")
    run_cmd.add_argument("--timeout", type=float, default=60.0,
                         help="per-evaluation time limit in seconds (default 60)")
    validate = commands.add_parser("validate", help="check case files without running anything")
    validate.add_argument("paths", nargs="*", default=["cases"])
    explain = commands.add_parser("explain", help="one case on every binding, with the causes found")
    explain.add_argument("case_id")
    explain.add_argument("--binding", default=None, help="only this binding, e.g. torch.cross_entropy")
    explain.add_argument("--cases", nargs="+", default=["cases"], metavar="PATH")
    explain.add_argument("--dtypes", type=_csv(DTYPES, "dtype"), default=list(DEFAULT_DTYPES))
    report = commands.add_parser("report", help="render report.html (+ CSV, Parquet) from results files")
    report.add_argument("results", nargs="*", default=["reports/latest/results.jsonl"], metavar="RESULTS")
    report.add_argument("--out", default=None, metavar="FILE",
                        help="the HTML file (default: report.html beside the first results file)")
    report.add_argument("--baseline", default=None, metavar="OLD",
                        help="a results file of an earlier run: the report gains a diff section")
    diff = commands.add_parser("diff", help="what changed between two runs")
    diff.add_argument("old", metavar="OLD")
    diff.add_argument("new", metavar="NEW")
    prof = commands.add_parser("profile", help="the measured semantic table of every binding")
    prof.add_argument("--binding", default=None, help="only this binding")
    prof.add_argument("--cases", nargs="+", default=["cases/probes"], metavar="PATH",
                      help="probe cases to run (default cases/probes)")
    prof.add_argument("--results", default=None, metavar="FILE",
                      help="read rows from a results.jsonl instead of running the probes")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except (OSError, ValueError) as exc:  # a missing or unreadable results file, say
        print(f"conformance {args.command}: {exc}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "validate":
        loaded = load_cases(args.paths)
        for error in loaded.errors:
            print(error, file=sys.stderr)
        print(f"{len(loaded.cases)} valid cases, {len(loaded.errors)} errors")
        return 1 if loaded.errors else 0
    if args.command == "explain":
        return _explain(args)
    if args.command == "profile":
        return _profile(args)
    if args.command == "report":
        return _report(args)
    if args.command == "diff":
        changes = diff_results(read_results(args.old), read_results(args.new))
        print(format_diff(changes))
        return 1 if (changes["change"] == "new failure").any() else 0
    loaded = load_cases(args.cases)
    for error in loaded.errors:
        print(error, file=sys.stderr)
    frame = run(args.cases, args.frameworks, tuple(args.dtypes), args.out, args.timeout, loaded=loaded)
    write_reports(frame, args.out, loaded.errors, read_run_info(Path(args.out) / "results.jsonl"))
    print(summary(frame, loaded.errors))
    print(f"wrote {args.out}/results.jsonl, run.json, results.csv, results.parquet, report.html")
    return 1 if loaded.errors or failing(frame).any() else 0


def _explain(args: argparse.Namespace) -> int:
    try:
        case = find_case(args.case_id, args.cases)
    except KeyError as exc:
        print(exc.args[0], file=sys.stderr)
        return 2
    if args.binding and args.binding not in adapters.all_bindings():
        print(f"unknown binding {args.binding!r}; known: {', '.join(adapters.all_bindings())}",
              file=sys.stderr)
        return 2
    frame = explain(args.case_id, args.binding, args.cases, tuple(args.dtypes))
    print(format_explanation(case, frame))
    return 0


def _report(args: argparse.Namespace) -> int:
    frame = pd.concat([read_results(path) for path in args.results], ignore_index=True)
    page = Path(args.out) if args.out else Path(args.results[0]).with_name("report.html")
    baseline = read_results(args.baseline) if args.baseline else None
    written = write_reports(frame, page.parent, run_info=read_run_info(args.results[0]),
                            baseline=baseline, html_name=page.name)
    print(f"wrote {written} ({written.stat().st_size / 1e6:.1f} MB), results.csv, results.parquet")
    return 0


def _profile(args: argparse.Namespace) -> int:
    frame = read_results(args.results) if args.results else run(args.cases, out=None)
    table = profile(frame)
    if args.binding:
        table = table[table["binding"] == args.binding]
    print(format_profile(table))
    return 0 if table["agrees"].all() else 1


if __name__ == "__main__":
    sys.exit(main())
