"""The worker protocol: typed messages, one JSON object per line.

The parent starts ``python -m conformance.worker REFERENCE``; the worker first
sends a :class:`Hello`, then answers each :class:`RecipeRequest` with a
:class:`Reply`. Both ends build and read these types only; the JSON shape is
an implementation detail of :meth:`to_json` / ``from_json``, and a message that
does not parse is a :class:`ProtocolError` (the worker is then treated as
crashed).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class ProtocolError(ValueError):
    """A message that is not what the protocol says."""


class WorkerState(StrEnum):
    READY = "ready"
    MISSING = "missing"     # a module the framework needs is not installed: its rows are skipped
    BROKEN = "broken"       # installed, but it failed to import or start: its rows are errors


@dataclass(frozen=True)
class Hello:
    """What a worker says when it starts."""

    state: WorkerState
    versions: dict[str, str] = field(default_factory=dict)
    device: str = "cpu"
    accelerators: list[str] = field(default_factory=list)
    reason: str = ""

    @property
    def ready(self) -> bool:
        return self.state == WorkerState.READY

    def to_json(self) -> str:
        return json.dumps(asdict(self), allow_nan=False)

    @classmethod
    def from_json(cls, line: str | bytes) -> Hello:
        data = _object(line)
        try:
            return cls(state=WorkerState(data["state"]), versions=dict(data.get("versions", {})),
                       device=str(data.get("device", "cpu")), accelerators=list(data.get("accelerators", [])),
                       reason=str(data.get("reason", "")))
        except (KeyError, ValueError, TypeError) as exc:
            raise ProtocolError(f"the worker's hello is not one: {str(data)[:200]}") from exc


@dataclass(frozen=True)
class RecipeRequest:
    recipe: str

    def to_json(self) -> str:
        return json.dumps({"recipe": self.recipe})

    @classmethod
    def from_json(cls, line: str | bytes) -> RecipeRequest:
        data = _object(line)
        if not isinstance(data.get("recipe"), str):
            raise ProtocolError("a request is {\"recipe\": <source>}")
        return cls(data["recipe"])


@dataclass(frozen=True)
class Computed:
    """A value (or gradient) the API returned: JSON-ready numbers and the array's dtype."""

    value: Any
    dtype: str


@dataclass(frozen=True)
class Raised:
    """The exception the API raised, by name, and its message."""

    exception: str
    message: str


@dataclass(frozen=True)
class Reply:
    """The answer to one recipe: the loss (``value``) and the gradient (``grad``, None when
    the recipe takes none), or ``refused`` when the recipe guard would not run it."""

    value: Computed | Raised | None = None
    grad: Computed | Raised | None = None
    refused: str | None = None
    warnings: list[str] = field(default_factory=list)
    printed: str = ""

    @property
    def ok(self) -> bool:
        return isinstance(self.value, Computed)

    def to_json(self) -> str:
        return json.dumps({"value": _part(self.value), "grad": _part(self.grad), "refused": self.refused,
                           "warnings": self.warnings, "printed": self.printed}, allow_nan=False)

    @classmethod
    def from_json(cls, line: str | bytes) -> Reply:
        data = _object(line)
        try:
            return cls(value=_read_part(data["value"]), grad=_read_part(data["grad"]), refused=data["refused"],
                       warnings=[str(w) for w in data.get("warnings", [])], printed=str(data.get("printed", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(f"garbled reply from worker: {str(data)[:200]}") from exc


def _part(part: Computed | Raised | None) -> dict | None:
    if part is None:
        return None
    return {"computed" if isinstance(part, Computed) else "raised": asdict(part)}


def _read_part(data: Any) -> Computed | Raised | None:
    if data is None:
        return None
    if "computed" in data:
        return Computed(**data["computed"])
    return Raised(**data["raised"])


def _object(line: str | bytes) -> dict:
    try:
        data = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ProtocolError(f"garbled reply from worker: {line[:200]!r}") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"garbled reply from worker: {str(data)[:200]}")
    return data
