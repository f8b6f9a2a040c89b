"""Time limits that hold inside the parent process: the oracle and the interpretation search.

The framework's own work runs in a worker the parent can kill; the oracle
(mpmath) and the interpretation search run in the parent, on the runner's
thread for that framework. They call :func:`check` in their per-element
loops, which raises :class:`TimeLimitExceeded` once the evaluation's time is
up, so ``--timeout`` bounds a whole evaluation and a huge case cannot grow
memory for minutes after it.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("conformance_deadline",
                                                                          default=None)


class TimeLimitExceeded(Exception):
    """The evaluation's time limit ran out in the parent process."""


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Bound the work inside the block (in this thread) to ``seconds``; None: no limit.

    A limit already in force is never extended by an inner one.
    """
    outer = _DEADLINE.get()
    own = None if seconds is None else time.monotonic() + seconds
    token = _DEADLINE.set(own if outer is None else outer if own is None else min(own, outer))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def check() -> None:
    """Raise :class:`TimeLimitExceeded` if this thread's time limit has run out."""
    deadline = _DEADLINE.get()
    if deadline is not None and time.monotonic() > deadline:
        raise TimeLimitExceeded("the time limit ran out")


def remaining(default: float) -> float:
    """Seconds left under this thread's limit (``default`` when there is none), at least 0.01."""
    deadline = _DEADLINE.get()
    return default if deadline is None else max(0.01, deadline - time.monotonic())
