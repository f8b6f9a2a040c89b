"""The shipped CI workflow: valid YAML, a job per framework x shard, and every conformance
command in it one the command line accepts (GitHub Actions itself cannot run here)."""

from __future__ import annotations

import re
import shlex

import yaml

from conformance import frameworks as registry
from conformance.cli import _parser
from tests.conftest import REPO

WORKFLOW = REPO / ".github" / "workflows" / "matrix.yml"


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def _commands(workflow: dict, values: dict[str, str]) -> list[list[str]]:
    found = []
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            script = step.get("run", "")
            script = re.sub(r"\$\{\{\s*matrix\.(\w+)\s*\}\}", lambda m: values[m.group(1)], script)
            script = script.replace("\\\n", " ")
            for line in script.splitlines():
                line = line.split("||")[0].strip()
                if line.startswith("conformance "):
                    found.append(shlex.split(line)[1:])
    return found


def test_the_workflow_is_a_framework_by_shard_matrix_of_builtin_frameworks():
    matrix = _workflow()["jobs"]["shard"]["strategy"]["matrix"]
    assert set(matrix["framework"]) <= set(registry.names())
    assert len(matrix["shard"]) >= 2


def test_every_conformance_command_in_the_workflow_parses():
    workflow = _workflow()
    matrix = workflow["jobs"]["shard"]["strategy"]["matrix"]
    commands = _commands(workflow, {"framework": matrix["framework"][0], "shard": str(matrix["shard"][-1])})
    assert {c[0] for c in commands} == {"run", "report"}
    for command in commands:
        args = _parser().parse_args(command)  # SystemExit (a failing test) on an unknown option
        if args.command == "run":
            assert str(args.shard) == f"{matrix['shard'][-1]}/{len(matrix['shard'])}"
