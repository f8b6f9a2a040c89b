"""Seeded random arrays for large cases: ``{random: {shape, distribution, seed, ...}}``.

One NumPy expression is the single source of truth: the oracle evaluates it,
and the recipe contains it verbatim, so every framework and every run sees the
same numbers without a megabyte of literals in the case file or the recipe.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class RandomSpec(BaseModel):
    """How to draw an array. ``shape`` is required for inputs; targets take theirs from the input."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(ge=0)
    shape: tuple[int, ...] | None = None
    distribution: Literal["normal", "uniform", "dirichlet", "integers"] = "normal"
    loc: float = 0.0
    scale: float = Field(default=1.0, gt=0)
    low: float = 0.0
    high: float = 1.0
    alpha: float = Field(default=1.0, gt=0)

    def code(self, shape: tuple[int, ...], classes: int | None = None, axis: int = -1) -> str:
        """The NumPy expression (using ``np``) that draws the array."""
        rng = f"np.random.default_rng({self.seed})"
        size = tuple(int(n) for n in shape)
        if self.distribution == "normal":
            return f"{rng}.normal({self.loc!r}, {self.scale!r}, size={size})"
        if self.distribution == "uniform":
            return f"{rng}.uniform({self.low!r}, {self.high!r}, size={size})"
        if self.distribution == "integers":
            return f"{rng}.integers(0, {classes}, size={size})"
        rest = size[:axis] + size[axis + 1:] if axis != -1 else size[:-1]
        draw = f"{rng}.dirichlet([{self.alpha!r}] * {size[axis]}, size={rest})"
        return draw if axis in (-1, len(size) - 1) else f"np.moveaxis({draw}, -1, {axis})"

    def draw(self, shape: tuple[int, ...], classes: int | None = None, axis: int = -1) -> np.ndarray:
        # The expression is built from validated numbers only.
        return np.asarray(eval(self.code(shape, classes, axis), {"np": np}))  # noqa: S307
