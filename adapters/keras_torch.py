"""Keras 3 on the PyTorch backend: the bindings of :mod:`adapters.keras`, in their own worker."""

from __future__ import annotations

from conformance.adapters.keras import on_backend, result_dtype, to_numpy  # noqa: F401  (worker side)

FRAMEWORK = on_backend("torch")


def setup() -> None:
    import torch

    torch.set_num_threads(1)
    import keras  # noqa: F401  (fixes the backend before any recipe runs)


def device() -> str:
    return "cpu"

