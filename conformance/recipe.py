"""Recipes: complete, runnable snippets that reproduce one evaluation.

A binding writes its call through a :class:`RecipeWriter`; the worker then
executes the finished text. The array literals are the case's values rounded
to the evaluated dtype and printed with the fewest digits that read back
exactly, so a recipe pasted into Python computes on the same bits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from conformance.dtypes import DType
from conformance.number_text import literal
from conformance.vocabulary import Elements

# Splits a recipe into the loss and its gradient: the worker runs the first
# part, records ``loss``, then runs the second for ``grad``, so a framework
# that cannot differentiate still gives its value.
GRADIENT_MARKER = "# -- the gradient of the summed loss with respect to the input --"

if TYPE_CHECKING:
    from conformance.binding import Framework
    from conformance.case import Case


def nested_literal(values: np.ndarray, dtype: DType | None) -> str:
    """``values`` as Python list syntax; floats rounded to ``dtype``."""
    if values.ndim == 0:
        return literal(float(values), dtype) if dtype else str(int(values))
    return "[" + ", ".join(nested_literal(v, dtype) for v in values) + "]"


class RecipeWriter:
    """Collects the lines of one recipe; bindings call it to write their call."""

    def __init__(self, case: Case, dtype: DType, framework: Framework, device: str = "cpu",
                 bare: bool = False):
        self.case = case
        # The audit's recipe (conformance.audit): the API without the suite's glue - converted
        # inputs are literals of the exact conversion, and the harness reduces the API's
        # per-position output exactly (``loss`` is left unreduced, see ``harness_reduces``).
        self.bare = bare
        self.harness_reduces = False
        self.dtype = dtype
        self.framework = framework
        self.device = device
        self.lines: list[str] = []
        self.calls: list[str] = []
        self.conversions: list[str] = []
        # The array the gradient is taken with respect to, and its kind: the case's input,
        # or what the glue converted it to (see :meth:`converted`).
        self.gradient_input: tuple[str, str] | None = None
        self._defined: set[str] = set()
        self._needs_numpy = False

    @property
    def as_is(self) -> bool:
        return self.case.mode == "as_is"

    def emit(self, line: str) -> None:
        """Add a line of the call (or its glue)."""
        self.lines.append(line)
        self.calls.append(line)

    def _define(self, line: str) -> None:
        self.lines.append(line)

    def _drawn(self, role: str) -> str | None:
        """The NumPy expression of a randomly drawn array, which the recipe repeats."""
        drawn = self.case.drawn.get(role)
        if drawn is None:
            return None
        self._needs_numpy = True
        return drawn.code()

    def floats(self, name: str, values: Any, role: str | None = None) -> str:
        """Define ``name`` as a float array of the run's dtype; returns ``name``."""
        if name not in self._defined:
            data = (role and self._drawn(role)) or nested_literal(np.asarray(values, dtype=np.float64),
                                                                   self.dtype)
            self._define(f"{name} = " + self.framework.float_array.format(data=data, dtype=self.dtype))
            self._defined.add(name)
        return name

    def ints(self, name: str, values: Any, role: str | None = None) -> str:
        if name not in self._defined:
            data = (role and self._drawn(role)) or nested_literal(np.asarray(values, dtype=np.int64), None)
            self._define(f"{name} = " + self.framework.index_array.format(data=data))
            self._defined.add(name)
        return name

    def input(self) -> str:
        """The case's input array, named after its kind (``logits``, ``probs``…)."""
        return self.floats(self.case.input.kind, self.case.input.values, role="input")

    def converted(self, kind: str, expression: str) -> str:
        """Define the case's input converted to ``kind`` (e.g. ``log_probs = torch.log(probs)``)
        for an API that takes that kind; returns its name.

        The conversion is the suite's glue, not the API: the gradient is taken with respect
        to what the API receives, so the conversion's own derivative (inf for log and logit
        at 0 and 1, 0 * inf = NaN) never enters it. The oracle differentiates the case with
        its input converted exactly (:meth:`conformance.families.base.Family.converted_input`).
        """
        if self.bare:
            exact = self.case.family.converted_input(self.case, self.dtype, kind)
            self.gradient_input = (kind, kind)
            return self.floats(kind, exact)
        line = f"{kind} = {expression}"
        if kind not in self._defined:
            self._define(line)
            self.conversions.append(line)
            self._defined.add(kind)
        self.gradient_input = (kind, kind)
        return kind

    @property
    def gradient_kind(self) -> str:
        """The input kind the gradient is taken with respect to."""
        return self.gradient_input[1] if self.gradient_input else self.case.input.kind

    def target(self) -> str:
        target = self.case.target
        if self.case.family.targets.get(target.kind) in (Elements.INDEX, Elements.SEQUENCES):
            return self.ints("target", target.values, role="target")
        return self.floats("target", target.values, role="target")

    def weight(self) -> str:
        return self.floats("weight", self.case.option("weight"))

    def reduce(self, per: str, ops: ArrayOps, denominator: str | None = None) -> None:
        """Assign ``loss`` from the per-element losses ``per`` as the case's reduction asks.

        ``denominator`` replaces the plain mean (a weighted or masked mean).
        """
        reduction = self.case.reduction
        if self.bare:
            self.harness_reduces = reduction != "none"
            self.emit(f"loss = {per}")
            return
        if reduction != "none" and ops.widen:
            # Accumulate in float64 and round once: the glue's reduction must not add a
            # rounding of its own (keras.ops.mean even averages float64 in float32).
            self.emit(f"wide = {ops.widen.format(per, dtype='float64')}")
            per = "wide"
            if denominator is not None:
                denominator = ops.widen.format(denominator, dtype="float64")
        summed = ops.total.format(per)
        if reduction == "none":
            value = per
        elif reduction == "sum":
            value = summed
        elif reduction == "batchmean":
            value = f"{summed} / {self.case.input.values.shape[0]}"
        elif denominator is not None:
            value = f"{summed} / {denominator}"
        else:
            value = ops.mean.format(per)
        if reduction != "none" and ops.widen:
            value = ops.widen.format(f"({value})", dtype=self.dtype)
        self.emit(f"loss = {value}")

    def index_glue(self, per: str, ops: ArrayOps) -> None:
        """Reduce per-example losses of index targets, applying class weights and the
        ignore index that an API without them cannot (the glue is part of the recipe)."""
        case, labels = self.case, self.target()
        denominator = None
        if case.option("ignore_index") is not None:
            self.emit(f"counted = {labels} != {case.option('ignore_index')}")
            self.emit(f"per_example = {ops.where.format('counted', per, 0)}")
            per, denominator = "per_example", ops.count.format(mask="counted", like=per)
        if case.option("weight") is not None:
            safe = ops.where.format("counted", labels, 0) if case.option("ignore_index") is not None else labels
            weights = ops.take.format(self.weight(), safe)
            if case.option("ignore_index") is not None:
                weights = ops.where.format("counted", weights, 0)
            self.emit(f"target_weight = {weights}")
            weights = ops.widen.format("target_weight", dtype="float64") if ops.widen else "target_weight"
            denominator = ops.total.format(weights)
        self.reduce(per, ops, denominator)

    def call_text(self) -> str:
        """The call and its glue, without imports and array literals."""
        return "\n".join(self.conversions + self.calls)

    @property
    def with_gradient(self) -> bool:
        """Faithful cases also differentiate, where the case and the framework allow it."""
        return not self.as_is and self.case.gradient and bool(self.framework.gradient)

    def gradient_text(self) -> str:
        """``loss_of(input)`` repeating the call, differentiated by the framework's autodiff."""
        x = self.gradient_input[0] if self.gradient_input else self.case.input.kind
        body = [f"def loss_of({x}):", *("    " + line for line in self.calls), "    return loss"]
        grad = [line.format(x=x) for line in self.framework.gradient]
        return "\n".join([GRADIENT_MARKER, *body, *grad]) + "\n"

    def text(self) -> str:
        body = "\n".join(self.lines)
        imports = ("import numpy as np",) * self._needs_numpy + tuple(self.framework.imports)
        if self.device != "cpu":
            imports += (self.framework.accelerators[self.device],)
        value = "\n".join(imports) + "\n\n" + body + f"\nprint({self.framework.show})\n"
        return value + ("\n" + self.gradient_text() if self.with_gradient else "")


@dataclass(frozen=True)
class ArrayOps:
    """How a framework spells the array operations the glue needs (``str.format`` templates)."""

    total: str          # sum of all elements, e.g. "{}.sum()"
    mean: str           # mean of all elements
    where: str = ""     # where(condition, a, b)
    take: str = ""      # a[indices] along the first axis
    count: str = ""     # number of True in {mask}, in the dtype of {like}
    # {} cast to {dtype}: given, reductions accumulate in float64 and round once
    widen: str = ""


def kwargs(**options: Any) -> str:
    """``, key=value`` for every option that is not None, in the given order."""
    return "".join(f", {key}={value}" for key, value in options.items() if value is not None)
