"""The interpretation search's answers, remembered.

A row that does not pass is explained by searching the family's readings (every single
one, then every pair) for one that reproduces the API's value; each try computes a float64
model of the loss. Many rows ask the same question - the bindings of one API reached two
ways, Keras on three backends - and an unchanged case asks it again on every run. So an
answer is kept in memory for the run and in the oracle's SQLite file for the next, keyed by
a hash of everything it depends on: the case's numbers and options and the dtype (the
oracle's key, which covers the source of the oracle and of the family's module, where the
readings live), the value, the tolerance, and the source of the search and of the
comparison.

What is stored is where the answer was found - a level and positions in it, plain
integers - never a reading itself: a hit rebuilds the readings from the family. A stored
entry that is not exactly what this module writes, or names positions the case's readings
do not have, is a miss. A search cut short by the time limit is not remembered.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from typing import TYPE_CHECKING

import numpy as np

from conformance.interpret import Found, Interpretation, locate
from conformance.oracle_cache import OracleCache, oracle_key, source_digest

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.dtypes import DType
    from conformance.tolerance import Tolerance

# The modules whose source decides what the search answers (beyond the oracle key's).
_SEARCH_SOURCES = ("interpret.py", "compare.py", "search_cache.py")


@functools.cache
def _search_source() -> str:
    return source_digest(_SEARCH_SOURCES)


def search_key(case: Case, dtype: DType, value: np.ndarray, tol: Tolerance) -> str:
    """The hash of everything the search for ``value`` of ``case`` in ``dtype`` depends on."""
    digest = hashlib.sha256()
    digest.update(oracle_key(case, dtype, "interpretation").encode())
    digest.update(_search_source().encode())
    # The readings' models are float64 NumPy: another NumPy may round a borderline match otherwise.
    digest.update(f"|{np.__version__}|{float(tol.rtol)!r}|{float(tol.atol)!r}|".encode())
    array = np.ascontiguousarray(value, dtype=np.float64)
    digest.update(f"{array.shape}".encode())
    digest.update(array.tobytes())
    return digest.hexdigest()


def dumps(found: Found) -> str:
    return json.dumps({"level": found.level, "positions": list(found.positions)})


def loads(text: str) -> Found | None:
    """The stored answer, or None where the text is not what :func:`dumps` writes."""
    try:
        data = json.loads(text)
        level, positions = data["level"], data["positions"]
    except (ValueError, TypeError, KeyError):
        return None
    if level is None and positions == []:
        return Found()
    # Exactly what dumps writes: 0.0 or true would pass for 0, and [0, 0] would name a reading twice.
    if type(level) is not int or level not in (0, 1) or not isinstance(positions, list) or not positions \
            or not all(type(p) is int and p >= 0 for p in positions) \
            or any(a >= b for a, b in zip(positions, positions[1:])):
        return None
    return Found(level, tuple(positions))


class SearchCache:
    """:func:`conformance.interpret.search`, remembered for the run and on disk."""

    def __init__(self, store: OracleCache):
        self.store = store
        self._memo: dict[str, Found] = {}
        self._lock = threading.Lock()
        self.searched = 0  # searches actually run (not answered from memory or disk)

    def search(self, case: Case, dtype: DType, value: np.ndarray, tol: Tolerance) -> Interpretation:
        key = search_key(case, dtype, value, tol)
        with self._lock:
            found = self._memo.get(key)
        if found is None:
            text = self.store.get_interpretation(key)
            found = loads(text) if text is not None else None
        answer = found.interpretation(case, dtype) if found is not None else None
        if answer is None:
            with self._lock:
                self.searched += 1
            answer, found = locate(case, dtype, value, tol)
            if found is None:
                return answer  # cut short: the next row may have the time to finish it
            self.store.put_interpretation(key, dumps(found))
        with self._lock:
            self._memo[key] = found
        return answer
