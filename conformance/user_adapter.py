"""Your own loss under test: ``--adapter mypkg.losses:my_loss --as cross_entropy[logits,index]``.

A user adapter turns one function into a framework with one binding. The
function is called as ``function(input, target)`` with arrays of the framework
it is written for (``--on``, default ``torch``) and must return the loss with
the declared reduction (``mean`` unless the spec names another:
``cross_entropy[logits,probs,sum]``). Its recipes import the user's module, so
a failing row's recipe reproduces the call as it is. Every faithful case the
function can express (that input and target kind, the class axis last of a
1-d or 2-d input, and no option but those it declares) runs against the
oracle, with the gradient where the framework differentiates. A declared option
(``smooth_l1[predictions,values](beta)``) is passed as a keyword with the case's
value, or the family's default where the case gives none:
``function(input, target, beta=0.5)``; an option without a default (``weight``,
``ignore_index``) only where the case gives one, an array as an array of the
framework in the run's dtype.

The adapter travels to the worker process as its *reference*,
``adapter:`` followed by its fields as JSON; nothing in it is ever evaluated:
the module name and the function name must be dotted identifiers.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from numbers import Integral, Real
from typing import Any

import numpy as np

from conformance.binding import USER_FRAMEWORK, Binding, Framework
from conformance.case import Case
from conformance.recipe import RecipeWriter

ADAPTER_PREFIX = "adapter:"
FRAMEWORK_NAME = USER_FRAMEWORK
_IDENTIFIER = r"[A-Za-z][A-Za-z0-9_]*"
_FUNCTION = re.compile(rf"^(?P<module>{_IDENTIFIER}(\.{_IDENTIFIER})*):(?P<function>{_IDENTIFIER})$")
_NAME = r"[a-z_][a-z0-9_]*"  # a loss, kind or reduction name: smooth_l1, log_probs
_AS = re.compile(rf"^(?P<loss>{_NAME})\[(?P<input>{_NAME}),\s*(?P<target>{_NAME})(,\s*(?P<reduction>{_NAME}))?\]"
                 rf"(\((?P<options>{_NAME}(,\s*{_NAME})*)\))?$")


class AdapterSpecError(ValueError):
    """A ``--adapter``/``--as`` that cannot be used, with what to write instead."""


@dataclass(frozen=True)
class UserAdapter:
    """One user function, as ``--adapter``, ``--as`` and ``--on`` declare it."""

    module: str
    function: str
    loss: str
    input: str
    target: str
    reduction: str = "mean"
    on: str = "torch"
    options: tuple[str, ...] = ()  # the family's options the function takes as keywords

    def __post_init__(self) -> None:
        # The names become an import line of every recipe (and so widen the recipe guard's
        # allow-list): whoever builds an adapter, they are identifiers and nothing else.
        if not _FUNCTION.match(f"{self.module}:{self.function}"):
            raise AdapterSpecError(f"--adapter {self.module}:{self.function}: write module:function, e.g. "
                                   "mypkg.losses:my_cross_entropy (a public function of an importable module)")
        object.__setattr__(self, "options", tuple(self.options))  # a list, from the reference's JSON

    @classmethod
    def parse(cls, function: str, declared_as: str, on: str = "torch") -> UserAdapter:
        """From ``mypkg.losses:my_loss`` and ``cross_entropy[logits,index]`` (or ``[...,sum]``)."""
        found = _FUNCTION.match(function.strip())
        if not found:
            raise AdapterSpecError(f"--adapter {function!r}: write module:function, e.g. "
                                   "mypkg.losses:my_cross_entropy (a public function of an importable module)")
        shape = _AS.match(declared_as.replace(" ", ""))
        if not shape:
            raise AdapterSpecError(f"--as {declared_as!r}: write loss[input,target], loss[input,target,reduction] "
                                   "or either with the options your function takes as keywords, e.g. "
                                   "cross_entropy[logits,index] or smooth_l1[predictions,values](beta)")
        options = tuple(shape["options"].split(",")) if shape["options"] else ()
        adapter = cls(found["module"], found["function"], shape["loss"], shape["input"], shape["target"],
                      shape["reduction"] or "mean", on, options)
        adapter.check()
        return adapter

    def check(self) -> None:
        """Raise :class:`AdapterSpecError` unless the family, kinds, reduction and framework exist."""
        from conformance import families, frameworks

        try:
            family = families.family(self.loss)
        except KeyError as exc:
            raise AdapterSpecError(f"--as: {exc}") from None
        for role, kind, allowed in (("input", self.input, family.inputs), ("target", self.target, family.targets)):
            if kind not in allowed:
                raise AdapterSpecError(f"--as: {self.loss} takes {role} {' | '.join(sorted(allowed))}, not {kind!r}")
        fields = family.options.model_fields
        for option in self.options:
            if option not in fields:
                close = difflib.get_close_matches(option, list(fields), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise AdapterSpecError(f"--as: {self.loss} options are {' | '.join(fields) or 'none'}, "
                                       f"not {option!r}{hint}")
            default = fields[option].default
            if default is not None and not isinstance(default, (bool, int, float)):
                raise AdapterSpecError(f"--as: {self.loss}'s {option} is a choice ({default!r} by default), not "
                                       "a number or an array, and is not passed to a function: leave it out "
                                       "(the cases that set it are then not run)")
        if self.reduction not in family.reductions:
            raise AdapterSpecError(f"--as: {self.loss} reductions are {' | '.join(sorted(family.reductions))}, "
                                   f"not {self.reduction!r}")
        if self.on not in frameworks.names():
            raise AdapterSpecError(f"--on {self.on!r}: the function's arrays must be those of an installed "
                                   f"framework: {', '.join(frameworks.names())}")

    @property
    def reference(self) -> str:
        return ADAPTER_PREFIX + json.dumps(asdict(self), sort_keys=True)

    @property
    def binding_id(self) -> str:
        return f"{FRAMEWORK_NAME}.{self.module}.{self.function}"

    def framework(self) -> Framework:
        """The base framework with this function as its one binding."""
        from conformance import frameworks

        base = frameworks.framework(self.on)
        binding = Binding(self.binding_id, self.loss, frozenset({self.input}), frozenset({self.target}),
                          self._write, options=frozenset(self.options), reductions=frozenset({self.reduction}),
                          limits=self._limits,
                          reads=f"is your function {self.module}.{self.function}")
        # `requires` stays the base framework's: a module of yours that does not import is an
        # error of every row (with the ImportError), not a framework that is "not installed".
        return replace(base, name=FRAMEWORK_NAME, reference=self.reference, bindings=(binding,),
                       imports=base.imports + (f"import {self.module} as user_module",), complete=False,
                       requires=base.required_modules)

    def _write(self, w: RecipeWriter) -> None:
        given = "".join(f", {name}={_option(w, name, w.case.option(name))}" for name in self.options
                        if w.case.option(name) is not None)
        w.emit(f"loss = user_module.{self.function}({w.input()}, {w.target()}{given})")

    def _limits(self, case: Case) -> str | None:
        if case.mode != "faithful":
            return "a user adapter runs the faithful cases only"
        for name in self.options:
            value = case.option(name)
            if value is not None and not isinstance(value, (np.ndarray, np.bool_, Real)):
                return f"{self.binding_id} takes {name} as a keyword, and this case's {name} is no number or array"
        if case.family.class_axis and not (case.ndim <= 2 and case.class_axis_is_last):
            return f"{self.binding_id} takes the classes on the last axis of a 1-d or 2-d input"
        return None


def _option(w: RecipeWriter, name: str, value: Any) -> str:
    """An option's value as the recipe passes it: an array of the framework (floats in the
    run's dtype, or integers), or a Python number (the case's options are finite)."""
    if isinstance(value, np.ndarray):
        return w.ints(name, value) if value.dtype.kind in "iu" else w.floats(name, value)
    if isinstance(value, (bool, np.bool_)):
        return repr(bool(value))
    return repr(int(value)) if isinstance(value, Integral) else repr(float(value))


@dataclass(frozen=True)
class Coverage:
    """Which of the loaded cases a user adapter runs, and why it runs no other."""

    adapter: UserAdapter
    runs: int
    loaded: int
    not_run: tuple[tuple[str, int], ...]  # (why, how many cases), most cases first

    def text(self) -> str:
        """In words, e.g. ``your function f runs 3 of the 5 cases loaded; not the others: ...``."""
        head = (f"your function {self.adapter.module}:{self.adapter.function} runs {self.runs} of the "
                f"{self.loaded} cases loaded")
        if not self.not_run:
            return head
        reasons = [f"  {n} case{'s' if n > 1 else ''}: {why}" for why, n in self.not_run]
        hint = ("" if self.runs else "\ngive cases of that loss, input and target kind (`conformance list "
                f"cases --loss {self.adapter.loss}`), or declare what your function takes with --as")
        return "\n".join([f"{head}; not the others:", *reasons]) + hint


def coverage(adapter: UserAdapter, cases: Iterable[Case]) -> Coverage:
    """Which of ``cases`` the adapter's one binding expresses; the reasons it cannot, counted."""
    binding = adapter.framework().bindings[0]
    reasons, other_losses, runs, loaded = Counter(), Counter(), 0, 0
    for case in cases:
        loaded += 1
        why = binding.cannot_express(case)
        if why is None:
            runs += 1
        elif case.loss != binding.loss:
            other_losses[case.loss] += 1
        else:
            reasons[why.replace(binding.id, "your function")] += 1
    if other_losses:
        named = ", ".join(f"{loss} {n}" for loss, n in other_losses.most_common())
        reasons[f"another loss than {binding.loss} ({named})"] = other_losses.total()
    return Coverage(adapter, runs, loaded, tuple(reasons.most_common()))


def framework_for(reference: str) -> Framework:
    """The framework a user adapter's reference describes (in the worker, too)."""
    fields = json.loads(reference.removeprefix(ADAPTER_PREFIX))
    adapter = UserAdapter(**fields)
    adapter.check()
    return adapter.framework()
