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
from conformance.binding import Framework

FRAMEWORK = Framework(
    name="monai",
    distributions=("monai", "torch"),
    imports=("import torch", "import monai.losses"),
    float_array="torch.tensor({data}, dtype=torch.{dtype})",
    index_array="torch.tensor({data})",
    show="loss.tolist()",
    worker_module="conformance.adapters.monai",
    complete=False,
    bindings=FOCAL_BINDINGS + OVERLAP_BINDINGS,
    gradient=("leaf = {x}.detach().requires_grad_(True)",
              "grad, = torch.autograd.grad(loss_of(leaf).sum(), leaf)",
              "print(grad.tolist())"),
)


# -- worker side: only ever called inside the MONAI worker process ----------
def setup() -> None:
    import monai.losses  # noqa: F401
    import torch

    torch.set_num_threads(1)

