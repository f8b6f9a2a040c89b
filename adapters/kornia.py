"""kornia (differentiable computer vision on PyTorch): its losses, ``kornia.losses``.

kornia's focal losses (``focal_loss``, ``binary_focal_loss_with_logits``) and its
overlap losses (``dice_loss``, ``tversky_loss``) compute losses of the suite's
focal and overlap families; the bindings live in ``kornia_focal`` and
``kornia_overlap``. kornia covers part of the case format only: it is not a
complete framework. It runs on the pinned CPU torch in a worker of its own.

This module imports neither kornia nor torch at module level; the worker-side
functions at the end do.
"""

from __future__ import annotations

from conformance.adapters.kornia_focal import BINDINGS as FOCAL_BINDINGS
from conformance.adapters.kornia_overlap import BINDINGS as OVERLAP_BINDINGS
from conformance.adapters.torch import device, result_dtype, to_numpy  # noqa: F401 - the worker calls them
from conformance.adapters.torch import library_on_torch
from conformance.adapters.torch import setup as torch_setup

FRAMEWORK = library_on_torch("kornia", "kornia.losses", FOCAL_BINDINGS + OVERLAP_BINDINGS)


# -- worker side: only ever called inside the kornia worker process ----------
def setup() -> None:
    torch_setup("kornia.losses")
