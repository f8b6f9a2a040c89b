"""Seeded random arrays for large cases: ``{random: {shape, distribution, seed, ...}}``.

A :class:`RandomDraw` holds only validated numbers (a seed, a shape, finite
distribution parameters) and turns them two ways: :meth:`RandomDraw.draw`
calls NumPy directly for the oracle, and :meth:`RandomDraw.code` renders the
same call as a NumPy expression for the recipe, so every framework and every
run sees the same numbers without a megabyte of literals in the case file or
the recipe. No text from the case file is ever part of that expression.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator, model_validator

Distribution = Literal["normal", "uniform", "dirichlet", "integers"]
# Arrays of a case, written or drawn, have at most this many axes (PyTorch allows 25, NumPy 64).
MAX_DIMS = 8


class RandomSpec(BaseModel):
    """How to draw an array. ``shape`` is required for inputs; targets take theirs from the input."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    seed: Annotated[int, Strict()] = Field(ge=0, lt=2 ** 64)
    shape: tuple[Annotated[int, Strict()], ...] | None = Field(default=None, min_length=1, max_length=MAX_DIMS)
    distribution: Distribution = "normal"
    loc: Annotated[float, Strict()] = 0.0
    scale: Annotated[float, Strict()] = Field(default=1.0, gt=0)
    low: Annotated[float, Strict()] = 0.0
    high: Annotated[float, Strict()] = 1.0
    alpha: Annotated[float, Strict()] = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _finite_range(self) -> RandomSpec:
        # NumPy draws uniform(low, high) as low + (high - low) * u: the width must be finite.
        if not np.isfinite(self.high - self.low):
            raise ValueError(f"`high - low` must be a finite number; got {self.high!r} - {self.low!r}")
        return self

    @field_validator("shape")
    @classmethod
    def _no_empty_axis(cls, shape: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if shape is not None and any(n < 1 for n in shape):
            raise ValueError(f"every axis of `shape` needs at least one element, got {list(shape)}")
        return shape


@dataclass(frozen=True)
class RandomDraw:
    """One array drawn from a spec: the spec plus the shape (and class count) it takes."""

    spec: RandomSpec
    shape: tuple[int, ...]
    classes: int | None = None
    axis: int = -1

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def code(self) -> str:
        """The NumPy expression (using ``np``) that draws the array; numbers only."""
        spec, size = self.spec, tuple(int(n) for n in self.shape)
        rng = f"np.random.default_rng({int(spec.seed)})"
        if spec.distribution == "normal":
            return f"{rng}.normal({float(spec.loc)!r}, {float(spec.scale)!r}, size={size})"
        if spec.distribution == "uniform":
            return f"{rng}.uniform({float(spec.low)!r}, {float(spec.high)!r}, size={size})"
        if spec.distribution == "integers":
            return f"{rng}.integers(0, {int(self.classes or 0)}, size={size})"
        draw = f"{rng}.dirichlet([{float(spec.alpha)!r}] * {size[self.axis]}, size={self._rest()})"
        return draw if self._axis_is_last() else f"np.moveaxis({draw}, -1, {int(self.axis)})"

    def draw(self) -> np.ndarray:
        """The array itself, by the same NumPy call :meth:`code` writes."""
        spec, size = self.spec, tuple(int(n) for n in self.shape)
        rng = np.random.default_rng(spec.seed)
        if spec.distribution == "normal":
            return rng.normal(spec.loc, spec.scale, size=size)
        if spec.distribution == "uniform":
            return rng.uniform(spec.low, spec.high, size=size)
        if spec.distribution == "integers":
            return rng.integers(0, self.classes or 0, size=size)
        drawn = rng.dirichlet([spec.alpha] * size[self.axis], size=self._rest())
        return drawn if self._axis_is_last() else np.moveaxis(drawn, -1, self.axis)

    def _axis_is_last(self) -> bool:
        return self.axis in (-1, len(self.shape) - 1)

    def _rest(self) -> tuple[int, ...]:
        size = tuple(int(n) for n in self.shape)
        return size[:self.axis] + size[self.axis + 1:] if self.axis != -1 else size[:-1]
