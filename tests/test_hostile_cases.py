"""The hostile corpus: every file in tests/hostile/ gives its own located error, or loads.

Case files are untrusted input. Each file below is something a careless or a
malicious author could write; each must give one clear ``file:line:col:
field: message`` error (or load, where the file is fine), never a traceback,
and never stop the other files from loading. The table is the specification:
a new file in the corpus needs an entry here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conformance.loader import LoadLimits, load_cases, load_file
from tests.conftest import GOOD_CASE_FILE, REPO

CORPUS = REPO / "tests" / "hostile"
LOADS = "loads"

# file -> (line, column, field, words the message starts with), or LOADS.
EXPECTED = {
    "chars-bell.yaml": (2, 10, '', 'the file contains the control character U+0007;'),
    "chars-c1-control.yaml": (3, 13, '', 'the file contains the control character U+0090;'),
    "chars-escape-sequence.yaml": (4, 12, '', 'the text contains the character U+001B, which'),
    "chars-escaped-nul.yaml": (4, 12, '', 'the text contains the character U+0000, which'),
    "chars-escaped-surrogate.yaml": (4, 15, '', 'invalid YAML: found invalid Unicode character'),
    "chars-line-separator-hides-numbers.yaml": (8, 13, 'input', 'input of shape (0,) holds no element: every'),
    "chars-nul.yaml": (4, 13, '', 'the file contains the control character U+0000;'),
    "chars-zero-width-in-id.yaml": (2, 9, 'id', "'a\\u200bb' is not a valid id: use lowercase"),
    "defaults-generated.yaml": (2, 3, 'generated', "unknown field 'generated'"),
    "encoding-bom-loads.yaml": LOADS,
    "encoding-invalid-utf8.yaml": (1, 1, '', "cannot read file: 'utf-8' codec can't decode"),
    "encoding-unicode-text-loads.yaml": LOADS,
    "encoding-utf16.yaml": (1, 1, '', "cannot read file: 'utf-8' codec can't decode"),
    "expect-bad-versions.yaml": (8, 62, 'expect.torch.cross_entropy.versions', '"__import__(\'os\')" is not a PEP 440 version'),
    "expect-infinite-bound.yaml": (8, 44, 'expect.torch.cross_entropy.within.ulps', 'Input should be a finite number'),
    "expect-misspelled-binding.yaml": (8, 7, 'expect', "'torch.cross_entrpy' is not a known binding;"),
    "expect-not-a-binding-id.yaml": (8, 7, 'expect', "'torch.x(); import os' is not a binding id of"),
    "expect-unknown-entry-field.yaml": (8, 52, 'expect.torch.cross_entropy.exec', "unknown field 'exec'"),
    "expect-unknown-reading.yaml": (8, 43, 'expect.torch.cross_entropy.grad_reading', "unknown gradient reading '__import__'; known:"),
    "expect-value-is-code.yaml": (8, 36, 'expect.torch.cross_entropy.value', 'element is "__import__(\'os\').system(\'touch'),
    "expect-within-huge-ulps.yaml": (8, 44, 'expect.torch.cross_entropy.within.ulps', 'Input should be less than or equal to 1024'),
    "field-input-is-list.yaml": (4, 12, 'input', 'input is a mapping {kind: array} with one of '),
    "field-internal-drawn.yaml": (7, 5, '_drawn', "unknown field '_drawn'"),
    "field-internal-file.yaml": (7, 5, 'file', "unknown field 'file'"),
    "field-internal-generated.yaml": (7, 5, 'generated', "unknown field 'generated'"),
    "field-internal-line.yaml": (7, 5, 'line', "unknown field 'line'"),
    "field-missing-loss.yaml": (2, 5, 'loss', 'required field is missing'),
    "field-non-string-key.yaml": (7, 8, '3', 'Keys should be strings'),
    "field-tags-mapping.yaml": (7, 11, 'tags', 'Input should be a valid list'),
    "field-two-input-kinds.yaml": (4, 12, 'input', 'needs exactly one of logits, probs, log_probs;'),
    "field-unknown-loss.yaml": (3, 11, 'loss', "unknown loss '__import__'; known: cross_entro"),
    "field-unknown.yaml": (7, 5, 'reductoin', "unknown field 'reductoin'"),
    "merge-brings-internal-field.yaml": (2, 10, 'generated', "unknown field 'generated'"),
    "merge-scalar.yaml": (2, 9, '', '`<<` merges a mapping (or a list of mappings)'),
    "merge-unknown-field.yaml": (3, 5, 'colour', "unknown field 'colour'"),
    "random-class-axis-out-of-range.yaml": (5, 30, 'input.logits.random', 'class_axis 5 is out of range for shape [2, 3]'),
    "random-empty-shape.yaml": (4, 38, 'input.logits.random.shape', 'Tuple should have at least 1 item after'),
    "random-extra-key-beside.yaml": (4, 21, 'input.logits', '`random` stands alone: {random: {shape: ...,'),
    "random-inf-parameter.yaml": (4, 60, 'input.logits.random.loc', 'Input should be a finite number'),
    "random-integers-for-logits.yaml": (4, 69, 'input.logits.random.distribution', '`integers` draws class indices; use normal,'),
    "random-nan-parameter.yaml": (4, 62, 'input.logits.random.scale', 'Input should be a finite number'),
    "random-negative-axis.yaml": (4, 38, 'input.logits.random.shape', 'every axis of `shape` needs at least one'),
    "random-negative-seed.yaml": (4, 52, 'input.logits.random.seed', 'Input should be greater than or equal to 0'),
    "random-seed-is-code.yaml": (4, 52, 'input.logits.random.seed', 'Input should be a valid integer'),
    "random-seed-with-underscore.yaml": (4, 52, 'input.logits.random.seed', 'Input should be a valid integer'),
    "random-target-without-random-input.yaml": (5, 30, 'target.index.random', 'a random target needs a random input to take'),
    "random-too-many-axes.yaml": (4, 38, 'input.logits.random.shape', 'Tuple should have at most 8 items after'),
    "random-uniform-overflow.yaml": (4, 30, 'input.logits.random', '`high - low` must be a finite number; got'),
    "random-unknown-distribution.yaml": (4, 69, 'input.logits.random.distribution', "Input should be 'normal', 'uniform',"),
    "random-unknown-parameter.yaml": (4, 61, 'input.logits.random.code', 'Extra inputs are not permitted'),
    "random-zero-axis.yaml": (4, 38, 'input.logits.random.shape', 'every axis of `shape` needs at least one'),
    "size-alias-bomb.yaml": (7, 40, '', 'the document holds more than 10100000 values;'),
    "size-alias-repeats-array.yaml": (4, 11094, '', 'the document holds more than 10100000 values;'),
    "size-random-100000x1000.yaml": (4, 38, 'input.logits.random.shape', '100000000 elements is more than the limit of'),
    "syntax-alias-as-key.yaml": (3, 8, '', 'invalid YAML: mapping values are not allowed in'),
    "syntax-bad-indent.yaml": (3, 4, '', "invalid YAML: did not find expected '-'"),
    "syntax-blanks-before-junk.yaml": (4, 21, 'input.logits', "element[0][0] is '1                            "),
    "syntax-duplicate-field.yaml": (7, 5, '', "duplicate key 'loss' (first on line 3)"),
    "syntax-duplicate-nested-key.yaml": (4, 35, '', "duplicate key 'logits' (first on line 4)"),
    "syntax-mapping-as-key.yaml": (2, 7, '', 'a mapping key must be plain text, not a list or'),
    "syntax-self-alias.yaml": (1, 15, '', 'unknown alias *loop'),
    "syntax-tab-indent.yaml": (2, 1, '', 'invalid YAML: found character that cannot start'),
    "syntax-two-documents.yaml": (7, 1, '', 'a case file holds one YAML document; found a'),
    "syntax-unclosed-flow.yaml": (3, 1, '', 'invalid YAML: did not find expected node content'),
    "syntax-unclosed-quote.yaml": (3, 1, '', 'invalid YAML: found unexpected end of stream'),
    "syntax-unknown-alias.yaml": (4, 12, '', 'unknown alias *nowhere'),
    "tag-binary.yaml": (4, 12, '', 'YAML tags are not allowed in case files (found'),
    "tag-custom.yaml": (4, 12, '', 'YAML tags are not allowed in case files (found'),
    "tag-python-apply.yaml": (2, 5, '', 'YAML tags are not allowed in case files (found'),
    "tag-python-name.yaml": (2, 9, '', 'YAML tags are not allowed in case files (found'),
    "tag-set.yaml": (1, 8, '', 'YAML tags are not allowed in case files (found'),
    "tag-str-on-number.yaml": (4, 15, '', 'YAML tags are not allowed in case files (found'),
    "top-case-not-mapping.yaml": (2, 5, '', 'each case must be a mapping of fields'),
    "top-cases-not-list.yaml": (1, 8, 'cases', '`cases:` must be a list of cases'),
    "top-defaults-not-mapping.yaml": (1, 11, 'defaults', '`defaults:` must be a mapping of case fields'),
    "top-empty.yaml": (1, 1, '', 'a case file must be a mapping with a `cases:`'),
    "top-list.yaml": (1, 1, '', 'a case file must be a mapping with a `cases:`'),
    "top-numeric-key.yaml": (1, 1, '1', "unknown top-level key '1'; allowed: cases,"),
    "top-only-comment.yaml": (1, 1, '', 'a case file must be a mapping with a `cases:`'),
    "top-scalar.yaml": (1, 1, '', 'a case file must be a mapping with a `cases:`'),
    "top-too-many-cases.yaml": (1, 8, 'cases', 'the file holds 10001 cases, more than 10000:'),
    "top-unknown-key.yaml": (2, 9, 'import', "unknown top-level key 'import'; allowed: cases,"),
    "value-5000-digit-integer.yaml": (6, 15, '', 'an integer of 5000 digits is too large to be a'),
    "value-bigint-in-long-array.yaml": (4, 22, '', 'an integer of 5000 digits is too large to be a'),
    "value-block-nesting-100000.yaml": (2, 129, '', 'nested more than 64 levels deep'),
    "value-bool-in-logits.yaml": (4, 21, 'input.logits', 'element[0][0] is True, not a number (numbers,'),
    "value-class-axis-code.yaml": (7, 17, 'class_axis', 'Input should be a valid integer'),
    "value-class-axis-huge.yaml": (7, 17, 'class_axis', 'class_axis 1000000000000000000000000000000 is'),
    "value-class-axis-string.yaml": (7, 17, 'class_axis', 'Input should be a valid integer'),
    "value-code-in-logits.yaml": (4, 21, 'input.logits', 'element[0][0] is'),
    "value-dtype-code.yaml": (7, 14, 'dtypes.0', "Input should be 'float16', 'bfloat16',"),
    "value-dtype-unknown.yaml": (7, 14, 'dtypes.0', "Input should be 'float16', 'bfloat16',"),
    "value-empty-classes.yaml": (4, 12, 'input', 'input of shape (1, 0) holds no element: every'),
    "value-expected-wrong-shape.yaml": (7, 15, 'expected', "expected has shape (); reduction 'none' gives"),
    "value-float-index.yaml": (5, 21, 'target.index', 'class indices must be integers; element[0] is'),
    "value-huge-integer-logit.yaml": (4, 21, 'input.logits', 'element[0][0] is an integer too large for'),
    "value-id-code.yaml": (2, 9, 'id', '"x\'); __import__(\'os\').system(\'touch PWNED\');'),
    "value-id-forges-lines.yaml": (2, 9, 'id', "'bad\\n\\n0 valid cases, 0 errors\\nall good' is"),
    "value-ignore-index-beyond-int64.yaml": (7, 19, 'ignore_index', 'Input should be less than or equal to'),
    "value-index-beyond-int64.yaml": (5, 21, 'target.index', 'class index[0] 99999999999999999999999 does not'),
    "value-label-smoothing-nan.yaml": (7, 22, 'label_smoothing', 'Input should be a finite number'),
    "value-mode-code.yaml": (7, 11, 'mode', "Input should be 'faithful' or 'as_is'"),
    "value-nan-index.yaml": (5, 21, 'target.index', 'class indices must be integers; element[0] is'),
    "value-nested-9-axes.yaml": (4, 21, 'input.logits', 'arrays have at most 8 axes; this one is nested'),
    "value-nested-900-deep.yaml": (4, 81, '', 'nested more than 64 levels deep'),
    "value-null-in-logits.yaml": (4, 21, 'input.logits', 'element[0][0] is None, not a number (numbers,'),
    "value-pos-weight-enlarges.yaml": (6, 17, 'pos_weight', 'pos_weight shape (2, 1) does not broadcast to'),
    "value-quoted-number.yaml": (4, 21, 'input.logits', "element[0][0] is '1.0', not a number (numbers,"),
    "value-ragged.yaml": (4, 21, 'input.logits', 'ragged array: rows of one level must all have'),
    "value-reduction-code.yaml": (7, 16, 'reduction', "Input should be 'mean', 'sum', 'none', 'batchmean' or"),
    "value-scalar-input.yaml": (4, 12, 'input', 'input must be an array with at least one axis,'),
    "value-tolerance-infinite.yaml": (7, 23, 'tolerance.rtol', 'Input should be a finite number'),
    "value-tolerance-loose.yaml": (7, 16, 'tolerance', "a case's tolerance may be at most 0.0625 (rtol"),
}


def test_every_corpus_file_has_an_expectation_and_there_are_at_least_sixty():
    assert sorted(p.name for p in CORPUS.iterdir()) == sorted(EXPECTED)
    assert sum(e != LOADS for e in EXPECTED.values()) >= 60


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_hostile_file_gives_its_own_located_error(name):
    cases, errors = load_file(CORPUS / name)
    if EXPECTED[name] == LOADS:
        assert len(cases) == 1 and not errors, errors
        return
    line, column, field, words = EXPECTED[name]
    assert not cases and len(errors) == 1, errors
    (error,) = errors
    assert (error.line, error.column, error.field) == (line, column, field), str(error)
    assert error.message.startswith(words), str(error)
    assert str(error).startswith(f"tests/hostile/{name}:{line}:{column}: ")
    assert "\n" not in str(error)  # one line, whatever the file held


def test_the_whole_corpus_loads_side_by_side_with_a_good_file(write_cases):
    good = write_cases(GOOD_CASE_FILE)
    loaded = load_cases([CORPUS, good])
    assert sorted(c.id for c in loaded.cases) == ["bom", "good", "unicode-title"]
    assert len(loaded.errors) == sum(e != LOADS for e in EXPECTED.values())


def test_validate_on_the_corpus_prints_every_error_without_a_traceback_in_bounded_memory():
    # The process measures its own peak memory: the corpus holds an alias bomb,
    # a 100000x1000 random case and 20 million aliased numbers.
    code = ("import resource, sys\nfrom conformance.cli import main\n"
            "rc = main(['validate', 'tests/hostile'])\n"
            "print('peak-kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\nsys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr + done.stdout
    printed = done.stderr.splitlines()
    for name, expected in EXPECTED.items():
        if expected != LOADS:
            assert any(line.startswith(f"tests/hostile/{name}:{expected[0]}:") for line in printed), name
    peak_mb = int(done.stdout.split("peak-kb")[1].split()[0]) / 1024
    assert peak_mb < 1024, f"validate on the corpus peaked at {peak_mb:.0f} MB"


# -- links, pipes and sizes: made at test time (git cannot hold them, or should not) --
def _one_error(path: Path | str) -> str:
    cases, errors = load_file(path)
    assert not cases and len(errors) == 1, errors
    return str(errors[0])


def test_a_looping_symlink_named_on_the_command_line_is_an_error(tmp_path):
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop)
    loaded = load_cases([loop])
    assert not loaded.cases and len(loaded.errors) == 1
    assert "loop.yaml:1:1: cannot read file" in str(loaded.errors[0])
    assert "symbolic links" in str(loaded.errors[0])


def test_a_directory_with_link_loops_and_dangling_links_is_walked_once(tmp_path, write_cases):
    good = write_cases(GOOD_CASE_FILE)
    root = good.parent
    (root / "again").symlink_to(root)          # a directory that contains itself
    (root / "dangling.yaml").symlink_to(root / "nowhere.yaml")
    (root / "self.yaml").symlink_to(root / "self.yaml")
    loaded = load_cases([root])
    assert [c.id for c in loaded.cases] == ["good"]
    assert sorted(Path(e.file).name for e in loaded.errors) == ["dangling.yaml", "self.yaml"]


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path):
    pipe = tmp_path / "pipe.yaml"
    os.mkfifo(pipe)
    assert "not a regular file" in _one_error(pipe)


def test_an_undecodable_file_name_still_prints(tmp_path):
    name = os.fsdecode(b"caf\xe9.yaml")  # not UTF-8: Python holds it with a surrogate
    path = tmp_path / name
    path.write_text("cases: [\n", encoding="utf-8")
    error = _one_error(path)
    assert "caf\\xe9.yaml" in error
    error.encode("utf-8")  # would raise on a lone surrogate


def test_the_element_limit_is_checked_before_anything_is_drawn_or_converted(write_cases):
    path = write_cases("""
        cases:
          - id: wide
            loss: binary_cross_entropy
            input: {logits: [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]}
            target: {probs: [[1, 0, 1], [0, 1, 0]]}
            expected: 0.7
          - id: drawn
            loss: cross_entropy
            input: {logits: {random: {shape: [3, 4], seed: 0}}}
            target: {index: {random: {seed: 1}}}
        """)
    loaded = load_cases([path], LoadLimits(max_elements=10))
    assert [e.case_id for e in loaded.errors] == ["wide", "drawn"]
    assert "holds 15 values, more than the limit of 10" in loaded.errors[0].message
    assert "12 elements is more than the limit of 10" in loaded.errors[1].message


def test_a_file_larger_than_any_case_may_be_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text("cases: []\n" + "#" * 5_000_000 + "\n", encoding="utf-8")
    cases, errors = load_file(path, LoadLimits(max_elements=1000))
    assert not cases and "bytes is more than a case file may hold" in errors[0].message


def test_a_30_mb_literal_file_loads_with_every_number(tmp_path):
    # benchmarks/load_large.py times this; here it must simply load, exactly.
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3000, 1000)).round(6)
    rows = "\n".join("        - [" + ", ".join(f"{v:.6f}" for v in row) + "]" for row in logits)
    text = ("cases:\n  - id: big\n    loss: cross_entropy\n    input:\n      logits:\n" + rows +
            "\n    target: {index: [" + ", ".join(str(i % 1000) for i in range(3000)) + "]}\n"
            "    expected: 7.43\n")
    path = tmp_path / "big.yaml"
    path.write_text(text, encoding="utf-8")
    assert path.stat().st_size > 30_000_000
    (case,), errors = load_file(path)
    assert not errors
    np.testing.assert_array_equal(case.input.values, logits)
    np.testing.assert_array_equal(case.target.values, np.arange(3000) % 1000)


def test_all_the_cases_of_a_load_share_one_budget_so_defaults_cannot_multiply_a_draw(write_cases):
    # A 10x10 draw in `defaults:` is drawn again for every case: each case holds 116
    # values (6 written, 100 + 10 drawn), and a load may hold 4 x --max-elements = 480.
    path = write_cases("defaults:\n  loss: cross_entropy\n"
                       "  input: {logits: {random: {shape: [10, 10], seed: 0}}}\n"
                       "  target: {index: {random: {seed: 1}}}\ncases:\n"
                       + "".join(f"  - id: c{n}\n" for n in range(5)))
    loaded = load_cases([path], LoadLimits(max_elements=120))
    assert [c.id for c in loaded.cases] == ["c0", "c1", "c2", "c3"]
    (error,) = loaded.errors
    assert error.case_id == "c4" and "left to all the cases loaded together" in error.message
