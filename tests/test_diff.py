"""`conformance diff` on two real runs that differ because a case file was edited."""

from __future__ import annotations

import subprocess
import sys

from conformance.diff import compare_runs, diff_results
from conformance.results import read_results
from conformance.runner import run
from tests.conftest import REPO, needs

BEFORE = """
cases:
  - id: edited-input
    loss: cross_entropy
    input: {logits: [[2.0, 0.5, -1.0]]}
    target: {index: [0]}
    expected: 0.2413112967
  - id: gets-a-wrong-expectation
    loss: cross_entropy
    input: {logits: [[1.0, 2.0, 3.0]]}
    target: {index: [2]}
    expected: 0.4076059644
  - id: removed-later
    loss: binary_cross_entropy
    input: {logits: [0.0]}
    target: {probs: [1.0]}
    expected: 0.6931471806
"""
AFTER = BEFORE.replace("[[2.0, 0.5, -1.0]]", "[[3.0, 0.5, -1.0]]").replace(
    "0.2413112967", "0.09567432941").replace("""    expected: 0.4076059644
""", """    expected: 0.4076059644
    expect:
      torch.cross_entropy: {value: 9.0, reason: a wrong documentation}
""").split("  - id: removed-later")[0]


@needs("torch")
def test_diff_names_moved_values_new_failures_and_removed_rows(tmp_path):
    for name, text in (("old", BEFORE), ("new", AFTER)):
        (tmp_path / f"{name}.yaml").write_text(text)
        run([tmp_path / f"{name}.yaml"], frameworks=["torch"], dtypes=("float32",), out=tmp_path / name)
    old, new = (read_results(tmp_path / n / "results.jsonl") for n in ("old", "new"))
    changes = diff_results(old, new)
    by_row = {(r.case_id, r.binding): r.change for r in changes.itertuples()}
    assert by_row[("edited-input", "torch.cross_entropy")] == "value moved"
    assert by_row[("gets-a-wrong-expectation", "torch.cross_entropy")] == "new failure"
    assert by_row[("removed-later", "torch.binary_cross_entropy_with_logits")] == "removed"
    assert ("gets-a-wrong-expectation", "torch.nll_loss") not in by_row
    # A results file written before rows carried their expect digest marks nothing edited.
    assert not compare_runs(old.drop(columns=["expect_digest"]), new).changes["expect_edited"].any()
    # Each row ran on the cpu, and once more on cuda where torch sees a GPU.
    n = new["device"].nunique()
    counts = (f"{2 * n} new failures, {4 * n} moved values, {2 * n} removed rows, 1 edited case, "
              "1 case with an edited expect")
    marked = {(r.case_id, r.binding) for r in changes.itertuples() if r.expect_edited}
    assert marked == {("gets-a-wrong-expectation", "torch.cross_entropy"),
                      ("gets-a-wrong-expectation", "torch.nn.CrossEntropyLoss")}

    done = subprocess.run([sys.executable, "-m", "conformance", "diff", str(tmp_path / "old" / "results.jsonl"),
                           str(tmp_path / "new" / "results.jsonl")], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 1  # a new failure
    # torch.cross_entropy and torch.nn.CrossEntropyLoss share the (wrong) documentation
    assert done.stdout.splitlines()[0] == counts
    assert done.stdout.splitlines()[1] == ("edited cases (their numbers, options or expected value differ): "
                                           "edited-input")
    # Only its expect entry changed: the new failure is the documentation's, and says so.
    assert done.stdout.splitlines()[2] == ("edited expect entries (what a binding is documented to do differs): "
                                           "gets-a-wrong-expectation (torch.cross_entropy, torch.nn.CrossEntropyLoss)")
    failures = done.stdout.split(f"new failures ({2 * n}):\n")[1]
    # Each binding's stale entry names the binding: two reasons, two lines, each with its why.
    lines = failures.splitlines()
    assert lines[0] == "  gets-a-wrong-expectation (expect edited): pass -> fail" == lines[3]
    assert {lines[1].split()[0], lines[4].split()[0]} == {"torch.cross_entropy", "torch.nn.CrossEntropyLoss"}
    assert lines[2].startswith("    why: stale expectation: ") and lines[5].startswith("    why: stale expectation: ")
    assert "moved values" in done.stdout
    assert "  edited-input (case edited): pass -> pass, 0.24131133 -> 0.095674373 (0.6 relative)" in done.stdout
    assert "removed rows" in done.stdout and "  removed-later: pass -> -" in done.stdout
    piped = subprocess.run(f"{sys.executable} -m conformance diff {tmp_path / 'old' / 'results.jsonl'} "
                           f"{tmp_path / 'new' / 'results.jsonl'} | head -1", shell=True, capture_output=True,
                           text=True, cwd=REPO)
    assert piped.stdout == counts + "\n" and piped.stderr == ""

    report = subprocess.run([sys.executable, "-m", "conformance", "report", str(tmp_path / "new" / "results.jsonl"),
                             "--baseline", str(tmp_path / "old" / "results.jsonl")],
                            capture_output=True, text=True, cwd=REPO)
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "new" / "report.html").read_text()
    assert "Changes since the baseline run" in page and counts in page
    assert (tmp_path / "new" / "results.parquet").stat().st_size > 0


def _documented(reason: str, also: str = "") -> object:
    from conformance.case import Case

    text = f"""
      id: digest
      loss: cross_entropy
      input: {{probs: [[0.2, 0.2, 0.2]]}}
      target: {{index: [0]}}
      expected: 1.609437912
      expect:
        torch.cross_entropy:
          - {{value: 1.098612289, dtypes: [float16], reason: {reason}}}
          - {{value: 1.098612289, reason: log_softmax renormalises log(p){also}}}
    """
    import yaml

    return Case.model_validate(yaml.safe_load(text))


def test_an_expect_digest_covers_the_entries_that_can_apply_to_the_row():
    from conformance import frameworks
    from conformance.evaluation import expect_digest

    bindings = {b.id: b for b in frameworks.framework("torch").bindings}
    ce, module, nll = (bindings[i] for i in ("torch.cross_entropy", "torch.nn.CrossEntropyLoss", "torch.nll_loss"))
    before, half, every = _documented("one"), _documented("two"), _documented("one", also=" (all dtypes)")
    # An entry for float16 only: its edit touches the float16 rows alone.
    assert expect_digest(before, ce, "float32") == expect_digest(half, ce, "float32")
    assert expect_digest(before, ce, "float16") != expect_digest(half, ce, "float16")
    # An entry for every dtype: every row of the binding and of the module form that inherits it.
    for binding in (ce, module):
        assert expect_digest(before, binding, "float32") != expect_digest(every, binding, "float32")
    assert expect_digest(before, nll, "float32") == expect_digest(every, nll, "float32")
