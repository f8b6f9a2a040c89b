"""Command line: ``conformance run``, ``validate``, ``explain``, ``compare``, ``fuzz``, ``profile``, ``report``,
``diff``, ``list``, ``schema``, ``audit``."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from importlib import metadata
from pathlib import Path
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from conformance import families
from conformance import frameworks as registry
from conformance import warm
from conformance.audit import Verdict, audit, documented, sample
from conformance.dtypes import DEFAULT_DTYPES, DTYPES
from conformance.evaluation import Evaluator
from conformance.explain import explain, find_case, format_explanation
from conformance.profile import format_profile, profile
from conformance.loader import DEFAULT_MAX_ELEMENTS, LoadLimits, load_cases
from conformance.report import in_words, summary, write_reports
from conformance.diff import compare_runs
from conformance.results import (FAILING, ResultsFileError, failing, merge_results, read_results, read_run_info,
                                 results_files)
from conformance.runner import run
from conformance.shard import Shard, ShardSpecError
from conformance.side_by_side import UnknownBinding, compare_bindings, format_comparison

if TYPE_CHECKING:
    from conformance.fuzz.search import SearchReport
from conformance.listing import format_bindings, format_cases, format_frameworks, format_listing, format_losses
from conformance.user_adapter import AdapterSpecError, UserAdapter, coverage
from conformance.validation import expected_errors


def _csv(allowed: Sequence[str], what: str):
    def parse(text: str) -> list[str]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        unknown = [t for t in items if t not in allowed]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {what} {', '.join(unknown)}; "
                                             f"choose from {', '.join(allowed)}")
        return items
    return parse


def _shard(text: str) -> Shard:
    try:
        return Shard.parse(text)
    except ShardSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="conformance", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run loss functions of several frameworks on the same cases and compare them with "
                    "the mathematics: value and gradient, in every dtype.",
        epilog="examples:\n"
               "  conformance run                                   # every case, every framework\n"
               "  conformance run --cases my.yaml --frameworks torch,keras\n"
               "  conformance run --cases my.yaml --keep-warm       # the next runs skip the frameworks' start-up\n"
               "  conformance explain ce-probs-zero-on-target       # why one case differs\n"
               "  conformance compare keras.CategoricalCrossentropy torch.cross_entropy\n"
               "  conformance fuzz --binding torch.binary_cross_entropy\n"
               "`conformance COMMAND --help` says more about each.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    run_cmd = commands.add_parser("run", help="run cases x bindings x dtypes and write reports")
    run_cmd.add_argument("--cases", nargs="+", default=["cases"], metavar="PATH",
                         help="case files or directories of them (default: cases)")
    run_cmd.add_argument("--frameworks", type=_csv(list(registry.names()), "framework"), default=None,
                         help="comma-separated frameworks (default: every installed one; with "
                              "--adapter, none but the adapter)")
    run_cmd.add_argument("--adapter", default=None, metavar="MODULE:FUNCTION",
                         help="test your own loss function, e.g. mypkg.losses:my_cross_entropy, called as "
                              "function(input, target)")
    run_cmd.add_argument("--as", dest="adapter_as", default=None, metavar="LOSS[INPUT,TARGET]",
                         help="what --adapter computes: e.g. cross_entropy[logits,index] (returns the "
                              "mean) or cross_entropy[logits,probs,sum]; the loss's options it takes as "
                              "keywords in parentheses: smooth_l1[predictions,values](beta,weight)")
    run_cmd.add_argument("--on", dest="adapter_on", default="torch", metavar="FRAMEWORK",
                         help="whose arrays --adapter takes (default torch)")
    run_cmd.add_argument("--dtypes", type=_csv(DTYPES, "dtype"), default=list(DEFAULT_DTYPES),
                         help=f"comma-separated dtypes (default: {','.join(DEFAULT_DTYPES)})")
    run_cmd.add_argument("--out", default="reports/latest", metavar="DIR",
                         help="where results.jsonl, the CSV, Parquet and report.html go (default: "
                              "reports/latest; replaced)")
    run_cmd.add_argument("--timeout", type=float, default=60.0,
                         help="per-evaluation time limit in seconds, for the framework's worker and "
                              "for the suite's own oracle and judging each (default 60)")
    run_cmd.add_argument("--startup-timeout", type=float, default=300.0, metavar="SECONDS",
                         help="how long a framework may take to import and start before its rows "
                              "are errors (default 300)")
    _add_max_elements(run_cmd)
    run_cmd.add_argument("--quiet", action="store_true",
                         help="no progress line (a terminal shows one; a CI log gets a line every 30 s)")
    run_cmd.add_argument("--shard", type=_shard, default=None, metavar="K/N",
                         help="evaluate only the K-th of N balanced shards of the matrix (e.g. 2/4), "
                              "for N machines; `conformance report DIR` merges their results")
    _add_keep_warm(run_cmd)
    run_cmd.add_argument("--resume", action="store_true",
                         help="keep the rows DIR/results.jsonl already has (an interrupted run) "
                              "and evaluate only the rest")
    validate = commands.add_parser("validate", help="check case files (and each literal expected "
                                   "against the oracle) without starting any framework")
    validate.add_argument("paths", nargs="*", default=["cases"], metavar="PATH",
                          help="case files or directories of them (default: cases)")
    validate.add_argument("--timeout", type=float, default=60.0,
                          help="time limit in seconds for the oracle of one case (default 60)")
    _add_max_elements(validate)
    explain = commands.add_parser("explain", help="one case on every binding, with the causes found")
    explain.add_argument("case_id", help="the id of a case, e.g. ce-probs-unnormalised (`conformance list cases`)")
    explain.add_argument("--binding", default=None, help="only this binding, e.g. torch.cross_entropy")
    explain.add_argument("--frameworks", type=_csv(list(registry.names()), "framework"), default=None,
                         help="comma-separated frameworks (default: every installed one)")
    explain.add_argument("--cases", nargs="+", default=["cases"], metavar="PATH",
                         help="where to look for the case (default: cases)")
    explain.add_argument("--dtypes", type=_csv(DTYPES, "dtype"), default=list(DEFAULT_DTYPES),
                         help=f"comma-separated dtypes (default: {','.join(DEFAULT_DTYPES)})")
    _add_keep_warm(explain)
    workers = commands.add_parser("workers", help="the warm workers --keep-warm left running (and --stop them)")
    workers.add_argument("--stop", action="store_true", help="stop every warm worker now")
    versus = commands.add_parser("compare", help="two bindings side by side on the cases both can express: "
                                 "where they disagree with each other, by how much, and why")
    versus.add_argument("binding_a", metavar="A", help="a binding id, e.g. keras.CategoricalCrossentropy")
    versus.add_argument("binding_b", metavar="B", help="a binding id of the same loss, e.g. torch.cross_entropy")
    versus.add_argument("--cases", nargs="+", default=["cases"], metavar="PATH",
                        help="case files or directories of them (default: cases)")
    versus.add_argument("--dtypes", type=_csv(DTYPES, "dtype"), default=list(DEFAULT_DTYPES),
                        help=f"comma-separated dtypes (default: {','.join(DEFAULT_DTYPES)})")
    versus.add_argument("--all", action="store_true", help="every disagreeing case, not the first 20")
    versus.add_argument("--csv", default=None, metavar="FILE", help="write every paired row to FILE")
    fuzz_cmd = commands.add_parser("fuzz", help="let hypothesis search bindings for discrepancies no case "
                                   "covers; each finding, shrunk to a minimal example, becomes a case file")
    fuzz_cmd.add_argument("--binding", action="append", default=[], metavar="ID",
                          help="a binding to search (repeat for more), e.g. torch.binary_cross_entropy")
    fuzz_cmd.add_argument("--loss", default=None, help="search every binding of this loss family")
    fuzz_cmd.add_argument("--dtypes", type=_csv(DTYPES, "dtype"), default=["float32", "float64"],
                          help="comma-separated dtypes (default: float32,float64)")
    fuzz_cmd.add_argument("--budget", default="200", help="per binding: a number of examples (200) or a "
                          "time (90s, 2m)")
    fuzz_cmd.add_argument("--out", default="fuzz-findings", metavar="DIR",
                          help="where each finding is written as a case file (default fuzz-findings)")
    fuzz_cmd.add_argument("--seed", type=int, default=0, help="hypothesis' seed: the same seed, budget and "
                          "versions replay the same search")
    fuzz_cmd.add_argument("--known", default="reports/latest/results.jsonl", metavar="RESULTS",
                          help="a run's results: findings its documented rows already show are known, not new")
    fuzz_cmd.add_argument("--quiet", action="store_true", help="no progress line")
    fuzz_cmd.add_argument("--properties", action="store_true",
                          help="check the metamorphic relations (shift, permutation, sum = mean x count...) "
                               "in depth instead")
    report = commands.add_parser("report", help="render report.html (+ CSV, Parquet) from results files; "
                                 "several files (or a directory of shards) are merged into one report")
    report.add_argument("results", nargs="*", default=["reports/latest/results.jsonl"], metavar="RESULTS",
                        help="results.jsonl files, or directories holding them (the shards of a run)")
    report.add_argument("--out", default=None, metavar="FILE",
                        help="the HTML file (default: report.html beside the first results file)")
    report.add_argument("--baseline", default=None, metavar="OLD",
                        help="a results file of an earlier run: the report gains a diff section")
    report.add_argument("--quiet", action="store_true", help="no progress line")
    diff = commands.add_parser("diff", help="what changed between two runs")
    diff.add_argument("old", metavar="OLD", help="a results.jsonl, or a directory of a run's shards")
    diff.add_argument("new", metavar="NEW", help="a results.jsonl, or a directory of a run's shards")
    listing = commands.add_parser(
        "list", help="what there is: frameworks (where each comes from), bindings, loss families, cases",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  conformance list                              # everything installed\n"
               "  conformance list bindings --framework keras --loss cross_entropy\n"
               "  conformance list cases --loss ctc --match blank\n"
               "  conformance list frameworks")
    listing.add_argument("what", nargs="?", choices=["all", "frameworks", "bindings", "losses", "cases"],
                         default="all", help="what to list (default: frameworks with their bindings, then "
                                             "the loss families)")
    listing.add_argument("--framework", choices=list(registry.names()), default=None, metavar="NAME",
                         help="bindings of this framework only")
    listing.add_argument("--loss", default=None, help="bindings or cases of this loss family only")
    listing.add_argument("--match", default=None, metavar="TEXT",
                         help="only names (or case titles) containing TEXT, ignoring case")
    listing.add_argument("--mode", choices=["faithful", "as_is"], default=None, help="cases of this mode only")
    listing.add_argument("--cases", nargs="+", default=["cases"], metavar="PATH",
                         help="where `list cases` looks (default: cases)")
    schema = commands.add_parser("schema", help="the JSON Schema of the case-file format, for editors "
                                 "(see docs/case-format.md for VS Code)")
    schema.add_argument("--out", default=None, metavar="FILE", help="write it to FILE (default: print it)")
    prof = commands.add_parser("profile", help="the measured semantic table of every binding")
    prof.add_argument("--binding", default=None, help="only this binding")
    prof.add_argument("--cases", nargs="+", default=["cases/probes"], metavar="PATH",
                      help="probe cases to run (default cases/probes)")
    prof.add_argument("--results", default=None, metavar="FILE",
                      help="read rows from a results.jsonl instead of running the probes")
    audit = commands.add_parser("audit", help="re-run every documented deviation without the suite's "
                                "glue and check that it is the API's own")
    audit.add_argument("--cases", nargs="+", default=["cases"], metavar="PATH",
                       help="case files or directories of them (default: cases)")
    audit.add_argument("--frameworks", type=_csv(list(registry.names()), "framework"), default=None,
                       help="comma-separated frameworks (default: every installed one)")
    audit.add_argument("--dtypes", type=_csv(DTYPES, "dtype"), default=list(DEFAULT_DTYPES),
                       help=f"comma-separated dtypes (default: {','.join(DEFAULT_DTYPES)})")
    audit.add_argument("--sample", type=_positive_int, default=None, metavar="N",
                       help="only N documented rows per framework, drawn with --seed (default: all)")
    audit.add_argument("--seed", type=int, default=0, help="the seed --sample draws with (default 0)")
    return parser


def _add_max_elements(command: argparse.ArgumentParser) -> None:
    command.add_argument("--max-elements", type=_positive_int, default=DEFAULT_MAX_ELEMENTS, metavar="N",
                         help="refuse a case holding more than N numbers, before allocating it "
                              f"(default {DEFAULT_MAX_ELEMENTS})")


def _add_keep_warm(command: argparse.ArgumentParser) -> None:
    command.add_argument("--keep-warm", type=_minutes, nargs="?", const=warm.DEFAULT_MINUTES, default=None,
                         metavar="MINUTES",
                         help="leave each framework's worker running, started, for the next run to use "
                              f"until it has been idle MINUTES (default {warm.DEFAULT_MINUTES:g}); the same as "
                              f"{warm.ENVIRONMENT}=MINUTES, which pytest reads too")


def _minutes(text: str) -> float:
    try:
        return warm.idle_seconds(float(text)) / 60.0
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of minutes >= 0") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("give a number of at least 1")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except BrokenPipeError:  # `conformance list | head`: the reader left; nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (OSError, ValueError) as exc:  # a missing or unreadable results file, say
        print(f"conformance {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: what was written stays; say how to go on, no traceback
        print(_interrupted(args, argv), file=sys.stderr)
        return 130


def _interrupted(args: argparse.Namespace, argv: list[str]) -> str:
    if args.command != "run":
        return f"\nconformance {args.command}: interrupted"
    again = shlex.join([*_program(), *argv, *([] if args.resume else ["--resume"])])
    return (f"\nconformance run: interrupted; the rows finished so far are in {args.out}/results.jsonl."
            f"\nTo evaluate only the rest and write the reports:\n  {again}")


def _program() -> list[str]:
    """How this process was started, as a command to type again."""
    if Path(sys.argv[0]).name == "conformance":  # the installed script, as it was typed
        return [sys.argv[0]]
    return [sys.executable, "-m", "conformance"]


# The commands that start frameworks' workers, and so read CONFORMANCE_KEEP_WARM.
_EVALUATING = frozenset({"run", "explain", "profile", "compare", "fuzz", "audit"})


def _dispatch(args: argparse.Namespace) -> int:
    if args.command in _EVALUATING and getattr(args, "keep_warm", None) is None:
        warm.idle_seconds()  # a wrong setting is refused before any work, naming the variable
    if args.command == "validate":
        return _validate(args)
    if args.command == "explain":
        return _explain(args)
    if args.command == "profile":
        return _profile(args)
    if args.command == "compare":
        return _compare(args)
    if args.command == "fuzz":
        return _fuzz(args)
    if args.command == "report":
        return _report(args)
    if args.command == "list":
        return _list(args)
    if args.command == "schema":
        return _schema(args)
    if args.command == "audit":
        return _audit(args)
    if args.command == "workers":
        return _workers(args)
    if args.command == "diff":
        try:
            old, new = merge_results([args.old]), merge_results([args.new])
        except ResultsFileError as exc:
            print(f"conformance diff: {exc}", file=sys.stderr)
            return 2
        compared = compare_runs(old, new)
        print(compared.text())
        return 1 if (compared.changes["change"] == "new failure").any() else 0
    adapter = _adapter(args)
    if isinstance(adapter, str):
        print(f"conformance run: {adapter}", file=sys.stderr)
        return 2
    loaded = load_cases(args.cases, LoadLimits(max_elements=args.max_elements))
    for error in loaded.errors:
        print(error, file=sys.stderr)
    if not loaded.cases:
        print(_nothing_to_run(args.cases, loaded.errors), file=sys.stderr)
        return 2
    if adapter is not None:
        covered = coverage(adapter, loaded.cases)
        if covered.not_run:
            print(covered.text(), file=sys.stderr)
        if not covered.runs and not args.frameworks:  # with --frameworks, those still run
            return 2
    broken = [f"framework {name!r} ({r.reference}, from {r.distribution}) is installed but cannot be "
              f"loaded: {r.problem}" for name, r in registry.registrations().items() if r.problem]
    for problem in broken:
        print(problem, file=sys.stderr)
    progress = Progress(sys.stderr, quiet=args.quiet)
    frame = run(args.cases, args.frameworks, tuple(args.dtypes), args.out, args.timeout, loaded=loaded,
                resume=args.resume, startup_timeout=args.startup_timeout, adapter=adapter, shard=args.shard,
                on_result=progress, on_plan=progress.plan, keep_warm=args.keep_warm)
    progress.clear()
    if frame.empty and args.shard is None:  # a shard of a small matrix may be empty
        print(f"nothing to run: no binding of {', '.join(args.frameworks or ['the installed frameworks'])} can express any of "
              f"the {len(loaded.cases)} cases loaded in {', '.join(args.dtypes)} (`conformance list bindings` "
              "says which losses each computes)", file=sys.stderr)
        return 2
    progress.say("writing the reports")
    page = write_reports(frame, args.out, loaded.errors, read_run_info(Path(args.out) / "results.jsonl"))
    progress.clear()
    print(summary(frame, loaded.errors))
    print(in_words(frame, page))
    print(f"wrote {args.out}/results.jsonl, run.json, results.csv, results.parquet, report.html")
    return 1 if loaded.errors or broken or failing(frame).any() else 0


def _version() -> str:
    try:
        return metadata.version("loss-conformance")
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return "(not installed)"


class StatusLine:
    """A line of progress on ``stream`` while a command runs: rewritten in place on a terminal at
    most twice a second, a new line every 30 s otherwise (a CI log); nothing when ``quiet``."""

    def __init__(self, stream, quiet: bool = False) -> None:
        self.stream = stream
        self.started = self.shown = time.monotonic()
        self.tty = stream.isatty()
        self.quiet = quiet

    def say(self, text: str) -> None:
        """Show ``text`` now (on a terminal only: a CI log needs no 'writing the reports')."""
        if self.tty and not self.quiet:
            self.stream.write(f"\r{text}   ")
            self.stream.flush()

    def show(self, text: str) -> None:
        now = time.monotonic()
        if self.quiet or now - self.shown < (0.5 if self.tty else 30.0):
            return
        self.shown = now
        self.stream.write(f"\r{text}   " if self.tty else text + "\n")
        self.stream.flush()

    def clear(self) -> None:
        if self.tty and not self.quiet:
            self.stream.write("\r" + " " * 72 + "\r")
            self.stream.flush()


class Progress(StatusLine):
    """``run``'s progress: rows done of the planned, failing so far, elapsed time and the time left
    at the pace so far."""

    def __init__(self, stream, quiet: bool = False) -> None:
        super().__init__(stream, quiet)
        self.done = self.failing = 0
        self.total: int | None = None

    def plan(self, total: int) -> None:
        self.total = total
        self.started = time.monotonic()

    def __call__(self, result) -> None:
        self.done += 1
        self.failing += result.status in FAILING or result.grad_status in FAILING
        elapsed = time.monotonic() - self.started
        self.show(f"{self.done:,}{f' of {self.total:,}' if self.total else ''} rows evaluated, "
                  f"{self.failing} failing, {elapsed:.0f} s{self._left(elapsed)}")

    def _left(self, elapsed: float) -> str:
        if not self.total or self.done < 20 or self.done >= self.total:
            return ""
        left = elapsed / self.done * (self.total - self.done)
        return f", about {left / 60:.0f} min left" if left >= 90 else f", about {left:.0f} s left"


def _fuzz(args: argparse.Namespace) -> int:
    # Imported here: the fuzz package imports hypothesis, which no other command needs.
    try:
        from conformance.fuzz import Budget, chosen_bindings, fuzz
    except ModuleNotFoundError as exc:
        if exc.name != "hypothesis":
            raise
        print("conformance fuzz needs hypothesis: pip install 'loss-conformance[fuzz]'", file=sys.stderr)
        return 2

    try:
        budget = Budget.parse(args.budget)
        chosen_bindings(args.binding, args.loss)
    except (LookupError, ValueError) as exc:
        print(f"conformance fuzz: {exc}", file=sys.stderr)
        return 2
    if args.properties:
        from conformance.fuzz.properties import check_properties, format_violations

        violations = check_properties(args.binding, args.loss, tuple(args.dtypes), budget, args.seed)
        print(format_violations(violations))
        return 1 if violations else 0
    status = StatusLine(sys.stderr, quiet=args.quiet)
    reports = fuzz(args.binding, args.loss, tuple(args.dtypes), budget, args.out, args.seed, args.known,
                   progress=lambda r: status.show(f"{r.binding}: {r.examples} examples, "
                                                  f"{len(r.findings)} findings, {r.seconds:.0f} s"))
    status.clear()
    for report in reports:
        print(format_search(report))
    return 1 if any(not f.known_by for r in reports for f in r.findings) else 0


def format_search(report: SearchReport) -> str:
    """A binding's search in a few lines: counts, then each finding, new first."""
    if report.unsupported:
        return f"{report.binding}: not searched: {report.unsupported}"
    new = sum(not f.known_by for f in report.findings)
    lines = [f"{report.binding}: {report.examples} examples in {report.seconds:.0f} s: "
             f"{len(report.findings)} findings ({new} new, {len(report.findings) - new} known)"]
    for f in sorted(report.findings, key=lambda f: (bool(f.known_by), f.quantity, -f.hits)):
        where = f"documented by {f.known_by}" if f.known_by else f"-> {f.file}" if f.file else ""
        lines.append(f"  {'known' if f.known_by else 'new':5}  {f.quantity:5}  {f.summary} "
                     f"({f.hits} examples, {f.dtype}) {where}")
    return "\n".join(lines)


def _compare(args: argparse.Namespace) -> int:
    loaded = load_cases(args.cases)
    for error in loaded.errors:
        print(error, file=sys.stderr)
    try:
        frame = compare_bindings(args.binding_a, args.binding_b, dtypes=tuple(args.dtypes), loaded=loaded)
    except UnknownBinding as exc:
        print(f"conformance compare: {exc}", file=sys.stderr)
        return 2
    print(format_comparison(frame, args.binding_a, args.binding_b, limit=10**9 if args.all else 20))
    if args.csv:
        frame.to_csv(args.csv, index=False)
        print(f"wrote {args.csv}")
    return 1 if not frame.empty and (~frame.agree | (frame.grad_agree == False)).any() else 0  # noqa: E712


def _audit(args: argparse.Namespace) -> int:
    loaded = load_cases(args.cases)
    for error in loaded.errors:
        print(error, file=sys.stderr)
    chosen = registry.frameworks(args.frameworks)
    claims = documented(loaded.cases, chosen, tuple(args.dtypes))
    if args.sample:
        claims = sample(claims, args.sample, args.seed)
    evaluator = Evaluator()
    try:
        findings = audit(claims, evaluator, on_finding=lambda f: f.verdict != Verdict.HOLDS and print(f.line()))
    finally:
        evaluator.close()
    counts = pd.Series([f.verdict.value for f in findings]).value_counts()
    print(f"audited {len(claims)} documented rows: " + ", ".join(f"{n} {v}" for v, n in counts.items()))
    return 1 if loaded.errors or any(f.verdict in (Verdict.GLUE, Verdict.DIFFERS, Verdict.ERROR)
                                     for f in findings) else 0


def _adapter(args: argparse.Namespace) -> UserAdapter | str | None:
    """The user's adapter, None without one, or what is wrong with it."""
    if args.adapter is None and args.adapter_as is None:
        return None
    if args.adapter is None or args.adapter_as is None:
        return ("--adapter and --as go together, e.g. --adapter mypkg.losses:my_ce "
                "--as 'cross_entropy[logits,index]'")
    try:
        return UserAdapter.parse(args.adapter, args.adapter_as, args.adapter_on)
    except AdapterSpecError as exc:
        return str(exc)


def _validate(args: argparse.Namespace) -> int:
    loaded = load_cases(args.paths, LoadLimits(max_elements=args.max_elements))
    errors = loaded.errors + expected_errors(loaded.cases, args.timeout)
    for error in sorted(errors, key=lambda e: (e.file, e.line, e.column)):
        print(error, file=sys.stderr)
    wrong = {(e.file, e.case_id) for e in errors if e.field == "expected"}
    valid = sum((c.file, c.id) not in wrong for c in loaded.cases)
    print(f"{valid} valid cases, {len(errors)} errors")
    if not loaded.cases and not errors:
        print(_nothing_to_run(args.paths, errors), file=sys.stderr)
        return 2
    return 1 if errors else 0


def _nothing_to_run(paths: Sequence[str], errors: Sequence[object]) -> str:
    where = ", ".join(paths)
    if errors:
        return f"no valid case in {where}: fix the problems listed above and run again"
    return (f"no case files in {where}: give YAML files or directories holding them "
            "(e.g. --cases cases/cross_entropy)")


def _schema(args: argparse.Namespace) -> int:
    from conformance.schema import case_file_schema

    text = json.dumps(case_file_schema(), indent=1) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    return 0


# Which filters each listing takes; another is a usage error, not silently ignored.
LIST_FILTERS = {"all": set(), "frameworks": {"match"}, "bindings": {"framework", "loss", "match"},
                "losses": {"match"}, "cases": {"loss", "match", "mode", "cases"}}


def _list(args: argparse.Namespace) -> int:
    given = {name for name in ("framework", "loss", "match", "mode") if getattr(args, name) is not None}
    given |= {"cases"} if args.cases != ["cases"] else set()
    if given - LIST_FILTERS[args.what]:
        takes = ", ".join(f"--{f}" for f in sorted(LIST_FILTERS[args.what])) or "no filter"
        print(f"conformance list {args.what} takes {takes}; not "
              f"{', '.join(f'--{f}' for f in sorted(given - LIST_FILTERS[args.what]))}", file=sys.stderr)
        return 2
    if args.loss and args.loss not in families.names():
        print(f"unknown loss {args.loss!r}; choose from {', '.join(families.names())}", file=sys.stderr)
        return 2
    if args.what == "cases":
        text, errors = format_cases(args.cases, args.loss, args.match, args.mode)
        print(text)
        for error in errors:
            print(error, file=sys.stderr)
        return 1 if errors else 0
    print({"all": format_listing, "frameworks": lambda: format_frameworks(args.match),
           "bindings": lambda: format_bindings(args.framework, args.loss, args.match),
           "losses": lambda: format_losses(args.match)}[args.what]())
    return 0


def _explain(args: argparse.Namespace) -> int:
    try:
        case = find_case(args.case_id, args.cases)
    except KeyError as exc:
        print(exc.args[0], file=sys.stderr)
        return 2
    if args.binding and args.binding not in registry.all_bindings():
        print(f"unknown binding {args.binding!r}; known: {', '.join(registry.all_bindings())}",
              file=sys.stderr)
        return 2
    frame = explain(args.case_id, args.binding, args.cases, tuple(args.dtypes), frameworks=args.frameworks,
                    keep_warm=args.keep_warm)
    print(format_explanation(case, frame))
    return 0


def _workers(args: argparse.Namespace) -> int:
    if args.stop:
        stopped = warm.stop_all()
        print(f"stopped {len(stopped)} warm worker{'s' if len(stopped) != 1 else ''}")
        return 0
    found = [info for info in warm.warm_workers() if info.running]
    if not found:
        print(f"no warm workers (in {warm.directory()}); `conformance run --keep-warm` leaves some")
        return 0
    now = time.time()
    for info in found:
        print(f"{info.framework:<14} pid {info.pid:<8} started {(now - info.started) / 60:6.1f} min ago, "
              f"leaves after {info.idle / 60:g} min idle")
    print(f"{len(found)} warm worker{'s' if len(found) != 1 else ''} in {warm.directory()}; "
          "`conformance workers --stop` stops them")
    return 0


def _report(args: argparse.Namespace) -> int:
    status = StatusLine(sys.stderr, quiet=args.quiet)
    try:
        files = results_files(args.results)
        status.say(f"reading {len(files)} results file{'s' if len(files) != 1 else ''}")
        frame = merge_results(files)
        baseline = merge_results([args.baseline]) if args.baseline else None
    except ResultsFileError as exc:
        print(f"conformance report: {exc}", file=sys.stderr)
        return 2
    page = Path(args.out) if args.out else files[0].with_name("report.html")
    info = read_run_info(files[0])
    if len(files) > 1:
        info = {**info, "merged": [str(f) for f in files]}
    status.say(f"writing the report of {len(frame):,} rows")
    written = write_reports(frame, page.parent, run_info=info, baseline=baseline, html_name=page.name)
    status.clear()
    size = written.stat().st_size
    print(f"wrote {written} ({f'{size / 1e6:.1f} MB' if size >= 1e5 else f'{size / 1e3:.0f} kB'}), "
          "results.csv, results.parquet")
    return 0


def _profile(args: argparse.Namespace) -> int:
    bindings = registry.all_bindings()
    if args.binding and args.binding not in bindings:
        print(f"unknown binding {args.binding!r}; `conformance list bindings` shows them", file=sys.stderr)
        return 2
    # One binding's profile needs its own framework's worker only.
    frameworks = [bindings[args.binding].framework.name] if args.binding else None
    frame = read_results(args.results) if args.results else run(args.cases, frameworks, out=None)
    table = profile(frame)
    if args.binding:
        table = table[table["binding"] == args.binding]
    print(format_profile(table))
    return 0 if table["agrees"].all() else 1


if __name__ == "__main__":
    sys.exit(main())
