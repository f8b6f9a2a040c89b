"""Malformed case files: one clear file:line error each, and the rest still loads."""

from __future__ import annotations

import pytest

from conformance.loader import load_cases

GOOD = """
  - id: good-{n}
    loss: cross_entropy
    input: {{logits: [[1.0, 2.0]]}}
    target: {{index: [0]}}
    expected: 1.313261687518
"""

# (name, yaml body of one bad case, expected line, field, words in the message)
MALFORMED = [
    ("unknown-loss", "  - id: x\n    loss: wasserstein\n    input: {logits: [1.0]}\n    target: {index: 0}\n"
     "    expected: 1.0\n", 2, "loss", "cross_entropy"),
    ("two-input-keys", "  - id: x\n    loss: cross_entropy\n    input: {logits: [[1.0]], probs: [[1.0]]}\n"
     "    target: {index: [0]}\n    expected: 0.0\n", 3, "input", "exactly one of logits, probs, log_probs"),
    ("ragged", "  - id: x\n    loss: cross_entropy\n    input: {logits: [[1.0, 2.0], [3.0]]}\n"
     "    target: {index: [0, 0]}\n    expected: 0.0\n", 3, "input.logits", "ragged"),
    ("float-index", "  - id: x\n    loss: cross_entropy\n    input: {logits: [[1.0, 2.0]]}\n"
     "    target: {index: [1.0]}\n    expected: 0.0\n", 4, "target.index", "must be integers"),
    ("missing-target", "  - id: x\n    loss: cross_entropy\n    input: {logits: [[1.0, 2.0]]}\n"
     "    expected: 0.0\n", 1, "target", "required field is missing"),
    ("unknown-field", "  - id: x\n    loss: cross_entropy\n    input: {logits: [[1.0, 2.0]]}\n"
     "    target: {index: [0]}\n    expected: 0.3\n    reductoin: sum\n", 6, "reductoin", "unknown field"),
    ("bad-id", "  - id: Bad Id\n    loss: cross_entropy\n    input: {logits: [[1.0, 2.0]]}\n"
     "    target: {index: [0]}\n    expected: 0.3\n", 1, "id", "not a valid id"),
    ("index-out-of-range", "  - id: x\n    loss: cross_entropy\n    input: {logits: [[1.0, 2.0]]}\n"
     "    target: {index: [2]}\n    expected: 0.3\n", 4, "target", "outside [0, 2)"),
    ("shape-mismatch", "  - id: x\n    loss: cross_entropy\n    input: {logits: [[1.0, 2.0]]}\n"
     "    target: {probs: [[1.0, 0.0, 0.0]]}\n    expected: 0.3\n", 4, "target", "does not fit"),
    ("not-a-number", "  - id: x\n    loss: binary_cross_entropy\n    input: {probs: [0.5, abc]}\n"
     "    target: {probs: [1, 0]}\n    expected: 0.3\n", 3, "input.probs", "'abc'"),
    ("index-for-bce", "  - id: x\n    loss: binary_cross_entropy\n    input: {logits: [0.5]}\n"
     "    target: {index: [1]}\n    expected: 0.3\n", 4, "target", "binary_cross_entropy takes target probs"),
    ("expected-shape", "  - id: x\n    loss: cross_entropy\n    input: {logits: [[1.0, 2.0]]}\n"
     "    target: {index: [0]}\n    reduction: none\n    expected: 0.3\n", 6, "expected", "shape"),
    ("expect-both", "  - id: x\n    loss: cross_entropy\n    input: {logits: [[1.0, 2.0]]}\n"
     "    target: {index: [0]}\n    expected: 0.3\n    expect:\n      torch.cross_entropy: "
     "{value: 1.0, raises: ValueError, reason: r}\n", 7, "expect.torch.cross_entropy", "not both"),
    ("bad-versions", "  - id: x\n    loss: cross_entropy\n    input: {logits: [[1.0, 2.0]]}\n"
     "    target: {index: [0]}\n    expected: 0.3\n    expect:\n      torch.cross_entropy: "
     "{value: 1.0, reason: r, versions: 'two'}\n", 7, "expect.torch.cross_entropy.versions", "PEP 440"),
    ("smoothing-range", "  - id: x\n    loss: cross_entropy\n    input: {logits: [[1.0, 2.0]]}\n"
     "    target: {index: [0]}\n    label_smoothing: 1.5\n    expected: 0.3\n", 5, "label_smoothing", "less than 1"),
]


@pytest.mark.parametrize("name,body,line,field,words", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_each_malformed_case_gets_one_located_error_and_the_rest_loads(
        write_cases, name, body, line, field, words):
    bad_first_line = 2 + GOOD.count("\n") - 1  # "cases:" line + the good case before it
    path = write_cases("cases:\n" + GOOD.format(n=1).lstrip("\n") + body + GOOD.format(n=2).lstrip("\n"))
    loaded = load_cases([path])
    assert [c.id for c in loaded.cases] == ["good-1", "good-2"]
    assert len(loaded.errors) == 1
    error = loaded.errors[0]
    assert error.file.endswith("cases.yaml")
    assert error.line == bad_first_line + line - 1, str(error)
    assert error.field == field, str(error)
    assert words in error.message, str(error)
    assert str(error).startswith(f"{error.file}:{error.line}:")


def test_a_misspelt_field_gets_a_suggestion_and_the_other_problems_are_named(write_cases):
    write_cases("cases:\n  - id: typo\n    loss: smooth_l1\n    input: {predictions: [1.0]}\n"
                "    target: {values: [0.0]}\n    betta: 0.5\n    expcted: 0.5\n")
    (error,) = load_cases([write_cases.root]).errors
    assert (error.line, error.column) == (6, 5)
    assert error.message == ("unknown field 'betta' (did you mean 'beta'?) (and 1 more problem in this case: "
                             "expcted)")


def test_the_suggestion_is_a_field_of_the_case_s_own_loss(write_cases):
    # `gamma` is a focal option: suggesting it for cross_entropy's `gama` led to a second error.
    write_cases("cases:\n  - id: typo\n    loss: cross_entropy\n    input: {logits: [[1.0, 0.0]]}\n"
                "    target: {index: [0]}\n    gama: 2.0\n    expected: 0.31326168751822286\n")
    (error,) = load_cases([write_cases.root]).errors
    assert error.message == "unknown field 'gama'"


def test_invalid_yaml_fails_that_file_only(write_cases):
    write_cases("cases:\n  - id: [\n", "broken.yaml")
    write_cases("cases:\n" + GOOD.format(n=1).lstrip("\n"), "fine.yaml")
    loaded = load_cases([write_cases.root])
    assert [c.id for c in loaded.cases] == ["good-1"]
    assert len(loaded.errors) == 1 and loaded.errors[0].file.endswith("broken.yaml")
    assert "invalid YAML" in loaded.errors[0].message


def test_duplicate_id_across_files_points_at_both(write_cases):
    write_cases("cases:\n" + GOOD.format(n=1).lstrip("\n"), "a.yaml")
    write_cases("cases:\n" + GOOD.format(n=1).lstrip("\n"), "b.yaml")
    loaded = load_cases([write_cases.root])
    assert len(loaded.cases) == 1
    (error,) = loaded.errors
    assert error.file.endswith("b.yaml") and error.line == 2 and error.field == "id"
    assert "a.yaml:2" in error.message


@pytest.mark.parametrize("text,field,words", [
    ("- just a list\n", "", "mapping with a `cases:` list"),
    ("cases: {id: x}\n", "cases", "must be a list"),
    ("cases: []\nextra: 1\n", "extra", "unknown top-level key"),
])
def test_top_level_shape_errors(write_cases, text, field, words):
    loaded = load_cases([write_cases(text)])
    (error,) = loaded.errors
    assert error.field == field and words in error.message


def test_defaults_merge_under_each_case_and_errors_in_defaults_point_there(write_cases):
    path = write_cases("""
        defaults:
          loss: cross_entropy
          reduction: total
        cases:
          - id: a
            input: {logits: [[1.0, 2.0]]}
            target: {index: [0]}
            expected: 1.3132616875
        """)
    (error,) = load_cases([path]).errors
    assert (error.line, error.field) == (3, "reduction")


def test_defaults_apply_and_case_fields_override(write_cases):
    path = write_cases("""
        defaults:
          loss: cross_entropy
          reduction: sum
          tags: [shared]
        cases:
          - id: a
            input: {logits: [[1.0, 2.0]]}
            target: {index: [0]}
            reduction: mean
            expected: 1.3132616875
        """)
    (case,) = load_cases([path]).cases
    assert case.reduction == "mean" and case.tags == ["shared"] and case.line == 6


def test_nonfinite_strings_are_numbers(write_cases):
    path = write_cases("""
        cases:
          - id: a
            loss: cross_entropy
            input: {logits: [[-inf, 0.0, "nan", inf]]}
            target: {index: [1]}
            expected: nan
        """)
    (case,) = load_cases([path]).cases
    values = case.input.values[0]
    assert values[0] == float("-inf") and values[3] == float("inf") and values[2] != values[2]
