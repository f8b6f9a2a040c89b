"""Worker side of the tinygrad plugin: only ever imported inside the tinygrad worker
process (``Framework.worker_module``), where ``DEV`` is already set."""

from __future__ import annotations

from typing import Any


def setup() -> None:
    import os
    import shutil

    from tinygrad import Device, Tensor

    # tinygrad's CPU device (the clang renderer, its default) compiles every kernel with a C
    # compiler. Check for it here, not through a kernel: tinygrad's disk cache of compiled
    # kernels would hide a missing compiler until the first new kernel, one row later.
    target = os.environ.get("DEV", "").upper()
    if target in ("CPU", "CPU:CLANG") or target.startswith("CPU:CLANG:"):
        compiler = os.environ.get("CC", "clang")
        if shutil.which(compiler) is None:
            raise RuntimeError(f"tinygrad's CPU device compiles its kernels with {compiler!r}, which is "
                               "not installed (Debian: apt-get install clang-19; or set "
                               "CONFORMANCE_TINYGRAD_CC)")
    (Tensor([1.0]) + 1).realize()
    Device[Device.DEFAULT].synchronize()


def to_numpy(value: Any) -> Any:
    import numpy as np

    # realize() stores the result in its own dtype first: a dtype the device emulates
    # (computed in float32) is rounded there, as the API returns it.
    return np.asarray(value.realize().numpy(), dtype=np.float64)


def result_dtype(value: Any) -> str:
    from tinygrad import dtypes

    names = {dtypes.float16: "float16", dtypes.bfloat16: "bfloat16", dtypes.float32: "float32",
             dtypes.float64: "float64"}
    return names.get(value.dtype, str(value.dtype).removeprefix("dtypes."))


def device() -> str:
    from tinygrad import Device

    return Device.DEFAULT.lower()
