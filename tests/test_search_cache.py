"""The interpretation search's answers, remembered in memory and on disk, are the search's."""

from __future__ import annotations

import numpy as np
import pytest

from conformance.case import Case
from conformance.interpret import levels, search, variant_loss
from conformance.oracle import evaluate
from conformance.oracle_cache import OracleCache
from conformance.search_cache import SearchCache, search_key

LOGITS = {"logits": [[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [1.5, -0.5, 0.0]]}


def _case(**fields) -> Case:
    # Weights and smoothing: pairs of readings (a denominator and a smoothing) explain values
    # that no single reading does.
    fields = {"id": "remembered", "loss": "cross_entropy", "input": LOGITS, "target": {"index": [0, 2, 2]},
              "weight": [1.0, 2.0, 3.0], "label_smoothing": 0.2, "expected": 0.0, **fields}
    case = Case.model_validate(fields)
    return case.model_copy(update={"expected": evaluate(case, "float64").as_float()})


def _values(case: Case) -> dict[str, np.ndarray]:
    """A value one reading explains, one only a pair explains, and one nothing explains."""
    singles, pairs = levels(case, "float32")
    tol = case.tolerance_for("float32")
    # The first pair no single reading explains: the search answers it from its second level.
    pair = next(v for v in (variant_loss(case, "float32", p) for p in pairs)
                if v is not None and all(len(r.knobs()) == 2 for r in search(case, "float32", v, tol).readings))
    return {"single": variant_loss(case, "float32", singles[0]), "pair": pair,
            "nothing": evaluate(case, "float32").as_float() * 1.37}


def _same(a, b, case) -> bool:
    return (a.describe(case), a.structured(), a.explained) == (b.describe(case), b.structured(), b.explained)


def test_answers_from_memory_and_from_disk_are_the_searchs(tmp_path):
    case = _case()
    tol = case.tolerance_for("float32")
    first = SearchCache(OracleCache(tmp_path / "cache.sqlite"))
    second = SearchCache(OracleCache(tmp_path / "cache.sqlite"))
    for name, value in _values(case).items():
        plain = search(case, "float32", value, tol)
        assert _same(first.search(case, "float32", value, tol), plain, case), name
        assert _same(first.search(case, "float32", value, tol), plain, case), name   # from memory
        assert _same(second.search(_case(), "float32", value, tol), plain, case), name  # from disk
    assert first.searched == 3 and second.searched == 0
    assert not search(case, "float32", _values(case)["nothing"], tol).explained


def test_without_a_file_the_run_still_shares_one_search(tmp_path):
    case = _case()
    cache = SearchCache(OracleCache(None))
    value = _values(case)["single"]
    for _ in range(3):
        cache.search(case, "float32", value, case.tolerance_for("float32"))
    assert cache.searched == 1


@pytest.mark.parametrize("stored", ["not json", '{"level": 0, "positions": [999]}', '{"level": 7, "positions": [0]}',
                                    '{"level": 0, "positions": [true]}', '{"level": null, "positions": [1]}',
                                    '{"level": 0, "positions": []}', '{"level": 0, "positions": [-1]}',
                                    '{"level": "0", "positions": [0]}', '[]', '{"level": 0.0, "positions": [0]}',
                                    '{"level": true, "positions": [0]}', '{"level": 0, "positions": [0, 0]}',
                                    '{"level": 0, "positions": [1, 0]}', '{"level": 0, "positions": [0.0]}'])
def test_a_stored_answer_that_does_not_fit_is_a_miss(tmp_path, stored):
    case = _case()
    tol = case.tolerance_for("float32")
    value = _values(case)["single"]
    store = OracleCache(tmp_path / "cache.sqlite")
    store.put_interpretation(search_key(case, "float32", value, tol), stored)
    cache = SearchCache(store)
    assert _same(cache.search(case, "float32", value, tol), search(case, "float32", value, tol), case)
    assert cache.searched == 1


def test_the_key_changes_with_everything_the_answer_depends_on():
    case = _case()
    tol = case.tolerance_for("float32")
    value = _values(case)["single"]
    keys = {search_key(case, "float32", value, tol),
            search_key(case, "float64", value, tol),
            search_key(case, "float32", value * 2, tol),
            search_key(case, "float32", value, case.tolerance_for("float64")),
            search_key(_case(input={"logits": [[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [1.5, -0.5, 0.5]]}), "float32",
                       value, tol),
            search_key(_case(reduction="sum"), "float32", value, tol)}
    assert len(keys) == 6
    assert search_key(_case(id="other", title="words"), "float32", value, tol) == search_key(case, "float32",
                                                                                             value, tol)
