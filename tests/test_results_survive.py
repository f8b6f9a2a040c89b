"""Results survive: Ctrl-C keeps every finished row and says how to go on, ``--resume``
finishes the run without duplicates, a damaged results file is one clear error, and
``diff`` tells devices apart and counts a row that appears failing as a new failure."""

from __future__ import annotations

import json
import math
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import pytest

from conformance.diff import diff_results
from conformance.results import STATUSES, Result, ResultsFileError, read_results
from conformance.runner import run
from tests.conftest import REPO

# numpy and scikit-learn workers start in about a second. bfloat16 adds rows that
# plan() writes as skipped before anything is evaluated (scikit-learn refuses it).
FRAMEWORKS, DTYPES = "numpy,sklearn", "float32,float64,bfloat16"


def _cases(count: int) -> str:
    """Cross-entropy cases with a closed-form expected value: log(e + e^2 + e^x) - 1."""
    lines = ["cases:"]
    for n in range(count):
        x = n / 10
        lines += [f"  - id: ce-{n}", "    loss: cross_entropy",
                  f"    input: {{logits: [[1.0, 2.0, {x}]]}}", "    target: {index: [0]}",
                  f"    expected: {math.log(math.e + math.e ** 2 + math.exp(x)) - 1!r}"]
    return "\n".join(lines) + "\n"


def _run_args(cases: Path, out: Path) -> list[str]:
    return ["run", "--cases", str(cases), "--frameworks", FRAMEWORKS, "--dtypes", DTYPES, "--out", str(out)]


def conformance(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "conformance", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=600)


def _rows(path: Path) -> list[dict]:
    """Every line of a results file, each asserted to be a complete JSON row."""
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n"), "the last line is not complete"
    return [json.loads(line) for line in text.splitlines()]


def _keys(rows: list[dict]) -> list[tuple[str, str, str, str]]:
    return [(r["case_id"], r["binding"], r["dtype"], r["device"]) for r in rows]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory) -> tuple[Path, Path]:
    """An uninterrupted run: the case file and its results.jsonl."""
    root = tmp_path_factory.mktemp("full")
    cases = root / "cases.yaml"
    cases.write_text(_cases(100))
    done = conformance(*_run_args(cases, root / "out"))
    assert done.returncode == 0, done.stdout + done.stderr
    return cases, root / "out" / "results.jsonl"


def _wait_for_an_evaluated_row(path: Path, proc: subprocess.Popen, limit: float = 120.0) -> None:
    """Until a worker has answered (skipped rows from plan() come first)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before it could be interrupted"
        if path.exists() and '"status": "pass"' in path.read_text(encoding="utf-8"):
            return
        time.sleep(0.02)
    raise AssertionError(f"no evaluated row in {path} after {limit:g} s")


def test_a_row_is_written_as_dataclasses_asdict_would_write_it(full_run):
    rows = read_results(full_run[1])
    evaluated = [row for row in rows.itertuples(index=False) if row.status == "pass"]
    assert evaluated
    for row in [Result(**row._asdict()) for row in evaluated[:50]]:
        assert json.loads(row.to_json()) == json.loads(json.dumps(asdict(row)))
        assert row.as_dict() == asdict(row)


def test_ctrl_c_keeps_complete_rows_and_the_printed_command_resumes(full_run, tmp_path):
    cases, full = full_run
    out = tmp_path / "out"
    args = _run_args(cases, out)
    # In a process group of its own, so that the signal goes where a terminal's Ctrl-C
    # goes: to the whole foreground group (the workers sit in sessions of their own).
    # With SIGINT's default action, as a terminal gives it: a shell's background job (`make
    # test &`) starts with SIGINT ignored, and Python keeps an ignored SIGINT ignored.
    proc = subprocess.Popen([sys.executable, "-m", "conformance", *args], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        _wait_for_an_evaluated_row(out / "results.jsonl", proc)
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    command = stderr.strip().splitlines()[-1].strip()
    assert command == shlex.join([sys.executable, "-m", "conformance", *args, "--resume"])

    kept, everything = _rows(out / "results.jsonl"), _rows(full)
    assert 0 < len(kept) < len(everything)
    # Rows of workers killed by the interrupt are not recorded as errors.
    assert {r["status"] for r in kept} <= {"pass", "skipped"}
    assert json.loads((out / "run.json").read_text())["interrupted"] is True

    resumed = subprocess.run(shlex.split(command), capture_output=True, text=True, cwd=REPO, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"keeping the {len(kept)} rows" in resumed.stderr
    rows = _rows(out / "results.jsonl")
    assert rows[:len(kept)] == kept
    keys = _keys(rows)
    assert len(keys) == len(set(keys))
    assert set(keys) == set(_keys(everything))
    # The reports are built from every row, kept and new.
    assert len(pd.read_parquet(out / "results.parquet")) == len(rows)
    info = json.loads((out / "run.json").read_text())
    assert "interrupted" not in info and set(info["frameworks"]) == {"numpy", "sklearn"}


def test_resume_drops_a_half_written_last_line_with_a_notice(full_run, tmp_path):
    cases, full = full_run
    lines = full.read_text(encoding="utf-8").splitlines(keepends=True)
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.jsonl").write_text("".join(lines[:-5]) + lines[-5][:120], encoding="utf-8")

    done = conformance(*_run_args(cases, out), "--resume")
    assert done.returncode == 0, done.stdout + done.stderr
    results = out / "results.jsonl"
    assert f"{results}:{len(lines) - 4}: dropped a half-written last line" in done.stderr
    assert results.read_text(encoding="utf-8").startswith("".join(lines[:-5]))
    keys = _keys(_rows(results))
    assert len(keys) == len(set(keys)) and set(keys) == set(_keys(_rows(full)))


SMALL = _cases(2)


def test_resume_runs_only_missing_rows_and_without_a_file_everything(tmp_path, capsys):
    (tmp_path / "cases.yaml").write_text(SMALL)
    cases, out = [tmp_path / "cases.yaml"], tmp_path / "out"
    evaluated: list[Result] = []
    first = run(cases, ["numpy"], ("float32",), out, resume=True, on_result=evaluated.append)
    assert "there is no" in capsys.readouterr().err and len(evaluated) == len(first) == 2

    lines = (out / "results.jsonl").read_text().splitlines(keepends=True)
    (out / "results.jsonl").write_text(lines[0])
    evaluated.clear()
    again = run(cases, ["numpy"], ("float32",), out, resume=True, on_result=evaluated.append)
    assert [r.case_id for r in evaluated] == [json.loads(lines[1])["case_id"]]
    assert len(again) == 2 and (out / "results.jsonl").read_text().startswith(lines[0])


def test_a_row_on_another_device_is_kept_and_does_not_stand_for_the_cpu_row(tmp_path):
    (tmp_path / "cases.yaml").write_text(SMALL)
    out = tmp_path / "out"
    out.mkdir()
    # numpy declares no accelerator, so a row on "gpu" is its worker's own device
    # (as JAX reports it); torch declares "cuda", so a cuda row is an extra one.
    numpy_row = _row(case_id="ce-0", binding="numpy.cross_entropy", framework="numpy", device="gpu")
    cuda_row = _row(case_id="ce-0", binding="torch.cross_entropy", device="cuda", value=123.0)
    (out / "results.jsonl").write_text(numpy_row.to_json() + "\n" + cuda_row.to_json() + "\n")
    evaluated: list[Result] = []
    frame = run([tmp_path / "cases.yaml"], ["numpy", "torch"], ("float32",), out, resume=True,
                on_result=evaluated.append)
    ran = {(r.case_id, r.binding, r.device) for r in evaluated}
    assert ("ce-0", "numpy.cross_entropy", "gpu") not in ran and ("ce-0", "numpy.cross_entropy", "cpu") not in ran
    assert ("ce-0", "torch.cross_entropy", "cpu") in ran and ("ce-0", "torch.cross_entropy", "cuda") not in ran
    kept = frame[(frame["binding"] == "torch.cross_entropy") & (frame["device"] == "cuda")]
    assert kept["value"].tolist() == [123.0]
    keys = _keys(frame.to_dict("records"))
    assert len(keys) == len(set(keys))


def _row(**fields) -> Result:
    base = dict(case_id="c", loss="cross_entropy", binding="torch.cross_entropy", framework="torch",
                dtype="float32", mode="faithful", status="pass", value=1.0)
    return Result(**{**base, **fields})


GOOD = _row().to_json() + "\n"


DROP = object()


def _edited(**changes) -> str:
    """The good row with keys changed (DROP: removed), as a JSON line."""
    row = {**json.loads(GOOD), **changes}
    return json.dumps({name: value for name, value in row.items() if value is not DROP}) + "\n"


# (name, file text, line named, words in the message)
DAMAGED = [
    ("empty", "", 1, "empty file"),
    ("half-line", GOOD + GOOD[:40], 2, "half-written last line"),
    ("not-json", GOOD + "hello\n" + GOOD, 2, "not JSON (Expecting value"),
    ("not-an-object", "[1, 2]\n", 1, "not a JSON object"),
    ("missing-keys", GOOD + _edited(status=DROP, binding=DROP), 2, "missing keys: binding, status"),
    ("unknown-keys", _edited(colour="red"), 1, "unknown keys: colour"),
    ("status-nan", GOOD.replace('"status": "pass"', '"status": NaN'), 1, "status NaN is not one of"),
    ("status-null", _edited(status=None), 1, "status null is not one of"),
    ("grad-status", _edited(grad_status="ok"), 1, 'grad_status "ok" is not one of'),
]


@pytest.mark.parametrize("command", ["report", "diff"])
@pytest.mark.parametrize("name,text,line,words", DAMAGED, ids=[d[0] for d in DAMAGED])
def test_a_damaged_results_file_is_one_clear_error(tmp_path, command, name, text, line, words):
    damaged, good = tmp_path / "results.jsonl", tmp_path / "good.jsonl"
    damaged.write_text(text, encoding="utf-8")
    good.write_text(GOOD)
    done = conformance(command, str(damaged)) if command == "report" else conformance(command, str(good),
                                                                                      str(damaged))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"conformance {command}: {damaged}:{line}: {words}"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_damaged_old_file_is_named_too(tmp_path):
    damaged, good = tmp_path / "old.jsonl", tmp_path / "new.jsonl"
    damaged.write_text(GOOD + "{\n")
    good.write_text(GOOD)
    done = conformance("diff", str(damaged), str(good))
    assert done.returncode == 2 and done.stderr.startswith(f"conformance diff: {damaged}:2: not JSON")


def test_the_error_is_a_value_error_listing_the_statuses_a_run_writes(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text(GOOD + _edited(status="passed"))
    with pytest.raises(ResultsFileError) as raised:
        read_results(path)
    assert isinstance(raised.value, ValueError)  # what the CLI turns into exit 2
    assert str(raised.value).startswith(f"{path}:2: status \"passed\" is not one of")
    assert all(f'"{status}"' in str(raised.value) for status in STATUSES)


def _write(path: Path, rows: list[Result], drop: tuple[str, ...] = ()) -> Path:
    path.write_text("".join(json.dumps({k: v for k, v in asdict(r).items() if k not in drop}) + "\n"
                            for r in rows))
    return path


def test_diff_matches_on_the_device_and_old_rows_without_one_are_cpu(tmp_path):
    old = _write(tmp_path / "old.jsonl", [_row()], drop=("device",))
    new = _write(tmp_path / "new.jsonl", [_row(), _row(device="cuda", status="fail", value=2.0)])
    changes = diff_results(read_results(old), read_results(new))
    assert changes[["device", "change"]].values.tolist() == [["cuda", "new failure"]]

    done = conformance("diff", str(old), str(new))
    assert done.returncode == 1
    assert done.stdout.splitlines()[0] == "1 new failure"
    assert "  c: - -> fail\n    torch.cross_entropy (float32-cuda)\n" in done.stdout


def test_diff_of_frames_without_a_device_column_counts_them_as_cpu():
    old = pd.DataFrame([asdict(_row())]).drop(columns=["device"])
    new = pd.DataFrame([asdict(_row(value=1.5))])
    assert diff_results(old, new)[["device", "change"]].values.tolist() == [["cpu", "value moved"]]


@pytest.mark.parametrize("added,change,code", [
    (_row(case_id="d"), "added", 0),
    (_row(case_id="d", status="error", value=None), "new failure", 1),
    (_row(case_id="d", status="known", grad_status="fail"), "new failure", 1),
])
def test_an_added_row_that_fails_is_a_new_failure(tmp_path, added, change, code):
    old = _write(tmp_path / "old.jsonl", [_row()])
    new = _write(tmp_path / "new.jsonl", [_row(), added])
    assert diff_results(read_results(old), read_results(new))["change"].tolist() == [change]
    assert conformance("diff", str(old), str(new)).returncode == code
