"""Keras 3 on the JAX backend: the bindings of :mod:`adapters.keras`, in their own worker.

``KERAS_BACKEND=jax`` and JAX's x64 flag are set before import (see the
framework's ``env``); without x64 a float64 loss silently becomes float32.
"""

from __future__ import annotations

from conformance.adapters.keras import on_backend, result_dtype, to_numpy  # noqa: F401  (worker side)

FRAMEWORK = on_backend("jax")


def setup() -> None:
    import jax

    jax.config.update("jax_enable_x64", True)
    import keras  # noqa: F401  (fixes the backend before any recipe runs)


def device() -> str:
    import jax

    return jax.devices()[0].platform
