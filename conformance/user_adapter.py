"""Your own loss under test: ``--adapter mypkg.losses:my_loss --as cross_entropy[logits,index]``.

A user adapter turns one function into a framework with one binding. The
function is called as ``function(input, target)`` with arrays of the framework
it is written for (``--on``, default ``torch``) and must return the loss with
the declared reduction (``mean`` unless the spec names another:
``cross_entropy[logits,probs,sum]``). Its recipes import the user's module, so
a failing row's recipe reproduces the call as it is. Every faithful case the
function can express (that input and target kind, no options, the class axis
last of a 1-d or 2-d input) runs against the oracle, with the gradient where
the framework differentiates.

The adapter travels to the worker process as its *reference*,
``adapter:`` followed by its fields as JSON; nothing in it is ever evaluated:
the module name and the function name must be dotted identifiers.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace

from conformance.binding import Binding, Framework
from conformance.case import Case
from conformance.recipe import RecipeWriter

ADAPTER_PREFIX = "adapter:"
FRAMEWORK_NAME = "user"
_IDENTIFIER = r"[A-Za-z][A-Za-z0-9_]*"
_FUNCTION = re.compile(rf"^(?P<module>{_IDENTIFIER}(\.{_IDENTIFIER})*):(?P<function>{_IDENTIFIER})$")
_AS = re.compile(r"^(?P<loss>[a-z_]+)\[(?P<input>[a-z_]+),\s*(?P<target>[a-z_]+)(,\s*(?P<reduction>[a-z]+))?\]$")


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

    def __post_init__(self) -> None:
        # The names become an import line of every recipe (and so widen the recipe guard's
        # allow-list): whoever builds an adapter, they are identifiers and nothing else.
        if not _FUNCTION.match(f"{self.module}:{self.function}"):
            raise AdapterSpecError(f"--adapter {self.module}:{self.function}: write module:function, e.g. "
                                   "mypkg.losses:my_cross_entropy (a public function of an importable module)")

    @classmethod
    def parse(cls, function: str, declared_as: str, on: str = "torch") -> UserAdapter:
        """From ``mypkg.losses:my_loss`` and ``cross_entropy[logits,index]`` (or ``[...,sum]``)."""
        found = _FUNCTION.match(function.strip())
        if not found:
            raise AdapterSpecError(f"--adapter {function!r}: write module:function, e.g. "
                                   "mypkg.losses:my_cross_entropy (a public function of an importable module)")
        shape = _AS.match(declared_as.replace(" ", ""))
        if not shape:
            raise AdapterSpecError(f"--as {declared_as!r}: write loss[input,target] or "
                                   "loss[input,target,reduction], e.g. cross_entropy[logits,index]")
        adapter = cls(found["module"], found["function"], shape["loss"], shape["input"], shape["target"],
                      shape["reduction"] or "mean", on)
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
                          self._write, reductions=frozenset({self.reduction}), limits=self._limits,
                          reads=f"is your function {self.module}.{self.function}")
        # `requires` stays the base framework's: a module of yours that does not import is an
        # error of every row (with the ImportError), not a framework that is "not installed".
        return replace(base, name=FRAMEWORK_NAME, reference=self.reference, bindings=(binding,),
                       imports=base.imports + (f"import {self.module} as user_module",), complete=False,
                       requires=base.required_modules)

    def _write(self, w: RecipeWriter) -> None:
        w.emit(f"loss = user_module.{self.function}({w.input()}, {w.target()})")

    def _limits(self, case: Case) -> str | None:
        if case.mode != "faithful":
            return "a user adapter runs the faithful cases only"
        if case.options_set():
            return f"{self.binding_id} takes no options ({', '.join(case.options_set())})"
        if case.family.class_axis and not (case.ndim <= 2 and case.class_axis_is_last):
            return f"{self.binding_id} takes the classes on the last axis of a 1-d or 2-d input"
        return None


def framework_for(reference: str) -> Framework:
    """The framework a user adapter's reference describes (in the worker, too)."""
    fields = json.loads(reference.removeprefix(ADAPTER_PREFIX))
    adapter = UserAdapter(**fields)
    adapter.check()
    return adapter.framework()
