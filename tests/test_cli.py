"""`conformance run` and `conformance validate` as a user calls them."""

from __future__ import annotations

import io
import subprocess
import sys
from types import SimpleNamespace

from conformance.cli import Progress
from tests.conftest import REPO, needs

GOOD = """
cases:
  - id: cli-good
    loss: binary_cross_entropy
    input: {logits: [0.0]}
    target: {probs: [1.0]}
    pos_weight: [3.0]
    expected: 2.079441542
"""


def conformance(*args: str, cwd=REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "conformance", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


@needs("torch")
def test_run_writes_the_three_reports_and_exits_0(write_cases, tmp_path):
    path = write_cases(GOOD)
    done = conformance("run", "--cases", str(path), "--frameworks", "torch", "--dtypes", "float32",
                       "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stdout + done.stderr
    for name in ("results.jsonl", "results.csv", "results.parquet", "run.json", "report.html"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    assert "OK: no failures" in done.stdout and "torch" in done.stdout
    # In words, with the path of the report to open.
    assert "match the mathematics" in done.stdout
    assert f"Open {tmp_path / 'out' / 'report.html'} for every finding" in done.stdout


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_says_how_far_and_how_long_is_left_and_is_silent_when_quiet():
    shown = Terminal()
    progress = Progress(shown)
    progress.plan(100)
    progress.started -= 10.0  # as if 10 s had passed
    for _ in range(49):
        progress(SimpleNamespace(status="pass", grad_status=None))
    progress.shown = -1.0  # the next line is due
    progress(SimpleNamespace(status="pass", grad_status=None))
    assert shown.getvalue().endswith("\r50 of 100 rows evaluated, 0 failing, 10 s, about 10 s left   ")
    quiet = Terminal()
    silent = Progress(quiet, quiet=True)
    silent.plan(10)
    silent.shown = -1.0
    silent(SimpleNamespace(status="fail", grad_status=None))
    silent.say("writing the reports")
    silent.clear()
    assert quiet.getvalue() == ""


@needs("torch")
def test_run_exits_1_on_a_wrong_expected_value_and_names_it(write_cases, tmp_path):
    path = write_cases(GOOD.replace("2.079441542", "2.0"))
    done = conformance("run", "--cases", str(path), "--frameworks", "torch", "--dtypes", "float32",
                       "--out", str(tmp_path / "out"))
    assert done.returncode == 1
    assert "cli-good[torch.binary_cross_entropy_with_logits-float32]" in done.stdout
    assert "disagrees with the oracle" in done.stdout


@needs("torch")
def test_run_reports_malformed_cases_and_still_runs_the_rest(write_cases, tmp_path):
    write_cases(GOOD, "good.yaml")
    write_cases("cases:\n  - id: bad\n    loss: wasserstein\n", "bad.yaml")
    done = conformance("run", "--cases", str(write_cases.root), "--frameworks", "torch",
                       "--dtypes", "float32", "--out", str(tmp_path / "out"))
    assert done.returncode == 1
    assert "bad.yaml:3:11: loss:" in done.stdout
    assert "cli-good" in (tmp_path / "out" / "results.csv").read_text()


def test_validate_prints_file_line_errors(write_cases):
    write_cases("cases:\n  - id: x\n    loss: cross_entropy\n    input: {logits: [[1, 2], [3]]}\n"
                "    target: {index: [0, 0]}\n    expected: 0\n")
    done = conformance("validate", str(write_cases.root))
    assert done.returncode == 1
    assert "cases.yaml:4:21: input.logits: ragged array" in done.stderr


def test_unknown_framework_is_a_usage_error():
    done = conformance("run", "--frameworks", "torch,mxnet")
    assert done.returncode == 2 and "unknown framework mxnet" in done.stderr


def test_a_run_where_no_binding_expresses_any_case_says_so_and_exits_2(tmp_path):
    # scikit-learn has no CTC loss: this printed "Empty DataFrame", "OK: no failures" and exited 0.
    done = conformance("run", "--frameworks", "sklearn", "--cases", "cases/ctc/hand.yaml", "--out", str(tmp_path))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "nothing to run: no binding of sklearn can express any of the" in done.stderr
    assert "Empty DataFrame" not in done.stdout and "OK" not in done.stdout


@needs("torch")
def test_explain_prints_values_causes_and_equivalent_calls():
    done = conformance("explain", "ce-probs-unnormalised", "--dtypes", "float32", "--frameworks", "torch")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "oracle 1.609437" in out
    assert "known      torch.cross_entropy" in out and "renormalises the probabilities" in out
    assert " jax." not in out and " keras." not in out
    # The gradient under each value: a logits API renormalises, so it is q * A - a, not -a.
    assert "gradient known: [-0.66666669, 0.33333331, 0.33333331] (oracle [-1, 0, 0])" in out
    assert "gradient why: torch.cross_entropy with log_probs input" in out
    assert "gradient pass: [-1, 0, 0] (oracle [-1, 0, 0]), largest error 0" in out
    # The declared conversion is its own line, then the call it feeds.
    assert "Equivalent calls" in out and \
        "log_probs = torch.log(probs)\n      loss = torch.nn.functional.nll_loss(log_probs, target)" in out


@needs("torch")
def test_explain_of_an_as_is_case_shows_the_faithful_calls():
    done = conformance("explain", "asis-logits-into-nll", "--binding", "torch.nll_loss",
                       "--dtypes", "float32")
    assert done.returncode == 0, done.stderr
    assert "difference torch.nll_loss" in done.stdout and "-2.0" in done.stdout
    assert "nll_loss(torch.nn.functional.log_softmax(logits, dim=1), target)" in done.stdout


def test_explain_suggests_close_ids():
    done = conformance("explain", "ce-probs-unnormalized")
    assert done.returncode == 2 and "did you mean ce-probs-unnormalised" in done.stderr


@needs("torch")
def test_profile_prints_the_measured_table_and_exits_0_when_it_agrees():
    done = conformance("profile", "--binding", "torch.binary_cross_entropy")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "zero_probability  log clamped at -100" in done.stdout
    assert "probe-zero-prob-bce[float32]" in done.stdout
    unknown = conformance("profile", "--binding", "torch.bce")
    assert unknown.returncode == 2 and "unknown binding 'torch.bce'" in unknown.stderr


def test_diff_of_a_missing_results_file_is_a_clear_error(tmp_path):
    done = conformance("diff", str(tmp_path / "old.jsonl"), str(tmp_path / "new.jsonl"))
    assert done.returncode == 2
    assert done.stderr.startswith("conformance diff: [Errno 2] No such file or directory")


def test_version_and_a_help_in_plain_words():
    version = subprocess.run([sys.executable, "-m", "conformance", "--version"], capture_output=True, text=True,
                             cwd=REPO)
    assert version.returncode == 0 and version.stdout.startswith("conformance 0.")
    helped = subprocess.run([sys.executable, "-m", "conformance", "--help"], capture_output=True, text=True,
                            cwd=REPO)
    assert "``" not in helped.stdout and "examples:" in helped.stdout
    run_help = subprocess.run([sys.executable, "-m", "conformance", "run", "--help"], capture_output=True,
                              text=True, cwd=REPO).stdout
    for option in ("--cases PATH", "--dtypes DTYPES", "--out DIR"):
        words = run_help.split(option, 1)[1].split("\n  --", 1)[0]
        assert len(words.split()) > 3, f"{option} has no help"


def test_progress_is_a_line_on_a_terminal_and_rare_in_a_log():
    import io

    from conformance.cli import Progress
    from conformance.results import Result

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    row = Result(case_id="c", loss="l", binding="b", framework="f", dtype="float32", mode="faithful",
                 status="fail")
    terminal, log = Terminal(), io.StringIO()
    for stream in (terminal, log):
        progress = Progress(stream)
        progress.shown -= 60  # as if the last line were a minute old
        progress(row)
        progress(row)  # within the interval: not written again
    assert terminal.getvalue().count("rows evaluated") == 1 and terminal.getvalue().startswith("\r1 rows")
    assert log.getvalue() == "1 rows evaluated, 1 failing, 0 s\n"


def test_list_filters_bindings_cases_frameworks_and_losses():
    bindings = conformance("list", "bindings", "--framework", "torch", "--loss", "binary_cross_entropy")
    assert bindings.returncode == 0, bindings.stderr
    ids = [line.split()[0] for line in bindings.stdout.splitlines()]
    assert "torch.binary_cross_entropy" in ids and all(i.startswith("torch.") for i in ids)
    cases = conformance("list", "cases", "--loss", "ctc", "--match", "repeat-needs-blank")
    assert cases.stdout.split()[:3] == ["ctc-t3-repeat-needs-blank", "ctc", "faithful"]
    assert "cases/ctc/hand.yaml:" in cases.stdout and len(cases.stdout.splitlines()) == 1
    assert conformance("list", "losses", "--match", "triplet").stdout.startswith("triplet_margin ")
    assert "bindings  from loss-conformance" in conformance("list", "frameworks", "--match", "numpy").stdout
    unknown = conformance("list", "bindings", "--loss", "crossentropy")
    assert unknown.returncode == 2 and "unknown loss 'crossentropy'; choose from" in unknown.stderr
    # A filter the listing does not take is refused, not ignored.
    ignored = conformance("list", "--framework", "numpy", "--loss", "ctc")
    assert ignored.returncode == 2 and "conformance list all takes no filter; not --framework, --loss" in ignored.stderr
    assert conformance("list", "frameworks", "--mode", "as_is").returncode == 2


def test_every_option_of_every_command_has_help():
    import argparse

    from conformance.cli import _parser

    commands = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    missing = [f"{name} {a.option_strings or a.dest}" for name, command in commands.choices.items()
               for a in command._actions if not isinstance(a, argparse._HelpAction) and not a.help]
    assert missing == []
