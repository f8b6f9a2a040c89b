"""JAX bindings (``optax`` losses).

optax losses take logits (or log-probabilities for ``kl_divergence``),
put the class axis last by default, and never reduce: they return one loss
per example, so the case's reduction is applied to what they return. They
have no class weights, ignore index or ``pos_weight``; those are written as
glue on the per-example losses, and the glue is part of the recipe.

float64 needs ``jax_enable_x64`` before the first array is made; without it
JAX silently computes in float32. Recipes therefore enable it first.

This module imports jax only inside the worker-side functions at the end.
"""

from __future__ import annotations

import os
from functools import partial
from typing import Any

from conformance.adapters.jax_ctc import BINDINGS as CTC
from conformance.adapters.jax_focal import BINDINGS as FOCAL
from conformance.adapters.jax_margin import BINDINGS as MARGIN
from conformance.adapters.jax_overlap import BINDINGS as OVERLAP
from conformance.adapters.jax_multiclass import BINDINGS as MULTICLASS
from conformance.adapters.jax_regression import BINDINGS as REGRESSION
from conformance.adapters.jax_similarity import BINDINGS as SIMILARITY
from conformance.binding import Binding, Framework
from conformance.recipe import ArrayOps, RecipeWriter

DOCS = "https://optax.readthedocs.io/en/latest/api/losses.html#optax.losses.{}"


def _axis(w: RecipeWriter) -> str:
    """The ``axis=`` argument (as_is: the API's default, the last axis)."""
    return "" if w.case.class_axis_is_last or w.as_is else f", axis={w.case.axis}"


def _as_logits(w: RecipeWriter) -> str:
    x = w.input()
    # Log-probabilities are valid logits: log_softmax(log p) = log p.
    return w.converted("log_probs", f"jnp.log({x})") if not w.as_is and w.case.input.kind == "probs" else x


OPS = ArrayOps(total="{}.sum()", mean="{}.mean()", where="jnp.where({}, {}, {})",
               take="jnp.take({}, {})", count="{mask}.sum()", widen="{}.astype({dtype!r})")


def _reduce(w: RecipeWriter, per: str) -> None:
    """Assign ``loss`` from per-example losses: optax never reduces."""
    w.reduce(per, OPS)


def _write_softmax_ce(w: RecipeWriter, function: str = "softmax_cross_entropy") -> None:
    """optax.softmax_cross_entropy, or safe_softmax_cross_entropy (no ``axis``: glue moves it)."""
    case = w.case
    labels = w.target()
    if case.target.kind == "index":
        labels = f"jax.nn.one_hot({labels}, {case.num_classes}, axis={case.axis}, dtype=jnp.{w.dtype})"
    if case.option("label_smoothing"):
        labels = f"optax.smooth_labels({labels}, {case.option('label_smoothing')}{_axis(w)})"
    if case.option("weight") is not None:
        shape = (case.num_classes,) + (1,) * (case.ndim - 1 - case.axis)
        # -sum_c w_c t_c log q_c: class weights fold exactly into the target.
        labels = f"{labels} * {w.weight()}.reshape({shape})"
    logits = _as_logits(w)
    if function == "softmax_cross_entropy":
        w.emit(f"per_example = optax.softmax_cross_entropy({logits}, {labels}{_axis(w)})")
    else:
        if _axis(w):
            logits = f"jnp.moveaxis({logits}, {case.axis}, -1)"
            labels = f"jnp.moveaxis({labels}, {case.axis}, -1)"
        w.emit(f"per_example = optax.{function}({logits}, {labels})")
    if case.target.kind == "index":
        w.index_glue("per_example", OPS)
    else:
        _reduce(w, "per_example")


def _write_integer_labels(w: RecipeWriter) -> None:
    case = w.case
    labels = w.target()
    if case.option("ignore_index") is not None:
        labels = f"jnp.where({labels} != {case.option('ignore_index')}, {labels}, 0)"
    w.emit(f"per_example = optax.softmax_cross_entropy_with_integer_labels("
           f"{_as_logits(w)}, {labels}{_axis(w)})")
    if case.option("weight") is not None:
        w.emit(f"per_example = per_example * jnp.take({w.weight()}, {labels})")
    w.index_glue("per_example", OPS)


def _write_sigmoid_bce(w: RecipeWriter) -> None:
    case = w.case
    x, target = w.input(), w.target()
    if not w.as_is and case.input.kind == "probs":
        x = w.converted("logits", f"jax.scipy.special.logit({x})")
    if case.option("pos_weight") is None:
        w.emit(f"per_element = optax.sigmoid_binary_cross_entropy({x}, {target})")
    else:
        # -(pw*y*log p + (1-y)*log(1-p)) is linear in the label: combine the
        # API's losses at label 1 and at label 0.
        pos_weight = w.floats("pos_weight", case.option("pos_weight"))
        w.emit(f"x = {x}")
        w.emit(f"per_element = {pos_weight} * {target} * optax.sigmoid_binary_cross_entropy("
               f"x, jnp.ones_like(x)) + (1 - {target}) * optax.sigmoid_binary_cross_entropy("
               "x, jnp.zeros_like(x))")
    _reduce(w, "per_element")


def _write_kl(w: RecipeWriter) -> None:
    case = w.case
    x, target = w.input(), w.target()
    if not w.as_is:
        if case.input.kind == "probs":
            x = w.converted("log_probs", f"jnp.log({x})")
        elif case.input.kind == "logits":
            x = f"jax.nn.log_softmax({x}, axis={case.axis})"
        if case.target.kind == "log_probs":
            target = f"jnp.exp({target})"
        # optax sums over the last axis; a trailing axis of size 1 keeps the pointwise terms.
        x, target = f"{x}[..., None]", f"{target}[..., None]"
    w.emit(f"per_element = optax.kl_divergence({x}, {target})")
    _reduce(w, "per_element")


def _cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "loss-conformance", "jax")


# Set before JAX is imported. x64: without it float64 silently becomes float32.
# The persistent compilation cache lets every JAX worker (both JAX frameworks,
# every pytest-xdist process, later runs) reuse what another compiled for the
# same shape and dtype - eager JAX compiles each primitive per shape; measured on
# the float32 jax matrix: 120 s cold, 50 s warm. The executables are the same,
# so the numbers are too.
WORKER_ENV = {
    "JAX_ENABLE_X64": "1", "JAX_PLATFORMS": "cpu",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    "JAX_COMPILATION_CACHE_DIR": _cache_dir(),
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1",
}

_ALL_INPUTS = frozenset({"logits", "probs", "log_probs"})
# The faithful glue gives log p (or log-probabilities) to an API that takes logits.
_LOGITS_API_GRADIENTS = {"log_probs": "softmax"}

FRAMEWORK = Framework(
    name="jax",
    distributions=("jax", "jaxlib", "optax"),
    imports=("import jax", 'jax.config.update("jax_enable_x64", True)', "import jax.numpy as jnp",
             "import optax"),
    float_array="jnp.array({data}, dtype=jnp.{dtype})",
    index_array="jnp.array({data})",
    show="loss.tolist()",
    worker_module="conformance.adapters.jax",
    # jit: one XLA compilation of the whole gradient, not one per primitive (6x faster here).
    gradient=("grad = jax.jit(jax.grad(lambda x: loss_of(x).sum()))({x})", "print(grad.tolist())"),
    env=WORKER_ENV,
    bindings=(
        Binding("jax.optax.softmax_cross_entropy", "cross_entropy", _ALL_INPUTS,
                frozenset({"probs", "index"}), _write_softmax_ce,
                options=frozenset({"weight", "ignore_index", "label_smoothing"}),
                reads="applies log_softmax over the last axis (reads its input as logits)",
                grad_readings=_LOGITS_API_GRADIENTS,
                doc=DOCS.format("softmax_cross_entropy"),
                profile={"input": "logits",
                         "unnormalised": "n/a: reads logits",
                         "zero_probability": "n/a: reads logits",
                         "neg_inf": "NaN (0 * -inf)",
                         "class_axis": "last",
                         "smoothing": "eps/C"}),
        Binding("jax.optax.safe_softmax_cross_entropy", "cross_entropy", _ALL_INPUTS,
                frozenset({"probs", "index"}),
                partial(_write_softmax_ce, function="safe_softmax_cross_entropy"),
                options=frozenset({"weight", "ignore_index", "label_smoothing"}),
                reads="applies log_softmax over the last axis (reads its input as logits); 0 log 0 = 0",
                grad_readings=_LOGITS_API_GRADIENTS,
                doc=DOCS.format("safe_softmax_cross_entropy"),
                profile={"input": "logits",
                         "unnormalised": "n/a: reads logits",
                         "zero_probability": "n/a: reads logits",
                         "neg_inf": "finite (0 log 0 = 0)",
                         "class_axis": "last",
                         "smoothing": "eps/C"}),
        Binding("jax.optax.softmax_cross_entropy_with_integer_labels", "cross_entropy", _ALL_INPUTS,
                frozenset({"index"}), _write_integer_labels,
                options=frozenset({"weight", "ignore_index"}),
                reads="applies log_softmax over the last axis (reads its input as logits)",
                grad_readings=_LOGITS_API_GRADIENTS,
                doc=DOCS.format("softmax_cross_entropy_with_integer_labels"),
                profile={"input": "logits",
                         "unnormalised": "n/a: reads logits",
                         "zero_probability": "n/a: reads logits",
                         "neg_inf": "finite (0 log 0 = 0)",
                         "class_axis": "last (raises on (N, C, L))"}),
        Binding("jax.optax.sigmoid_binary_cross_entropy", "binary_cross_entropy",
                frozenset({"logits", "probs"}), frozenset({"probs"}), _write_sigmoid_bce,
                options=frozenset({"pos_weight"}),
                reads="applies log_sigmoid (reads its input as logits)",
                doc=DOCS.format("sigmoid_binary_cross_entropy"),
                profile={"input": "logits",
                         "zero_probability": "n/a: reads logits",
                         "neg_inf": "NaN (0 * -inf)"}),
        Binding("jax.optax.kl_divergence", "kl_divergence", _ALL_INPUTS,
                frozenset({"probs", "log_probs"}), _write_kl,
                reductions=frozenset({"mean", "sum", "none", "batchmean"}),
                reads="reads its first argument as log-probabilities and sums over the last axis",
                doc=DOCS.format("kl_divergence"),
                profile={"input": "log-probabilities",
                         "zero_probability": "n/a: reads log-probabilities",
                         "neg_inf": "NaN (0 * -inf)"}),
    ) + CTC + REGRESSION + MARGIN + OVERLAP + SIMILARITY + MULTICLASS + FOCAL,
)


# -- worker side: only ever called inside the jax worker process ------------
def setup() -> None:
    import jax

    jax.config.update("jax_enable_x64", True)


def to_numpy(value: Any) -> Any:
    import numpy as np

    return np.asarray(value).astype(np.float64)


def result_dtype(value: Any) -> str:
    return str(value.dtype)


def device() -> str:
    import jax

    return jax.devices()[0].platform
