"""Loss families: one module each, registered here by name.

A family (:class:`~conformance.families.base.Family`) declares everything the
rest of the suite needs to know about its losses; the runner, the comparison,
the report, the pytest plugin and the command line name none. The built-in
families are the modules of this package; a plugin registers more through the
entry-point group ``loss_conformance.families`` (value: ``module:INSTANCE``),
and a test or a script with :func:`register`.
"""

from __future__ import annotations

import difflib
import importlib
import threading
from collections.abc import Iterable
from importlib import metadata

from conformance.families.base import Aspect, Family, Options, Reading, Rule, reduce_exact
from conformance.vocabulary import Elements

__all__ = ["Aspect", "Family", "Options", "Reading", "Rule", "array_elements", "families", "family",
           "names", "problems", "reduce_exact", "register", "unregister"]

GROUP = "loss_conformance.families"
BUILT_IN = ("conformance.families.cross_entropy:FAMILY",
            "conformance.families.binary_cross_entropy:FAMILY",
            "conformance.families.kl_divergence:FAMILY",
            *(f"conformance.families.{name}:FAMILY" for name in (
                "squared_error", "absolute_error", "huber", "smooth_l1", "log_cosh", "squared_log_error",
                "absolute_percentage_error", "poisson_nll", "gaussian_nll",
                "hinge", "squared_hinge", "perceptron", "soft_margin",
                "multiclass_hinge", "multiclass_perceptron", "multi_margin", "multilabel_margin",
                "multilabel_soft_margin", "hinge_embedding",
                "cosine_similarity", "cosine_distance", "cosine_embedding", "triplet_margin",
                "binary_focal", "categorical_focal", "dice", "tversky",
                "ctc")))

_registry: dict[str, Family] = {}
# reference -> why it could not be registered (a broken plugin), for `conformance list`.
_problems: dict[str, str] = {}
_loaded = False
_lock = threading.RLock()


def _load() -> None:
    global _loaded
    with _lock:
        if _loaded:
            return
        _loaded = True  # before registering: register() comes back here
        plugins = [e.value for e in sorted(metadata.entry_points(group=GROUP), key=lambda e: e.name)]
        for reference in list(BUILT_IN) + plugins:
            try:
                module, _, attribute = reference.partition(":")
                declared = getattr(importlib.import_module(module), attribute or "FAMILY")
                if not isinstance(declared, Family):
                    raise TypeError(f"it is a {type(declared).__name__}, not a conformance.families.Family")
                register(declared)
            except Exception as exc:  # noqa: BLE001 - one broken plugin must not hide the others
                if reference in BUILT_IN:
                    raise
                _problems[reference] = f"{type(exc).__name__}: {exc}"


def register(family: Family, replace: bool = False) -> Family:
    """Add ``family`` to the registry. Its kinds must not contradict another family's, and
    its name must be new (``replace=True`` to swap a family for another on purpose)."""
    _load()
    with _lock:
        known = _registry.get(family.name)
        if known is not None and known is not family and not replace:
            raise ValueError(f"a loss family named {family.name!r} is registered already "
                             f"({type(known).__module__}); choose another name")
        elements = _elements([name for name in _registry if name != family.name])
        for kind, kind_elements in _kinds(family).items():
            if elements.get(kind, kind_elements) != kind_elements:
                raise ValueError(f"{family.name} declares {kind!r} as {kind_elements} arrays, another "
                                 f"family as {elements[kind]}")
        _registry[family.name] = family
    return family


def problems() -> dict[str, str]:
    """Family plugins that could not be registered, by entry-point value, and why."""
    _load()
    return dict(_problems)


def unregister(name: str) -> None:
    """Remove a family registered by a test or a script."""
    with _lock:
        _registry.pop(name, None)


def family(name: str) -> Family:
    """The family called ``name``; a ``KeyError`` that names the close ones otherwise."""
    _load()
    try:
        return _registry[name]
    except KeyError:
        close = difflib.get_close_matches(str(name), list(_registry), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(_registry)}"
        raise KeyError(f"unknown loss {name!r}{hint}") from None


def names() -> list[str]:
    _load()
    return list(_registry)


def families() -> list[Family]:
    _load()
    return list(_registry.values())


def _kinds(family: Family) -> dict[str, Elements]:
    return {**{kind: Elements.FLOAT for kind in family.inputs}, **family.targets}


def array_elements() -> dict[str, Elements]:
    """Every input or target kind a registered family knows, and what its arrays hold."""
    _load()
    return _elements(_registry)


def _elements(names: Iterable[str]) -> dict[str, Elements]:
    found: dict[str, Elements] = {}
    for name in names:
        found.update(_kinds(_registry[name]))
    return found
