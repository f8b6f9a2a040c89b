"""The oracle's values on disk, so that an unchanged case costs nothing on the next run.

The oracle is the suite's most expensive computation (50-digit arithmetic, element by
element) and a pure function of the case's numbers, the dtype and the oracle's own code.
Its values are kept in one SQLite file under the user's cache directory, keyed by a hash
of exactly those: the loss, the input and target (kind, dtype, shape, bytes), the class
axis, the reduction, every option, the dtype, what is computed (loss, gradient, gradient
under a reading) and the source of the modules that compute it - editing the oracle or a
family's module invalidates every entry it could change.

Values are stored exactly (each ``mpf`` as its sign, mantissa, exponent and bit count) and
read back as JSON: nothing in the file is ever executed. A missing, locked or corrupt file
is a miss, never an error; ``CONFORMANCE_ORACLE_CACHE=off`` turns the cache off, and
``CONFORMANCE_ORACLE_CACHE=/path/file.sqlite`` puts it elsewhere. The same file keeps, in a
table of its own, where the interpretation search found its answers
(:mod:`conformance.search_cache`).

Every entry records the last day it was read or written, and once a day the first process to
open the file deletes what no run has used for :data:`UNUSED_DAYS` days: an edit of the
oracle (or an upgrade) makes every old entry unreachable, and without this the file would
grow by the whole matrix's values each time, for good. What it holds is bounded by what
runs wrote or read in the last 30 days; SQLite reuses the freed pages but does not give
them back, so the file keeps its largest size.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from mpmath.libmp import MPZ

from conformance.exact import MP
from conformance.oracle import OracleValue

if TYPE_CHECKING:
    from conformance.case import Case

ENVIRONMENT = "CONFORMANCE_ORACLE_CACHE"
_HERE = Path(__file__).resolve().parent
# The modules whose source the oracle's values depend on (a family's own module is added);
# case.py derives what a family reads (the class axis, an option's value, the input's rank).
_ORACLE_SOURCES = ("oracle.py", "exact.py", "dtypes.py", "sequences.py", "case.py", "families")


# What turns a cache setting (this one, the lane costs') off.
OFF = ("off", "0", "no", "false")
# An entry no run has read or written for this many days is deleted.
UNUSED_DAYS = 30
_TABLES = ("oracle", "interpretation")
# How long a process waits for another's write before going on without it.
BUSY_SECONDS = 30.0


def today() -> int:
    """Days since 1970-01-01 (UTC): the unit of an entry's last use."""
    return int(time.time() // 86400)


def default_path() -> Path | None:
    setting = os.environ.get(ENVIRONMENT, "")
    if setting.lower() in OFF:
        return None
    if setting:
        return Path(setting)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "loss-conformance" / "oracle.sqlite"


@functools.cache
def _source_hash(extra: str | None) -> str:
    return source_digest(_ORACLE_SOURCES, extra)


def source_digest(names: tuple[str, ...], extra: str | None = None) -> str:
    """A hash of the source of the suite's modules ``names`` (a package: every module in it)
    and of the file ``extra``: what a cached answer computed by them depends on."""
    digest = hashlib.sha256()
    paths: list[Path] = []
    for name in names:
        path = _HERE / name
        paths += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    if extra:
        paths.append(Path(extra))
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _family_source(case: Case) -> str | None:
    try:
        return inspect.getsourcefile(type(case.family))
    except TypeError:
        return None


def _array(digest: Any, values: np.ndarray) -> None:
    array = np.ascontiguousarray(values)
    digest.update(f"{array.dtype.str}{array.shape}".encode())
    digest.update(array.tobytes())


def oracle_key(case: Case, dtype: str, of: str) -> str:
    """The hash of everything the oracle's ``of`` (``loss``, ``grad``, ``grad:<reading>``) of
    ``case`` in ``dtype`` depends on."""
    digest = hashlib.sha256()
    digest.update(_source_hash(_family_source(case)).encode())
    digest.update(f"{case.loss}|{dtype}|{of}|{case.class_axis}|{case.reduction}|".encode())
    for values in (case.input, case.target):
        digest.update(values.kind.encode())
        _array(digest, values.values)
    options = case.options
    for name in sorted(type(options).model_fields):
        value = getattr(options, name)
        digest.update(f"|{name}=".encode())
        if isinstance(value, np.ndarray):
            _array(digest, value)
        else:
            digest.update(repr(value).encode())
    return digest.hexdigest()


# -- exact values as JSON -------------------------------------------------------------
def _encode_number(value: Any) -> Any:
    if isinstance(value, (int, float, bool)) or value is None:
        return {"n": value if not isinstance(value, float) else float.hex(value)}
    sign, mantissa, exponent, bits = value._mpf_
    return {"mpf": [sign, str(int(mantissa)), exponent, bits]}


def _decode_number(data: dict) -> Any:
    if "mpf" in data:
        sign, mantissa, exponent, bits = data["mpf"]
        return MP.make_mpf((int(sign), MPZ(int(mantissa)), int(exponent), int(bits)))
    number = data["n"]
    return float.fromhex(number) if isinstance(number, str) else number


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"shape": list(value.shape), "items": [_encode_number(v) for v in value.flat]}
    return _encode_number(value)


def _decode(data: dict) -> Any:
    if "shape" in data:
        out = np.empty(len(data["items"]), dtype=object)
        for index, item in enumerate(data["items"]):
            out[index] = _decode_number(item)
        return out.reshape(tuple(data["shape"]))
    return _decode_number(data)


def dumps(value: OracleValue) -> str:
    return json.dumps({"exact": _encode(value.exact), "scale": _encode(value.scale)})


def loads(text: str) -> OracleValue:
    data = json.loads(text)
    return OracleValue(_decode(data["exact"]), scale=_decode(data["scale"]))


class OracleCache:
    """Oracle values by :func:`oracle_key`, in one SQLite file shared by every process."""

    def __init__(self, path: Path | None = None, day: Callable[[], int] = today):
        self.path = path
        self._day = day
        self._local = threading.local()
        self.hits = self.misses = 0

    @classmethod
    def default(cls) -> OracleCache:
        return cls(default_path())

    def _connection(self) -> sqlite3.Connection | None:
        if self.path is None:
            return None
        connection = getattr(self._local, "connection", None)
        if connection is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                connection = sqlite3.connect(self.path, timeout=BUSY_SECONDS, isolation_level=None)
                if connection.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal":
                    # A commit per value, without an fsync each: safe with WAL (a power cut may
                    # lose the last values, which are only recomputed), not with a rollback journal.
                    connection.execute("PRAGMA synchronous=NORMAL")
                _create(connection, self._day())
            except (OSError, sqlite3.Error):
                if connection is not None:
                    connection.close()
                self.path = None  # unusable here: run without it
                return None
            with contextlib.suppress(sqlite3.Error):  # a read-only or busy file is still read
                _prune(connection, self._day())
            self._local.connection = connection
        return connection

    def _read(self, table: str, key: str) -> str | None:
        connection = self._connection()
        if connection is None:
            return None
        try:
            row = connection.execute(f"SELECT value, used FROM {table} WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error:
            return None
        if row is None:
            return None
        day = self._day()
        if row[1] != day:  # at most one write per entry and day; a failed one leaves the value standing
            with contextlib.suppress(sqlite3.Error):
                connection.execute(f"UPDATE {table} SET used = ? WHERE key = ?", (day, key))
        return row[0] if isinstance(row[0], str) else None

    def _write(self, table: str, key: str, text: str) -> None:
        connection = self._connection()
        if connection is None:
            return
        try:
            connection.execute(f"INSERT OR REPLACE INTO {table} (key, value, used) VALUES (?, ?, ?)",
                               (key, text, self._day()))
        except sqlite3.Error:
            pass

    def get(self, key: str) -> OracleValue | None:
        text = self._read("oracle", key)
        try:
            value = loads(text) if text is not None else None
        except (ValueError, KeyError, TypeError):
            value = None
        if value is None:
            self.misses += 1
        else:
            self.hits += 1
        return value

    def put(self, key: str, value: OracleValue) -> None:
        try:
            text = dumps(value)
        except (TypeError, ValueError):
            return
        self._write("oracle", key, text)

    def get_interpretation(self, key: str) -> str | None:
        """Where the interpretation search found its answer (:mod:`conformance.search_cache`), as
        stored text; None if not stored."""
        return self._read("interpretation", key)

    def put_interpretation(self, key: str, text: str) -> None:
        self._write("interpretation", key, text)


def _create(connection: sqlite3.Connection, day: int) -> None:
    """The tables; a file written before entries had a day of last use gets the column, its
    entries counting as used ``day`` (a constant default: no row is rewritten)."""
    for table in _TABLES:
        connection.execute(f"CREATE TABLE IF NOT EXISTS {table} "
                           "(key TEXT PRIMARY KEY, value TEXT NOT NULL, used INTEGER NOT NULL DEFAULT 0)")
        if not _has_days(connection, table):
            with _immediate(connection):  # re-checked inside: another process may have added it
                if not _has_days(connection, table):
                    connection.execute(f"ALTER TABLE {table} ADD COLUMN used INTEGER NOT NULL DEFAULT {int(day)}")
    connection.execute("CREATE TABLE IF NOT EXISTS pruned (day INTEGER NOT NULL)")


def _prune(connection: sqlite3.Connection, day: int) -> None:
    """Delete the entries unused for :data:`UNUSED_DAYS` days, once a day: the first process to
    open the file does it, the others then see the day recorded."""
    if _last_pruned(connection) >= day:
        return
    with _immediate(connection):
        if _last_pruned(connection) < day:
            for table in _TABLES:
                connection.execute(f"DELETE FROM {table} WHERE used < ?", (day - UNUSED_DAYS,))
            connection.execute("DELETE FROM pruned")
            connection.execute("INSERT INTO pruned (day) VALUES (?)", (day,))


def _has_days(connection: sqlite3.Connection, table: str) -> bool:
    return "used" in {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}


def _last_pruned(connection: sqlite3.Connection) -> int:
    last = connection.execute("SELECT max(day) FROM pruned").fetchone()[0]
    return last if isinstance(last, int) else -1


@contextlib.contextmanager
def _immediate(connection: sqlite3.Connection) -> Iterator[None]:
    """A write transaction taken at once (autocommit connection): committed, or rolled back."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:  # SQLite rolls some failures back itself
            connection.execute("ROLLBACK")
        raise
