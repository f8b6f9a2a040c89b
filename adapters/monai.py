"""MONAI (medical imaging on PyTorch): its losses, ``monai.losses``.

MONAI's ``FocalLoss`` and its overlap losses (``DiceLoss``, ``TverskyLoss``)
compute losses of the suite's focal and overlap families; the bindings live in
``monai_focal`` and ``monai_overlap``. MONAI covers part of the case format only: it is not a
complete framework. It runs on the pinned CPU torch in a worker of its own.

This module imports neither MONAI nor torch at module level; the worker-side
functions at the end do.
"""

from __future__ import annotations

from conformance.adapters.monai_focal import BINDINGS as FOCAL_BINDINGS
from conformance.adapters.monai_overlap import BINDINGS as OVERLAP_BINDINGS
from conformance.adapters.torch import device, result_dtype, to_numpy  # noqa: F401 - the worker calls them
from conformance.adapters.torch import library_on_torch
from conformance.adapters.torch import setup as torch_setup

FRAMEWORK = library_on_torch("monai", "monai.losses", FOCAL_BINDINGS + OVERLAP_BINDINGS)


# -- worker side: only ever called inside the MONAI worker process ----------
def setup() -> None:
    torch_setup("monai.losses")
