"""Shards and merges: N shards are the unsharded run, row for row, and a merge refuses to
put two different evaluations under one key."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest

from conformance.results import MergeConflict, merge_results
from conformance.runner import run
from conformance.shard import Shard, ShardSpecError
from tests.conftest import REPO, needs, require

CASES = [REPO / "cases" / "cross_entropy" / "basics.yaml", REPO / "cases" / "kl_divergence"]
FRAMEWORKS = ["numpy", "sklearn", "torch"]
COMPARED = ["status", "value", "grad_status", "grad", "oracle", "recipe", "framework_version"]


@pytest.mark.parametrize("text, shard", [("1/1", Shard(1, 1)), ("2/4", Shard(2, 4)), (" 3 / 3 ", Shard(3, 3))])
def test_a_shard_is_k_of_n(text, shard):
    assert Shard.parse(text) == shard and str(shard) == f"{shard.index}/{shard.count}"


@pytest.mark.parametrize("text", ["0/2", "3/2", "2", "a/b", "1/0", "-1/2"])
def test_a_wrong_shard_says_how_to_write_one(text):
    with pytest.raises(ShardSpecError, match="K"):
        Shard.parse(text)


def test_the_deal_covers_every_row_once_and_balances_every_framework():
    rows = [(fw, f"case{i}", dtype) for fw, n in (("jax", 101), ("numpy", 7), ("torch", 40))
            for i in range(n) for dtype in ("float32", "float64")]
    shards = [Shard(k, 4).select(rows, lambda r: r[0], lambda r: r[1:]) for k in range(1, 5)]
    assert sorted(r for shard in shards for r in shard) == sorted(rows)
    for framework in ("jax", "numpy", "torch"):
        sizes = [sum(r[0] == framework for r in shard) for shard in shards]
        assert max(sizes) - min(sizes) <= 1, (framework, sizes)
    assert max(map(len, shards)) - min(map(len, shards)) <= 3
    # The same rows in another order give the same deal: every machine computes the same split.
    again = Shard(2, 4).select(list(reversed(rows)), lambda r: r[0], lambda r: r[1:])
    assert sorted(again) == sorted(shards[1])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    require("torch", "sklearn")
    root = tmp_path_factory.mktemp("shards")
    whole = run(CASES, FRAMEWORKS, ("float32", "float64"), out=root / "whole")
    parts = [run(CASES, FRAMEWORKS, ("float32", "float64"), out=root / "shards" / f"shard-{k}",
                 shard=Shard(k, 3)) for k in (1, 2, 3)]
    return root, whole, parts


def _rows(frame):
    return {(r.case_id, r.binding, r.dtype, r.device): tuple(getattr(r, c) for c in COMPARED)
            for r in frame.itertuples()}


@needs("torch")
def test_the_union_of_the_shards_is_the_unsharded_run_row_for_row(runs):
    root, whole, parts = runs
    keys = Counter(key for part in parts for key in _rows(part))
    assert max(keys.values()) == 1  # no row in two shards
    merged = {}
    for part in parts:
        merged.update(_rows(part))
    assert merged == _rows(whole)
    assert all(len(part) for part in parts)
    info = json.loads((root / "shards" / "shard-2" / "run.json").read_text())
    assert info["shard"] == "2/3"


@needs("torch")
def test_report_and_diff_merge_a_directory_of_shards(runs):
    root, whole, _ = runs
    assert _rows(merge_results([root / "shards"])) == _rows(whole)
    report = subprocess.run([sys.executable, "-m", "conformance", "report", str(root / "shards"),
                             "--out", str(root / "merged" / "report.html")],
                            capture_output=True, text=True, cwd=REPO, timeout=300)
    assert report.returncode == 0, report.stderr
    assert (root / "merged" / "report.html").stat().st_size > 0
    diff = subprocess.run([sys.executable, "-m", "conformance", "diff", str(root / "whole" / "results.jsonl"),
                           str(root / "shards")], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert diff.returncode == 0 and "no differences" in diff.stdout, diff.stdout + diff.stderr


@needs("torch")
def test_a_merge_refuses_two_evaluations_under_one_key(runs, tmp_path):
    root, _, _ = runs
    source = root / "shards" / "shard-1" / "results.jsonl"
    rows = [json.loads(line) for line in source.read_text().splitlines()]
    assert merge_results([source, source]).shape[0] == len(rows)  # the same file twice: kept once
    changed = dict(rows[0], framework_version="0.0.1")
    other = tmp_path / "other" / "results.jsonl"
    other.parent.mkdir()
    other.write_text(json.dumps(changed) + "\n")
    with pytest.raises(MergeConflict) as caught:
        merge_results([source, other])
    message = str(caught.value)
    assert str(other) in message and str(source) in message and "framework_version" in message
    refused = subprocess.run([sys.executable, "-m", "conformance", "report", str(source), str(other),
                              "--out", str(tmp_path / "r.html")], capture_output=True, text=True, cwd=REPO,
                             timeout=300)
    assert refused.returncode == 2 and "different evaluation" in refused.stderr
