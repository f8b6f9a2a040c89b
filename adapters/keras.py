"""Keras 3 bindings (``keras.losses`` classes) on the TensorFlow backend.

Keras takes ``(y_true, y_pred)`` - target first. Its probability path
(``from_logits=False``, the default) renormalises categorical predictions
and clips them to [1e-7, 1 - 1e-7]. The default reduction
``sum_over_batch_size`` divides by the number of elements of the per-sample
loss; ``BinaryCrossentropy`` and ``KLDivergence`` first reduce over the last
axis. Loss classes compute in ``floatx`` (float32) unless given ``dtype``,
so every recipe passes the run's dtype.

This module imports keras only inside the worker-side functions at the end.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from conformance.adapters.jax import WORKER_ENV as JAX_WORKER_ENV
from conformance.adapters.keras_ctc import BACKEND_PROFILES as CTC_BACKEND_PROFILES, BINDINGS as CTC_BINDINGS
from conformance.adapters.keras_focal import BINDINGS as FOCAL_BINDINGS
from conformance.adapters.keras_margin import BINDINGS as MARGIN_BINDINGS
from conformance.adapters.keras_overlap import BINDINGS as OVERLAP_BINDINGS
from conformance.adapters.keras_multiclass import BINDINGS as MULTICLASS_BINDINGS
from conformance.adapters.keras_regression import BINDINGS as REGRESSION_BINDINGS
from conformance.adapters.keras_similarity import BINDINGS as SIMILARITY_BINDINGS
from conformance.binding import Binding, Framework, Inherits
from conformance.case import Case, Expectation
from conformance.recipe import ArrayOps, RecipeWriter, kwargs
from conformance.tolerance import Bound

DOCS = "https://keras.io/api/losses/probabilistic_losses/#{}-class"


def _common(w: RecipeWriter, reduction: str | None) -> dict[str, str | None]:
    return {"reduction": reduction, "dtype": repr(w.dtype)}


def _reduction(w: RecipeWriter, weighted: bool = False) -> str | None:
    reduction = w.case.reduction
    if reduction == "none":
        return "None"
    if reduction == "sum":
        return '"sum"'
    return '"mean_with_sample_weight"' if weighted else None


def _from_logits(w: RecipeWriter) -> str | None:
    return "True" if not w.as_is and w.case.input.kind in ("logits", "log_probs") else None


def _class_axis_last(w: RecipeWriter, array: str) -> str:
    if w.as_is or w.case.class_axis_is_last:
        return array
    return f"keras.ops.moveaxis({array}, {w.case.axis}, -1)"


def _class_weight_shape(case: Case) -> tuple[int, ...]:
    """Shape that broadcasts per-class weights along the case's class axis."""
    return (case.num_classes,) + (1,) * (case.ndim - 1 - case.axis)


def _write_categorical(w: RecipeWriter) -> None:
    case = w.case
    target = w.target()
    if case.target.kind == "index":
        target = f"keras.ops.one_hot({target}, {case.num_classes}, axis={case.axis}, dtype={w.dtype!r})"
    sample_weight = ""
    if case.option("weight") is not None:
        # -sum_c w_c t_c log q_c = m * CE(w t / m) with m = sum_c w_c t_c: the labels
        # must sum to 1, as the TensorFlow op's gradient (softmax - labels) assumes
        # (tensorflow/tensorflow#2327); the mass m goes back on as a sample weight.
        w.emit(f"weighted = {target} * keras.ops.reshape({w.weight()}, {_class_weight_shape(case)})")
        w.emit(f"label_mass = keras.ops.sum(weighted, axis={case.axis})")
        target = f"weighted / keras.ops.expand_dims(label_mass, {case.axis})"
        sample_weight = ", sample_weight=label_mass"
    options = kwargs(from_logits=_from_logits(w), label_smoothing=case.option("label_smoothing") or None,
                     axis=None if case.class_axis_is_last or w.as_is else case.axis,
                     **_common(w, _reduction(w)))
    w.emit(f"loss = keras.losses.CategoricalCrossentropy({options.lstrip(', ')})"
           f"({target}, {w.input()}{sample_weight})")


def _categorical_limits(case: Case) -> str | None:
    if case.option("weight") is not None and case.target.kind == "index":
        return ("with index targets the weighted mean divides by the summed target weights; "
                "keras.SparseCategoricalCrossentropy expresses it")
    if case.option("weight") is not None and case.option("label_smoothing"):
        return "Keras smooths the target inside the loss, after any class weights could be folded in"
    return None


def _write_sparse(w: RecipeWriter) -> None:
    case = w.case
    target = w.target()
    weighted = case.option("weight") is not None
    options = kwargs(from_logits=_from_logits(w), ignore_class=case.option("ignore_index"),
                     **_common(w, _reduction(w, weighted)))
    call = f"keras.losses.SparseCategoricalCrossentropy({options.lstrip(', ')})"
    labels = target
    if weighted and case.option("ignore_index") is not None:
        # An ignored label is no index; Keras masks its loss and its sample weight.
        labels = f"keras.ops.where({target} == {case.option('ignore_index')}, 0, {target})"
    sample_weight = f", sample_weight=keras.ops.take({w.weight()}, {labels})" if weighted else ""
    w.emit(f"loss = {call}({target}, {_class_axis_last(w, w.input())}{sample_weight})")


def _elementwise(w: RecipeWriter, array: str) -> str:
    """A trailing axis of size 1, so a reduction over the last axis is the identity."""
    return f"keras.ops.expand_dims({array}, -1)"


def _write_binary(w: RecipeWriter) -> None:
    case = w.case
    x, target = w.input(), w.target()
    if case.option("pos_weight") is not None:
        _write_binary_pos_weight(w, x, target)
        return
    # Keras averages over the last axis first; faithful calls make each element its own row.
    if not w.as_is and case.reduction != "mean":
        x, target = _elementwise(w, x), _elementwise(w, target)
    options = kwargs(from_logits=_from_logits(w), **_common(w, _reduction(w)))
    w.emit(f"loss = keras.losses.BinaryCrossentropy({options.lstrip(', ')})({target}, {x})")


def _write_binary_pos_weight(w: RecipeWriter, x: str, target: str) -> None:
    # -(pw*y*log p + (1-y)*log(1-p)) is linear in the label: combine the API's
    # per-element losses at label 1 and at label 0.
    options = kwargs(from_logits=_from_logits(w), **_common(w, "None"))
    pos_weight = w.floats("pos_weight", w.case.option("pos_weight"))
    w.emit(f"bce = keras.losses.BinaryCrossentropy({options.lstrip(', ')})")
    w.emit(f"x = {_elementwise(w, x)}")
    w.emit(f"per_element = {pos_weight} * {target} * bce(keras.ops.ones_like(x), x) "
           f"+ (1 - {target}) * bce(keras.ops.zeros_like(x), x)")
    _reduce_function(w, "per_element")


def _kl_arguments(w: RecipeWriter) -> tuple[str, str]:
    """(target, prediction) as the probabilities Keras' KL wants (as_is: as written)."""
    case = w.case
    x, target = w.input(), w.target()
    if not w.as_is:
        if case.input.kind == "logits":
            x = f"keras.ops.softmax({x}, axis={case.axis})"
        elif case.input.kind == "log_probs":
            x = f"keras.ops.exp({x})"
        if case.target.kind == "log_probs":
            target = f"keras.ops.exp({target})"
    return target, x


def _write_kl(w: RecipeWriter) -> None:
    case = w.case
    target, x = _kl_arguments(w)
    native = case.reduction == "batchmean" and case.ndim == 2 and case.class_axis_is_last
    if native or w.as_is:
        w.emit(f"loss = keras.losses.KLDivergence(dtype={w.dtype!r})({target}, {x})")
        return
    # KLDivergence sums over the last axis; a trailing axis of size 1 keeps the pointwise terms.
    # batchmean has no Keras reduction: the glue divides the unreduced terms' sum by N.
    reduction = {"none": "None", "sum": '"sum"', "mean": None, "batchmean": "None"}[case.reduction]
    options = kwargs(**_common(w, reduction)).lstrip(", ")
    call = f"keras.losses.KLDivergence({options})({_elementwise(w, target)}, {_elementwise(w, x)})"
    if case.reduction == "batchmean":
        w.emit(f"per_element = {call}")
        _reduce_function(w, "per_element")
    else:
        w.emit(f"loss = {call}")


# -- function forms: keras.losses.<name>(y_true, y_pred, ...) -----------------
# They return per-example losses in the inputs' dtype; the case's reduction is
# applied to what they return. The classes wrap them, so they share the
# classes' documented deviations.
# keras.ops.mean averages float64 in float32 on the JAX and torch backends (its compute
# dtype is result_type(x, "float32")); the glue divides the float64 sum by the count.
OPS = ArrayOps(total="keras.ops.sum({})", mean="keras.ops.divide(keras.ops.sum({0}), keras.ops.size({0}))",
               widen="keras.ops.cast({}, {dtype!r})")


def _reduce_function(w: RecipeWriter, per: str, count: str | None = None) -> None:
    w.reduce(per, OPS, denominator=count)


def _write_categorical_function(w: RecipeWriter) -> None:
    case = w.case
    target = w.target()
    if case.target.kind == "index":
        target = f"keras.ops.one_hot({target}, {case.num_classes}, axis={case.axis}, dtype={w.dtype!r})"
    options = kwargs(from_logits=_from_logits(w), label_smoothing=case.option("label_smoothing") or None,
                     axis=None if case.class_axis_is_last or w.as_is else case.axis)
    w.emit(f"per_example = keras.losses.categorical_crossentropy({target}, {w.input()}{options})")
    _reduce_function(w, "per_example")


def _write_sparse_function(w: RecipeWriter) -> None:
    case = w.case
    target = w.target()
    options = kwargs(from_logits=_from_logits(w), ignore_class=case.option("ignore_index"))
    w.emit(f"per_example = keras.losses.sparse_categorical_crossentropy("
           f"{target}, {_class_axis_last(w, w.input())}{options})")
    count = None
    if case.option("ignore_index") is not None:
        count = f"keras.ops.sum(keras.ops.cast({target} != {case.option('ignore_index')}, 'float64'))"
    _reduce_function(w, "per_example", count)


def _write_binary_function(w: RecipeWriter) -> None:
    x, target = w.input(), w.target()
    if not w.as_is:  # it averages over the last axis: make each element its own row
        x, target = _elementwise(w, x), _elementwise(w, target)
    options = kwargs(from_logits=_from_logits(w))
    w.emit(f"per_element = keras.losses.binary_crossentropy({target}, {x}{options})")
    _reduce_function(w, "per_element")


def _write_kl_function(w: RecipeWriter) -> None:
    target, x = _kl_arguments(w)
    if not w.as_is:
        x, target = _elementwise(w, x), _elementwise(w, target)
    w.emit(f"per_element = keras.losses.kl_divergence({target}, {x})")
    _reduce_function(w, "per_element")


# Keras' own promotion gives result_type("float64", "float32") = "float32", and two ops compute in
# it on the JAX and torch backends: the mean over the last axis that binary_crossentropy takes,
# and the division of the loss classes' mean reduction on torch. Every such float64 row is
# computed like float32, whatever the case: declared for the binding, not per case.
V = "https://github.com/keras-team/keras/blob/v3.15.1/keras/src"
_BINARY_MEAN_IN_FLOAT32 = Expectation(
    within=Bound(like="float32"), grad_within=Bound(like="float32"), category="precision",
    dtypes=["float64"], backends=["jax", "torch"],
    link=f"{V}/backend/jax/numpy.py#L226-L263",
    reason="binary_crossentropy averages over the last axis with ops.mean, whose compute dtype is "
           "result_type(dtype, 'float32'): float32 for float64 input on the JAX and torch backends "
           "(jax/numpy.py mean, torch/numpy.py mean), so float64 rows carry float32 rounding.")
_CLASS_MEAN_IN_FLOAT32 = Expectation(
    within=Bound(like="float32"), grad_within=Bound(like="float32"), category="precision",
    dtypes=["float64"], backends=["torch"], reductions=["mean", "batchmean"],
    link=f"{V}/backend/torch/numpy.py#L2137-L2146",
    reason="A loss class's mean divides with ops.divide_no_nan (losses/loss.py reduce_values), which "
           "on the torch backend casts both operands to result_type(float64, float64, float) = "
           "float32: the float64 mean is rounded to float32 and returned as float32.")

_ALL_INPUTS = frozenset({"logits", "probs", "log_probs"})
# Probabilities are renormalised by the API; log-probabilities go in as logits.
_CATEGORICAL_GRADIENTS = {"probs": "renormalised", "log_probs": "softmax"}
FUNCTION_DOCS = "https://keras.io/api/losses/probabilistic_losses/#{}-function"

_CLASSES = (
    Binding("keras.CategoricalCrossentropy", "cross_entropy", _ALL_INPUTS,
            frozenset({"probs", "index"}), _write_categorical,
            options=frozenset({"weight", "label_smoothing"}), limits=_categorical_limits,
            reads="reads its input as probabilities (from_logits=False): renormalises each "
                  "row and clips to [1e-7, 1-1e-7]",
            grad_readings=_CATEGORICAL_GRADIENTS, deviations=(_CLASS_MEAN_IN_FLOAT32,),
            doc=DOCS.format("categoricalcrossentropy"),
            profile={"input": "probabilities",
                     "unnormalised": "renormalised",
                     "zero_probability": "clipped at 1e-7",
                     "neg_inf": "n/a: reads probabilities",
                     "class_axis": "last",
                     "smoothing": "eps/C"}),
    Binding("keras.SparseCategoricalCrossentropy", "cross_entropy", _ALL_INPUTS,
            frozenset({"index"}), _write_sparse,
            options=frozenset({"weight", "ignore_index"}),
            reads="reads its input as probabilities (from_logits=False) and clips them to "
                  "[1e-7, 1-1e-7]",
            grad_readings=_CATEGORICAL_GRADIENTS, deviations=(_CLASS_MEAN_IN_FLOAT32,),
            doc=DOCS.format("sparsecategoricalcrossentropy"),
            profile={"input": "probabilities",
                     "unnormalised": "renormalised",
                     "zero_probability": "clipped at 1e-7",
                     "neg_inf": "finite (clipped)",
                     "class_axis": "last (raises on (N, C, L))"}),
    Binding("keras.BinaryCrossentropy", "binary_cross_entropy", frozenset({"logits", "probs"}),
            frozenset({"probs"}), _write_binary, options=frozenset({"pos_weight"}),
            reads="reads its input as probabilities (from_logits=False), clips them to "
                  "[1e-7, 1-1e-7] and averages over the last axis",
            deviations=(_BINARY_MEAN_IN_FLOAT32, _CLASS_MEAN_IN_FLOAT32),
            doc=DOCS.format("binarycrossentropy"),
            profile={"input": "probabilities",
                     "zero_probability": "clipped at 1e-7",
                     "neg_inf": "finite (clipped)"}),
    Binding("keras.KLDivergence", "kl_divergence", _ALL_INPUTS, frozenset({"probs", "log_probs"}),
            _write_kl, reductions=frozenset({"mean", "sum", "none", "batchmean"}),
            reads="reads both arguments as probabilities, clips them to [1e-7, 1], sums over "
                  "the last axis and averages over the rest",
            deviations=(_CLASS_MEAN_IN_FLOAT32,),
            doc=DOCS.format("kldivergence"),
            profile={"input": "probabilities",
                     "zero_probability": "clipped at 1e-7",
                     "neg_inf": "n/a: reads probabilities"}),
)

_BY_ID = {b.id: b for b in _CLASSES}
_FUNCTIONS = (
    Binding("keras.losses.categorical_crossentropy", "cross_entropy", _ALL_INPUTS,
            frozenset({"probs", "index"}), _write_categorical_function,
            options=frozenset({"label_smoothing"}),
            reads=_BY_ID["keras.CategoricalCrossentropy"].reads,
            doc=FUNCTION_DOCS.format("categoricalcrossentropy"),
            profile=_BY_ID["keras.CategoricalCrossentropy"].profile,
            grad_readings=_CATEGORICAL_GRADIENTS,
            documented_by=(Inherits("keras.CategoricalCrossentropy", shared_only=True),)),
    Binding("keras.losses.sparse_categorical_crossentropy", "cross_entropy", _ALL_INPUTS,
            frozenset({"index"}), _write_sparse_function, options=frozenset({"ignore_index"}),
            reads=_BY_ID["keras.SparseCategoricalCrossentropy"].reads,
            doc=FUNCTION_DOCS.format("sparsecategoricalcrossentropy"),
            profile=_BY_ID["keras.SparseCategoricalCrossentropy"].profile,
            grad_readings=_CATEGORICAL_GRADIENTS,
            documented_by=(Inherits("keras.SparseCategoricalCrossentropy", shared_only=True),)),
    Binding("keras.losses.binary_crossentropy", "binary_cross_entropy", frozenset({"logits", "probs"}),
            frozenset({"probs"}), _write_binary_function,
            reads=_BY_ID["keras.BinaryCrossentropy"].reads, deviations=(_BINARY_MEAN_IN_FLOAT32,),
            doc=FUNCTION_DOCS.format("binarycrossentropy"),
            profile=_BY_ID["keras.BinaryCrossentropy"].profile,
            documented_by=(Inherits("keras.BinaryCrossentropy", shared_only=True),)),
    Binding("keras.losses.kl_divergence", "kl_divergence", _ALL_INPUTS, frozenset({"probs", "log_probs"}),
            _write_kl_function, reductions=frozenset({"mean", "sum", "none", "batchmean"}),
            reads=_BY_ID["keras.KLDivergence"].reads, doc=FUNCTION_DOCS.format("kldivergence"),
            profile=_BY_ID["keras.KLDivergence"].profile,
            documented_by=(Inherits("keras.KLDivergence", shared_only=True),)),
)

_SHOW = 'keras.ops.convert_to_numpy(keras.ops.cast({}, "float64")).tolist()'
# The backend's own autodiff: GradientTape, jax.grad or torch.autograd.
_BACKEND_GRADIENTS = {
    "tensorflow": ("import tensorflow as tf",
                   "with tf.GradientTape() as tape:",
                   "    tape.watch({x})",
                   "    summed = keras.ops.sum(loss_of({x}))",
                   "grad = tape.gradient(summed, {x})"),
    "jax": ("import jax",
            "grad = jax.jit(jax.grad(lambda x: keras.ops.sum(loss_of(x))))({x})"),
    "torch": ("import torch",
              "leaf = {x}.detach().requires_grad_(True)",
              "grad, = torch.autograd.grad(keras.ops.sum(loss_of(leaf)), leaf)"),
}
_BACKEND_ENV = {
    "tensorflow": {"CUDA_VISIBLE_DEVICES": ""},
    "jax": JAX_WORKER_ENV,
    # Keras picks CUDA by itself at import when a GPU is visible and passes its
    # device to every tensor it makes, so torch's default device cannot move it:
    # pin it, so that "cpu" rows are.
    "torch": {"KERAS_TORCH_DEVICE": "cpu"},
}
_BACKEND_DISTRIBUTIONS = {"tensorflow": ("tensorflow-cpu", "tensorflow"), "jax": ("jax", "jaxlib"),
                          "torch": ("torch",)}


# Where a backend measurably reads an input differently (the probes check it):
# on JAX the sparse loss one-hot encodes and multiplies, so a -inf input gives NaN.
_BACKEND_PROFILES = {
    "jax": {"SparseCategoricalCrossentropy": {"neg_inf": "n/a: reads probabilities"},
            "losses.sparse_categorical_crossentropy": {"neg_inf": "n/a: reads probabilities"}},
}
for _backend, _profiles in CTC_BACKEND_PROFILES.items():  # keras.ops.ctc_loss's log 0 is its backend's
    _BACKEND_PROFILES.setdefault(_backend, {}).update(_profiles)


def on_backend(backend: str) -> Framework:
    """The Keras bindings on one backend, in a worker of their own (the backend is
    fixed at import). Framework ``keras`` is the TensorFlow backend; the others are
    ``keras_jax`` and ``keras_torch``, whose bindings share the ``keras.*`` entries
    of ``expect`` (an entry names ``backends`` when only some show it)."""
    name = "keras" if backend == "tensorflow" else f"keras_{backend}"
    bindings = tuple(replace(b, variant=backend)
                     for b in _CLASSES + _FUNCTIONS + CTC_BINDINGS + REGRESSION_BINDINGS + MARGIN_BINDINGS
                     + OVERLAP_BINDINGS + SIMILARITY_BINDINGS + MULTICLASS_BINDINGS + FOCAL_BINDINGS)
    if backend != "tensorflow":
        overrides = _BACKEND_PROFILES.get(backend, {})
        # The same API: all of the keras.* binding's entries, before those it inherits.
        bindings = tuple(replace(b, id=f"{name}.{b.id.removeprefix('keras.')}",
                                 documented_by=(Inherits(b.id),) + b.documented_by,
                                 profile={**b.profile, **overrides.get(b.id.removeprefix("keras."), {})})
                         for b in bindings)
    return Framework(
        name=name,
        distributions=("keras",) + _BACKEND_DISTRIBUTIONS[backend],
        imports=("import keras",),
        float_array="keras.ops.convert_to_tensor({data}, dtype={dtype!r})",
        index_array="keras.ops.convert_to_tensor({data})",
        show=_SHOW.format("loss"),
        worker_module=f"conformance.adapters.{name}",
        env={"KERAS_BACKEND": backend, **_BACKEND_ENV[backend]},
        gradient=_BACKEND_GRADIENTS[backend] + (f"print({_SHOW.format('grad')})",),
        # Every backend is pinned to the CPU (TensorFlow and Keras-on-torch would place
        # ops on a visible GPU themselves): honest "cpu" rows; plain torch has the device axis.
        accelerators={},
        bindings=bindings,
        requires=("keras", backend),
    )


FRAMEWORK = on_backend("tensorflow")


# -- worker side: only ever called inside the keras worker process ----------
def setup() -> None:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras  # noqa: F401  (fixes the backend before any recipe runs)


def to_numpy(value: Any) -> Any:
    import keras
    import numpy as np

    # Cast inside the framework: NumPy cannot take TensorFlow's bfloat16 directly.
    return np.asarray(keras.ops.convert_to_numpy(keras.ops.cast(value, "float64")))


def result_dtype(value: Any) -> str:
    import keras

    return keras.backend.standardize_dtype(value.dtype)


def device() -> str:
    return "cpu"
