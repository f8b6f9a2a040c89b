"""Framework discovery: every framework, built-in or a plugin, is an entry point.

A framework is registered in the entry-point group ``loss_conformance.frameworks``
of some installed distribution: the entry point's name is the framework's name,
its value (``module:ATTRIBUTE``) names a :class:`~conformance.binding.Framework`
declaration. This project registers its own frameworks the same way (see
``pyproject.toml``), so a plugin (``examples/plugins/tinygrad``) is found by
exactly the path the built-in ones take.

Loading a declaration imports the adapter module only, never the framework:
that happens in the framework's worker process, which is started with the
declaration's *reference* and resolves it again (:func:`resolve`).
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from importlib import metadata

from conformance.binding import Binding, Framework

GROUP = "loss_conformance.frameworks"


class FrameworkNotFound(KeyError):
    """No installed distribution registers a framework of that name."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Registration:
    """One entry point of the group: where a framework comes from (``conformance list``)."""

    name: str
    reference: str
    distribution: str
    version: str
    # Why the declaration could not be loaded (a broken plugin), or "".
    problem: str = ""


def resolve(reference: str) -> Framework:
    """The framework declared at ``module:ATTRIBUTE`` (an entry point's value)."""
    module_name, _, attribute = reference.partition(":")
    declared = getattr(importlib.import_module(module_name), attribute or "FRAMEWORK")
    if not isinstance(declared, Framework):
        raise TypeError(f"{reference} is a {type(declared).__name__}, not a conformance.binding.Framework")
    return declared.registered_as(reference)


@functools.cache
def _discovered() -> tuple[dict[str, Registration], dict[str, Framework]]:
    registrations: dict[str, Registration] = {}
    declarations: dict[str, Framework] = {}
    for entry in sorted(metadata.entry_points(group=GROUP), key=lambda e: e.name):
        dist = entry.dist
        found = Registration(entry.name, entry.value, dist.name if dist else "?",
                             dist.version if dist else "?")
        if entry.name in registrations:
            earlier = registrations[entry.name]
            registrations[entry.name] = _broken(earlier, f"registered twice: by {earlier.distribution} "
                                                f"({earlier.reference}) and {found.distribution} ({found.reference})")
            declarations.pop(entry.name, None)
            continue
        try:
            declared = resolve(entry.value)
            if declared.name != entry.name:
                raise ValueError(f"the entry point is named {entry.name!r} but the declaration's "
                                 f"name is {declared.name!r}")
        except Exception as exc:  # noqa: BLE001 - one broken plugin must not hide the others
            registrations[entry.name] = _broken(found, f"{type(exc).__name__}: {exc}")
            continue
        registrations[entry.name], declarations[entry.name] = found, declared
    return registrations, declarations


def _broken(registration: Registration, problem: str) -> Registration:
    return Registration(registration.name, registration.reference, registration.distribution,
                        registration.version, problem)


def registrations() -> dict[str, Registration]:
    """Every registered framework by name, loadable or not."""
    return dict(_discovered()[0])


def names() -> list[str]:
    """The names of the frameworks whose declarations load."""
    return list(_discovered()[1])


def framework(name: str) -> Framework:
    """The declaration of framework ``name``."""
    registered, declared = _discovered()
    if name in declared:
        return declared[name]
    if name in registered:
        raise FrameworkNotFound(f"framework {name!r} ({registered[name].reference}, from "
                                f"{registered[name].distribution}) cannot be loaded: {registered[name].problem}")
    raise FrameworkNotFound(f"unknown framework {name!r}; installed: {', '.join(declared) or 'none'} "
                            f"(a plugin registers one in the entry-point group {GROUP!r})")


def frameworks(selected: list[str] | None = None) -> list[Framework]:
    """The named frameworks' declarations (all that load, by default)."""
    return [framework(name) for name in (selected if selected is not None else names())]


def all_bindings() -> dict[str, Binding]:
    """Every binding of every loadable framework, by id."""
    return {b.id: b for fw in frameworks() for b in fw.bindings}
