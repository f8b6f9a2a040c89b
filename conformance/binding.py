"""Bindings: one API of one framework, declared, not branched on.

A :class:`Binding` says which cases its API can express (loss, input and
target kinds, options, reductions) and how to write the call for a case - as
source code. The runner ships that code (the *recipe*) to the framework's
worker process, which executes it. The recipe a user copies is therefore
exactly the code that produced the number. Nothing here imports a framework.

A :class:`Framework` groups the bindings of one framework with what its
worker needs: environment variables that only work before import, how to
write arrays, and how to read results back.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from collections.abc import Callable, Mapping

from conformance.case import Case, Expectation
from conformance.recipe import RecipeWriter

# The framework name of a user's own function under test (``--adapter``): its bindings are
# ``user.<module>.<function>``.
USER_FRAMEWORK = "user"


@dataclass(frozen=True)
class Inherits:
    """The ``expect`` entries of binding ``binding`` describe another binding too: all of
    them (the same API reached another way, e.g. Keras on another backend), or, with
    ``shared_only``, those not marked ``shared: false`` (a module form that calls a
    function form: an entry about the function's own glue does not carry over)."""

    binding: str
    shared_only: bool = False


@dataclass(frozen=True)
class Binding:
    """One framework API as the suite sees it.

    Attributes:
      id: ``<framework>.<api>``, e.g. ``torch.cross_entropy``.
      loss: the canonical loss the API computes.
      inputs: input kinds a faithful call can give it (after declared glue).
      targets: target kinds it accepts.
      options: options of its family it can express (``weight``, ``pos_weight``...).
      reductions: reductions it can express (natively or by reducing its
        per-element output).
      reads: how the API reads its input with default options, in words; the
        explanation of an ``as_is`` difference.
      write: appends the call to a :class:`RecipeWriter`, assigning ``loss``.
      limits: extra rules, returning why a case cannot be expressed, or None.
      doc: link to the API's documentation.
      profile: what the API does with its input by default, per aspect of
        :mod:`conformance.profile` (from its documentation and source); the
        probes measure it, and a disagreement is a failing test.
      documented_by: the other bindings whose ``expect`` entries describe this one too,
        in the order they are consulted after its own (see :class:`Inherits`).
      variant: the variant of its API this binding runs (a Keras backend:
        ``tensorflow``, ``jax``, ``torch``); an ``expect`` entry's ``backends``
        lists the variants it applies to. None where an API has no variants.
      refuses_dtypes: dtype -> why the API cannot run in it; such rows are
        ``skipped`` with that reason (declared from the API's documentation).
      deviations: ``expect`` entries that hold for every case the binding runs: a
        precision the API computes in whatever the inputs (``within: {like: float32}``
        for float64 rows, restricted by ``dtypes``, ``backends``, ``reductions``). A
        case's own entry comes first; a row that passes stays ``pass``. A documented
        literal is matched at the precision such an entry names.
      grad_readings: input kind -> the gradient reading (see
        :data:`conformance.oracle.GRADIENT_READINGS`) its faithful call gives
        where it differs from the canonical gradient, e.g. ``{"probs":
        "log_then_softmax"}`` for a logits API fed ``log p``. A gradient that
        matches the reading is ``known``; one matching neither fails.
    """

    id: str
    loss: str
    inputs: frozenset[str]
    targets: frozenset[str]
    write: Callable[[RecipeWriter], None]
    options: frozenset[str] = frozenset()
    reductions: frozenset[str] = frozenset({"mean", "sum", "none"})
    reads: str = ""
    limits: Callable[[Case], str | None] | None = None
    doc: str = ""
    profile: Mapping[str, str] = field(default_factory=dict)
    documented_by: tuple[Inherits, ...] = ()
    variant: str | None = None
    grad_readings: Mapping[str, str] = field(default_factory=dict)
    refuses_dtypes: Mapping[str, str] = field(default_factory=dict)
    deviations: tuple[Expectation, ...] = ()

    # Set by the Framework that declares the binding: which worker runs it.
    _framework: Framework | None = field(default=None, init=False, compare=False, repr=False)

    @property
    def framework(self) -> Framework:
        """The framework that declares this binding (its worker runs the recipe)."""
        if self._framework is None:
            raise LookupError(f"binding {self.id} belongs to no Framework declaration")
        return self._framework

    @property
    def documentation(self) -> tuple[Inherits, ...]:
        """Where the ``expect`` entries describing this binding are, in order: its own, then
        those it inherits."""
        return (Inherits(self.id),) + self.documented_by

    def deviation(self, case: Case, version: str | None, dtype: str, about: str) -> Expectation | None:
        """The binding-level entry (:attr:`deviations`) that documents ``about`` for ``case``."""
        return next((entry for entry in self.deviations if entry.documents(about) and entry.applies_to(
            version, dtype, self.variant, case.reduction)), None)

    def computes_like(self, case: Case, version: str | None, dtype: str) -> str:
        """The dtype whose precision the API computes ``case`` in: ``dtype``, or the ``like`` of a
        binding-level entry."""
        for entry in self.deviations:
            if entry.within and entry.within.like and entry.applies_to(version, dtype, self.variant, case.reduction):
                return entry.within.like
        return dtype

    def cannot_express(self, case: Case) -> str | None:
        """Why this API cannot express ``case``, or None when it can."""
        if case.loss != self.loss:
            return f"{self.id} computes {self.loss}, not {case.loss}"
        if case.mode == "faithful" and case.input.kind not in self.inputs:
            return f"{self.id} cannot take {case.input.kind} input"
        if case.target.kind not in self.targets:
            return f"{self.id} cannot take {case.target.kind} targets"
        if case.reduction not in self.reductions:
            return f"{self.id} cannot express reduction {case.reduction!r}"
        for option in case.options_set():
            if option not in self.options:
                return f"{self.id} has no equivalent of `{option}`"
        return self.limits(case) if self.limits else None


@dataclass(frozen=True)
class Framework:
    """Everything the suite knows about one framework, declared in its adapter.

    Attributes:
      name: the first part of binding ids (``torch``, ``keras``, ``jax``).
      distributions: installed distributions whose versions describe it; the
        first one is ``framework_version``.
      imports: the import lines every recipe starts with.
      float_array / index_array: templates turning a literal nested list into
        an array of the framework (``{data}``, ``{dtype}``).
      show: expression printing ``loss`` at the end of a recipe.
      env: environment of the worker process, set before any import.
      worker_module: module whose ``setup()``, ``to_numpy()`` and ``device()``
        the worker calls (imports the framework; never imported elsewhere), and
        ``before_recipe()`` if it has one, to undo process-wide state a recipe set.
      complete: whether it must express every faithful case (torch, keras,
        jax); a partial one (sklearn) just has no rows where it cannot.
      accelerators: device name -> the line a recipe starts with to compute on it
        (``torch.set_default_device("cuda")``); the worker's ``accelerators()``
        says which are visible, and each evaluation then also runs there.
      gradient: lines that assign ``grad``, d(sum of ``loss_of({x})``)/d({x}),
        with the framework's autodiff (``{x}`` is the input's name); empty for
        a framework without autodiff.
      requires: top-level modules that must be installed for the framework to
        run at all (default: those its ``imports`` name); when one is not, its
        rows are skipped, while an installed framework that fails to start gives
        errors.
    """

    name: str
    distributions: tuple[str, ...]
    imports: tuple[str, ...]
    float_array: str
    index_array: str
    show: str
    bindings: tuple[Binding, ...]
    worker_module: str
    env: Mapping[str, str] = field(default_factory=dict)
    complete: bool = True
    gradient: tuple[str, ...] = ()
    accelerators: Mapping[str, str] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    # The entry-point value (``module:ATTRIBUTE``) the worker process resolves to find this
    # declaration again; set on discovery (:mod:`conformance.frameworks`).
    reference: str = ""
    # ``package:file.yaml``: the documented deviations a plugin ships for its bindings
    # (see :mod:`conformance.plugin_expectations`); empty for the built-in frameworks,
    # whose deviations the case files document.
    expectations: str = ""

    def __post_init__(self) -> None:
        for binding in self.bindings:
            object.__setattr__(binding, "_framework", self)

    def registered_as(self, reference: str) -> Framework:
        """This declaration, found at ``reference``."""
        return self if self.reference == reference else replace(self, reference=reference)

    @property
    def required_modules(self) -> tuple[str, ...]:
        """``requires``, or the top-level modules of the import lines."""
        if self.requires:
            return self.requires
        roots = [line.split()[1].split(".")[0] for line in self.imports if line.startswith("import ")]
        return tuple(dict.fromkeys(roots))

    @property
    def recipe_lines(self) -> tuple[str, ...]:
        """Every line of its own the framework puts into recipes (imports, gradient, devices)."""
        return self.imports + self.gradient + tuple(self.accelerators.values())

    def binding(self, binding_id: str) -> Binding:
        for binding in self.bindings:
            if binding.id == binding_id:
                return binding
        raise KeyError(f"{self.name} has no binding {binding_id!r}; "
                       f"known: {', '.join(b.id for b in self.bindings)}")


def dead_entry(case: Case, binding_id: str, bindings: Mapping[str, Binding]) -> str | None:
    """Why an ``expect`` entry of ``binding_id`` documents nothing on ``case`` (None when each
    does): no binding that reads it runs the case. An entry's readers are the key's binding
    and those that inherit its entries (``documented_by``: Keras on other backends, a class
    over its function), where they take that entry (not one marked ``shared: false`` through a
    ``shared_only`` link, nor one whose ``backends`` exclude them). Where one fails, the
    message names the bindings of that framework that do run the case."""
    if binding_id not in bindings:
        return None
    runners = [(b, link) for b in bindings.values() if b.cannot_express(case) is None
               for link in b.documentation if link.binding == binding_id]
    entries = case.expectations(binding_id)
    for position, entry in enumerate(entries, start=1):
        if any((entry.shared or not link.shared_only) and (entry.backends is None or b.variant in entry.backends)
               for b, link in runners):
            continue
        framework = binding_id.split(".", 1)[0]
        runs = [b for b, other in bindings.items()
                if b.split(".", 1)[0] == framework and other.cannot_express(case) is None]
        instead = f"; of {framework}'s, {', '.join(runs[:4])} run{'s' if len(runs) == 1 else ''} it" if runs else ""
        which = f"its entry {position} of {len(entries)}" if len(entries) > 1 else "its entry"
        why = bindings[binding_id].cannot_express(case)
        if why:
            return (f"{binding_id} never runs this case ({why}), and no binding that inherits {which} does, "
                    f"so it documents nothing{instead}")
        return (f"{which.capitalize()} is taken by no binding that runs this case (its `backends` or "
                f"`shared: false` leave them out), so it documents nothing{instead}")
    return None
