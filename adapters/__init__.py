"""Framework adapters: one module per framework, each declaring its bindings.

The registry maps a framework name to its adapter module. Importing an
adapter never imports its framework; that happens only in the framework's
worker process.
"""

from __future__ import annotations

import importlib

from conformance.binding import Binding, Framework

ADAPTER_MODULES = {
    "torch": "adapters.torch",
    "keras": "adapters.keras",
    "keras_jax": "adapters.keras_jax",
    "keras_torch": "adapters.keras_torch",
    "jax": "adapters.jax",
    "sklearn": "adapters.sklearn",
    "tensorflow": "adapters.tensorflow",
    "numpy": "adapters.numpy",
}


def framework(name: str) -> Framework:
    """The declaration of framework ``name``."""
    if name not in ADAPTER_MODULES:
        raise KeyError(f"unknown framework {name!r}; known: {', '.join(ADAPTER_MODULES)}")
    return importlib.import_module(ADAPTER_MODULES[name]).FRAMEWORK


def frameworks() -> list[Framework]:
    return [framework(name) for name in ADAPTER_MODULES]


def all_bindings() -> dict[str, Binding]:
    return {b.id: b for fw in frameworks() for b in fw.bindings}
