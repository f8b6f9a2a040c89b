"""The case files themselves: they load, their numbers are right, every
framework can express every faithful case, and no `expect` entry is dead."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from conformance import families
from conformance import frameworks as registry
from conformance.evaluation import expected_problem
from conformance.loader import load_cases
from conformance.oracle import evaluate
from tests.conftest import REPO

SUITE = load_cases([REPO / "cases"])
CASES = {case.id: case for case in SUITE.cases}
BINDINGS = registry.all_bindings()


def test_suite_loads_without_errors():
    assert [str(e) for e in SUITE.errors] == []


def test_suite_has_real_breadth():
    losses = {c.loss for c in SUITE.cases}
    assert len(SUITE.cases) >= 60 and losses == set(families.names())  # every family has cases
    assert {c.input.kind for c in SUITE.cases} == {k for f in families.families() for k in f.inputs}
    assert {c.target.kind for c in SUITE.cases} == {k for f in families.families() for k in f.targets}
    assert {c.reduction for c in SUITE.cases} == {"mean", "sum", "none", "batchmean", "length_mean"}
    assert any(c.class_axis == 1 and c.ndim == 4 for c in SUITE.cases)
    for family in families.families():  # every option of every family is exercised
        for option in family.options.model_fields:
            assert any(option in c.options_set() for c in SUITE.cases), (family.name, option)
    assert any(c.mode == "as_is" for c in SUITE.cases)


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_expected_agrees_with_the_oracle(case_id):
    case = CASES[case_id]
    assert expected_problem(case, evaluate(case, "float64")) is None


def test_expected_check_catches_a_wrong_value():
    case = CASES["ce-weight-index-mean"].model_copy(update={"expected": np.array(0.9077)})
    assert "disagrees with the oracle" in expected_problem(case, evaluate(case, "float64"))


@pytest.mark.parametrize("case_id", sorted(c.id for c in SUITE.cases if c.mode == "faithful"))
def test_every_framework_can_express_every_faithful_case(case_id):
    case = CASES[case_id]
    for framework in [f for f in registry.frameworks() if f.complete]:
        apis = [b for b in framework.bindings if b.loss == case.loss]
        if not apis or any(all(o not in b.options for b in apis) for o in case.options_set()):
            continue  # no API for this loss, or none with this option: its rows are skipped, saying so
        reasons = [b.cannot_express(case) for b in framework.bindings]
        assert None in reasons, f"{framework.name}: {reasons}"


@pytest.mark.parametrize("case_id", sorted(c.id for c in SUITE.cases if c.expect))
def test_expect_entries_name_bindings_that_run_the_case(case_id):
    case = CASES[case_id]
    for binding_id in case.expect:
        assert binding_id in BINDINGS, f"unknown binding {binding_id!r}"
        assert BINDINGS[binding_id].cannot_express(case) is None, \
            f"{binding_id} never runs this case, so its expect entry is dead"
        for entry in case.expectations(binding_id):
            assert entry.reason.strip() and entry.category, f"{binding_id}: reason and category"


def test_an_entry_whose_binding_never_runs_the_case_is_a_located_error(write_cases):
    # The README's own example documented keras.CategoricalCrossentropy on a weighted case with
    # class indices, which only keras.SparseCategoricalCrossentropy runs; validate said OK.
    path = write_cases("""
        cases:
          - id: dead-entry
            loss: cross_entropy
            input: {logits: [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]}
            target: {index: [2, 0]}
            weight: [1.0, 1.0, 3.0]
            expected: 0.9076059644
            expect:
              torch.cross_entropy:
                value: 1.0
                reason: not a real deviation, only a live entry beside the dead one
                category: semantic
              keras.CategoricalCrossentropy:
                value: 1.0
                reason: a deviation of another binding
                category: semantic
          - id: still-loaded
            loss: cross_entropy
            input: {logits: [[1.0, 2.0]]}
            target: {index: [0]}
            expected: 1.3132616875182228
    """)
    loaded = load_cases([path])
    assert [c.id for c in loaded.cases] == ["still-loaded"]
    (error,) = loaded.errors
    assert (error.line, error.field, error.case_id) == (13, "expect", "dead-entry")  # the key's line
    assert "keras.CategoricalCrossentropy never runs this case" in error.message
    assert "keras.SparseCategoricalCrossentropy runs it" in error.message


# An as_is CTC case with a mean: keras.ops.ctc_loss has no reduction of its own, so it never runs
# it; keras.CTC does, and reads keras.ops.ctc_loss's entries (documented_by). ENTRIES follow.
AS_IS_CTC = """\
cases:
  - id: as-is-ctc-mean
    mode: as_is
    loss: ctc
    input: {log_probs: [[[-1.6094379124341003, -0.6931471805599453, -1.2039728043259361],
                         [-0.5108256237659907, -1.2039728043259361, -2.3025850929940455]]]}
    target: {labels: [[1]]}
    expected: 1.0
    expect:
      keras.ops.ctc_loss:
"""


def test_an_entry_a_running_binding_inherits_is_live(write_cases):
    path = write_cases(AS_IS_CTC + "        value: 1.0\n        reason: inherited by keras.CTC\n"
                                   "        category: semantic\n")
    loaded = load_cases([path])
    binding = registry.all_bindings()["keras.ops.ctc_loss"]
    assert binding.cannot_express(loaded.cases[0]) is not None  # the premise: the key's own binding never runs it
    assert not loaded.errors and [c.id for c in loaded.cases] == ["as-is-ctc-mean"]


def test_each_entry_of_a_key_needs_a_reader_that_runs_the_case(write_cases):
    # A `shared: false` entry is read by the key's own binding only: beside a shared entry that
    # keras.CTC inherits, it was accepted, though keras.ops.ctc_loss never runs the case.
    path = write_cases(AS_IS_CTC + "        - {value: 1.0, dtypes: [float32], reason: inherited, category: semantic}\n"
                                   "        - {value: 2.0, dtypes: [float64], shared: false, reason: read by the key "
                                   "alone, category: semantic}\n")
    (error,) = load_cases([path]).errors
    assert "its entry 2 of 2" in error.message and "keras.CTC runs it" in error.message


def test_nonfinite_expected_values_are_kept():
    assert math.isnan(float(CASES["ce-all-ignored-mean"].expected))
    assert float(CASES["ce-probs-zero-on-target"].expected) == math.inf


def _entries():
    for case in SUITE.cases:
        for binding, entries in case.expect.items():
            for entry in entries:
                yield f"{case.file}:{case.line} {case.id} {binding}", binding, entry


# https://github.com/<owner>/<repo> and nothing more: shows no mechanism.
REPOSITORY_ROOT = re.compile(r"^https://(github|gitlab)\.com/[^/]+/[^/]+/?(#.*)?$")
# A source file on GitHub: must be pinned to a tag or commit (a branch moves) and name its lines.
GITHUB_SOURCE = re.compile(r"^https://github\.com/[^/]+/[^/]+/blob/(?P<ref>[^/]+)/[^#]+(?P<lines>#L\d+(-L\d+)?)?$")


def test_every_expect_entry_links_the_mechanism_it_states():
    problems = []
    for where, _, entry in _entries():
        link = entry.link or ""
        source = GITHUB_SOURCE.match(link)
        if not link.startswith("https://"):
            problems.append(f"{where}: needs a link (a source line at a tag, an issue or a documentation section)")
        elif REPOSITORY_ROOT.match(link):
            problems.append(f"{where}: {link} is a repository root; link the lines that do it")
        elif source and (source["ref"] in ("master", "main") or not source["lines"]):
            problems.append(f"{where}: {link} must name a tag and the lines (.../blob/v1.2.3/file.py#L10-L20)")
    assert not problems, "\n".join(problems)


def test_no_expect_entry_describes_the_suites_own_reference():
    # The NumPy reference is our code: a deviation there is fixed, never documented.
    own = [where for where, binding, _ in _entries() if binding.startswith("numpy.")]
    assert not own, own
