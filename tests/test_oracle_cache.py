"""The oracle's disk cache: exact round trips, keys that change with every number the oracle
reads, a second evaluator that computes nothing, and a broken file that is only a miss."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from conformance import oracle_cache
from conformance.case import Case
from conformance.evaluation import Evaluator
from conformance.exact import MP
from conformance.oracle import OracleValue, evaluate_gradient
from conformance.oracle_cache import OracleCache, dumps, loads, oracle_key


def _case(**change) -> Case:
    data = {"id": "c", "loss": "cross_entropy", "input": {"logits": [[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]]},
            "target": {"index": [0, 2]}, "reduction": "none",
            "expected": [2.4076059644443806, 0.2395448883745218]}
    data.update(change)
    return Case.model_validate(data)


def _same(a: object, b: object) -> bool:
    a, b = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
    return a.shape == b.shape and all(x == y or (MP.isnan(x) and MP.isnan(y)) for x, y in zip(a.flat, b.flat))


def test_values_round_trip_exactly_including_non_finite_ones():
    exact = np.array([MP.mpf(1) / 3, MP.mpf("inf"), MP.mpf("-inf"), MP.mpf("nan"), MP.mpf(0), -MP.mpf(2) ** -1070],
                     dtype=object).reshape(2, 3)
    for value in (OracleValue(exact, scale=MP.mpf(1) / 6), OracleValue(MP.mpf(2).sqrt()), OracleValue(exact)):
        back = loads(dumps(value))
        assert _same(back.exact, value.exact) and _same(back.scale, value.scale)
    assert MP.mpf(1) / 3 == loads(dumps(OracleValue(MP.mpf(1) / 3))).exact  # all 50 digits


def test_a_real_gradient_round_trips():
    value = evaluate_gradient(_case(), "float32")
    assert _same(loads(dumps(value)).exact, value.exact)


@pytest.mark.parametrize("change", [
    {"input": {"logits": [[1.0, 2.0, 3.0], [0.5, -1.0, 2.5]]}},
    {"target": {"index": [1, 2]}},
    {"reduction": "sum", "expected": 2.6471508528189024},
    {"label_smoothing": 0.1, "expected": [2.3076059644443806, 0.4395448883745218]},
    {"weight": [1.0, 1.0, 2.0], "expected": [2.4076059644443806, 0.4790897767490436]},
])
def test_the_key_changes_with_every_number_the_oracle_reads(change):
    try:
        other = _case(**change)
    except ValueError:
        pytest.skip("not a valid case")
    assert oracle_key(other, "float64", "loss") != oracle_key(_case(), "float64", "loss")


def test_the_key_names_the_dtype_and_the_quantity_and_ignores_the_words():
    case = _case()
    keys = {oracle_key(case, d, of) for d in ("float32", "float64") for of in ("loss", "grad", "grad:softmax")}
    assert len(keys) == 6
    assert oracle_key(_case(id="other", title="words"), "float64", "loss") == oracle_key(case, "float64", "loss")


def test_a_second_evaluator_reads_the_oracle_from_disk(tmp_path, monkeypatch):
    path = tmp_path / "oracle.sqlite"
    case = _case()
    first = Evaluator(oracle_cache=OracleCache(path))
    computed = first.oracle(case, "float64")
    assert first.oracle_cache.misses == 1 and first.oracle_cache.hits == 0

    def never(*_args, **_kwargs):
        raise AssertionError("the oracle ran although its value is on disk")

    monkeypatch.setattr("conformance.oracle.evaluate", never)
    second = Evaluator(oracle_cache=OracleCache(path))
    assert _same(second.oracle(_case(), "float64").exact, computed.exact)
    assert second.oracle_cache.hits == 1


def test_a_corrupt_or_unwritable_cache_is_a_miss_not_an_error(tmp_path):
    corrupt = tmp_path / "oracle.sqlite"
    corrupt.write_bytes(b"not a database" * 100)
    assert OracleCache(corrupt).get("key") is None
    OracleCache(corrupt).put("key", OracleValue(MP.mpf(1)))  # nothing raised
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert OracleCache(blocked / "sub" / "oracle.sqlite").get("key") is None


def test_the_cache_can_be_turned_off(monkeypatch):
    monkeypatch.setenv(oracle_cache.ENVIRONMENT, "off")
    assert OracleCache.default().path is None and OracleCache.default().get("key") is None


def _open_on(path, day: int) -> OracleCache:
    """A cache opened on ``day`` (a miss opens the file, which prunes it)."""
    cache = OracleCache(path, day=lambda: day)
    assert cache.get("never written") is None
    return cache


def _stored(path, table: str = "oracle") -> set[str]:
    """The keys on file, read without counting as a use."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        return {row[0] for row in connection.execute(f"SELECT key FROM {table}")}


def test_an_entry_no_run_used_for_30_days_is_deleted_and_a_used_one_kept(tmp_path):
    path, one = tmp_path / "oracle.sqlite", OracleValue(MP.mpf(1) / 3)
    first = _open_on(path, 100)
    for key in ("read again", "left alone"):
        first.put(key, one)
        first.put_interpretation(key, "[1, [0]]")
    again = _open_on(path, 125)
    assert again.get("read again") is not None and again.get_interpretation("read again") == "[1, [0]]"
    _open_on(path, 100 + oracle_cache.UNUSED_DAYS)  # 30 days after its last use: kept
    assert _stored(path) == _stored(path, "interpretation") == {"read again", "left alone"}
    later = _open_on(path, 101 + oracle_cache.UNUSED_DAYS)
    assert _stored(path) == _stored(path, "interpretation") == {"read again"}
    assert _same(later.get("read again").exact, one.exact)


def _old_file(path) -> None:
    """A cache file as written before entries had a day of last use."""
    with contextlib.closing(sqlite3.connect(path)) as old, old:
        old.execute("CREATE TABLE oracle (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        old.execute("CREATE TABLE interpretation (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        old.execute("INSERT INTO oracle VALUES (?, ?)", ("old", dumps(OracleValue(MP.mpf(2)))))
        old.execute("INSERT INTO interpretation VALUES (?, ?)", ("old", "[0, []]"))


def test_a_file_written_before_entries_had_a_day_keeps_them_from_today(tmp_path):
    path = tmp_path / "oracle.sqlite"
    _old_file(path)
    _open_on(path, 200)
    _open_on(path, 200 + oracle_cache.UNUSED_DAYS)
    assert _stored(path) == _stored(path, "interpretation") == {"old"}
    cache = _open_on(path, 200 + oracle_cache.UNUSED_DAYS)
    assert cache.get("old").exact == 2 and cache.get_interpretation("old") == "[0, []]"
    _open_on(path, 231 + oracle_cache.UNUSED_DAYS)
    assert _stored(path) == _stored(path, "interpretation") == set()


def test_two_processes_upgrading_one_old_file_both_read_it(tmp_path):
    path = tmp_path / "oracle.sqlite"
    _old_file(path)
    code = ("import sys; from pathlib import Path; from conformance.oracle_cache import OracleCache; "
            "print(OracleCache(Path(sys.argv[1]), day=lambda: 300).get('old').exact)")
    running = [subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
               for _ in range(4)]
    assert [p.communicate(timeout=120)[0].strip() for p in running] == ["2.0"] * 4


def test_a_file_another_process_is_writing_is_still_read_on_a_new_day(tmp_path, monkeypatch):
    path = tmp_path / "oracle.sqlite"
    _open_on(path, 400).put("kept", OracleValue(MP.mpf(3)))
    monkeypatch.setattr(oracle_cache, "BUSY_SECONDS", 0.2)
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as writer:
        writer.execute("BEGIN IMMEDIATE")  # holds the write lock: the day's prune cannot run
        cache = OracleCache(path, day=lambda: 401)
        assert cache.get("kept").exact == 3 and cache.path is not None
        writer.execute("ROLLBACK")
