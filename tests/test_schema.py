"""`conformance schema`: the case-file format as a JSON Schema, checked against every case file we ship."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from conformance.schema import case_file_schema
from conformance.yaml12 import load_yaml
from tests.conftest import REPO

SCHEMA = case_file_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
CASE_FILES = sorted((REPO / "cases").rglob("*.yaml"))


def problems(document: dict) -> list[str]:
    return [error.message for error in VALIDATOR.iter_errors(document)]


def test_the_schema_is_a_valid_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", CASE_FILES, ids=[str(p.relative_to(REPO)) for p in CASE_FILES])
def test_every_shipped_case_file_follows_the_schema(path: Path):
    document, _ = load_yaml(path.read_text(encoding="utf-8"))
    assert problems(document) == []


def _case(**fields) -> dict:
    case = {"id": "x", "loss": "cross_entropy", "input": {"logits": [[1.0, 2.0]]}, "target": {"index": [1]},
            "expected": 0.31326168751822286}
    case.update(fields)
    return {"cases": [case]}


@pytest.mark.parametrize("document,complaint", [
    (_case(input={"logit": [[1.0, 2.0]]}), "'logit' was unexpected"),
    (_case(reductoin="sum"), "'reductoin' was unexpected"),
    (_case(reduction="avg"), "'avg' is not one of"),
    (_case(target={"signs": [1]}), "'signs' was unexpected"),
    (_case(margin=1.0), "False schema does not allow 1.0"),  # hinge's option on cross-entropy
    (_case(mode="as-is"), "'as-is' is not one of"),
    (_case(expect={"torch.cross_entropy": {"value": 1.0}}), "is not valid under any of the given schemas"),  # no reason
    ({"case": []}, "'cases' is a required property"),
    ({"defaults": {"reductoin": "sum"}, "cases": []}, "'reductoin' was unexpected"),
])
def test_a_mistake_an_editor_should_underline_is_refused(document, complaint):
    assert any(complaint in p for p in problems(document)), problems(document)


def test_a_good_case_with_its_family_options_is_accepted():
    assert problems(_case(weight=[1.0, 2.0], label_smoothing=0.1, reduction="sum",
                          expect={"torch.cross_entropy": [{"value": 1.0, "reason": "r", "dtypes": ["float16"]}]})) == []


def test_the_command_prints_the_schema_and_writes_it(tmp_path):
    printed = subprocess.run([sys.executable, "-m", "conformance", "schema"], capture_output=True, text=True,
                             cwd=REPO)
    assert printed.returncode == 0 and json.loads(printed.stdout) == SCHEMA
    written = subprocess.run([sys.executable, "-m", "conformance", "schema", "--out", str(tmp_path / "s.json")],
                             capture_output=True, text=True, cwd=REPO)
    assert written.returncode == 0 and json.loads((tmp_path / "s.json").read_text()) == SCHEMA
