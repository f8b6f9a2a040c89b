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
from conformance.binding import Framework

FRAMEWORK = Framework(
    name="kornia",
    distributions=("kornia", "torch"),
    imports=("import torch", "import kornia.losses"),
    float_array="torch.tensor({data}, dtype=torch.{dtype})",
    index_array="torch.tensor({data})",
    show="loss.tolist()",
    worker_module="conformance.adapters.kornia",
    complete=False,
    bindings=FOCAL_BINDINGS + OVERLAP_BINDINGS,
    gradient=("leaf = {x}.detach().requires_grad_(True)",
              "grad, = torch.autograd.grad(loss_of(leaf).sum(), leaf)",
              "print(grad.tolist())"),
)


# -- worker side: only ever called inside the kornia worker process ----------
def setup() -> None:
    import kornia.losses  # noqa: F401
    import torch

    torch.set_num_threads(1)

