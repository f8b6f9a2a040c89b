"""TensorFlow raw ops (``tf.nn``): the losses under Keras, called directly.

They take logits, put the classes last, and never reduce; labels come first
(``labels=``, ``logits=``). There is no KL op in ``tf.nn`` and no label
smoothing, so this is a partial framework: cases it cannot express have no
rows.

This module imports TensorFlow only inside the worker-side functions.
"""

from __future__ import annotations

from typing import Any

from conformance.adapters.tensorflow_ctc import BINDINGS as CTC
from conformance.adapters.tensorflow_regression import BINDINGS as REGRESSION
from conformance.binding import Binding, Framework
from conformance.recipe import ArrayOps, RecipeWriter

DOCS = "https://www.tensorflow.org/api_docs/python/tf/nn/{}"


OPS = ArrayOps(total="tf.reduce_sum({})", mean="tf.reduce_mean({})", where="tf.where({}, {}, {})",
               take="tf.gather({}, {})", count="tf.reduce_sum(tf.cast({mask}, tf.float64))",
               widen="tf.cast({}, {dtype!r})")


def _reduce(w: RecipeWriter, per: str) -> None:
    w.reduce(per, OPS)


def _as_logits(w: RecipeWriter) -> str:
    x = w.input()
    # Log-probabilities are valid logits: log_softmax(log p) = log p.
    return w.converted("log_probs", f"tf.math.log({x})") if not w.as_is and w.case.input.kind == "probs" else x


def _classes_last(w: RecipeWriter, array: str) -> str:
    if w.as_is or w.case.class_axis_is_last:
        return array
    return f"tf.experimental.numpy.moveaxis({array}, {w.case.axis}, -1)"


def _write_softmax(w: RecipeWriter) -> None:
    case = w.case
    labels = w.target()
    if case.target.kind == "index":
        labels = f"tf.one_hot({labels}, {case.num_classes}, axis={case.axis}, dtype=tf.{w.dtype})"
    elif case.option("weight") is not None:
        labels = _normalised_weighted_labels(w, labels)
    axis = "" if case.class_axis_is_last or w.as_is else f", axis={case.axis}"
    w.emit(f"per_example = tf.nn.softmax_cross_entropy_with_logits(labels={labels}, "
           f"logits={_as_logits(w)}{axis})")
    if case.target.kind == "probs":
        if case.option("weight") is not None:
            w.emit(f"per_example = per_example * tf.squeeze(label_mass, {case.axis})")
        _reduce(w, "per_example")
        return
    if case.option("weight") is not None:
        index = w.target()
        if case.option("ignore_index") is not None:
            index = f"tf.where({index} != {case.option('ignore_index')}, {index}, 0)"
        w.emit(f"per_example = per_example * tf.gather({w.weight()}, {index})")
    w.index_glue("per_example", OPS)


def _normalised_weighted_labels(w: RecipeWriter, labels: str) -> str:
    """Soft labels times class weights, rescaled to sum to 1 (the mass goes back on later).

    The op's gradient is ``softmax - labels``, right only for labels that sum to 1
    (tensorflow/tensorflow#2327); folding the weights into the labels would break it.
    """
    shape = (w.case.num_classes,) + (1,) * (w.case.ndim - 1 - w.case.axis)
    w.emit(f"weighted = {labels} * tf.reshape({w.weight()}, {shape})")
    w.emit(f"label_mass = tf.reduce_sum(weighted, axis={w.case.axis}, keepdims=True)")
    return "weighted / label_mass"


def _write_sparse(w: RecipeWriter) -> None:
    case = w.case
    labels = w.target()
    if case.option("ignore_index") is not None:
        labels = f"tf.where({labels} != {case.option('ignore_index')}, {labels}, 0)"
    w.emit(f"per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(labels={labels}, "
           f"logits={_classes_last(w, _as_logits(w))})")
    if case.option("weight") is not None:
        w.emit(f"per_example = per_example * tf.gather({w.weight()}, {labels})")
    w.index_glue("per_example", OPS)


def _as_binary_logits(w: RecipeWriter) -> str:
    x = w.input()
    if not w.as_is and w.case.input.kind == "probs":
        return w.converted("logits", f"tf.math.log({x}) - tf.math.log1p(-{x})")
    return x


def _write_sigmoid(w: RecipeWriter) -> None:
    w.emit(f"per_element = tf.nn.sigmoid_cross_entropy_with_logits(labels={w.target()}, "
           f"logits={_as_binary_logits(w)})")
    _reduce(w, "per_element")


def _write_weighted(w: RecipeWriter) -> None:
    given = w.case.option("pos_weight")
    pos_weight = w.floats("pos_weight", given) if given is not None else "1.0"
    w.emit(f"per_element = tf.nn.weighted_cross_entropy_with_logits(labels={w.target()}, "
           f"logits={_as_binary_logits(w)}, pos_weight={pos_weight})")
    _reduce(w, "per_element")


_ALL_INPUTS = frozenset({"logits", "probs", "log_probs"})

FRAMEWORK = Framework(
    name="tensorflow",
    distributions=("tensorflow-cpu", "tensorflow"),
    imports=("import tensorflow as tf",),
    float_array="tf.constant({data}, dtype=tf.{dtype})",
    index_array="tf.constant({data})",
    show="tf.cast(loss, tf.float64).numpy().tolist()",
    worker_module="conformance.adapters.tensorflow",
    # TensorFlow would place ops on a visible GPU by itself: hide it, so "cpu" rows are.
    env={"CUDA_VISIBLE_DEVICES": ""},
    complete=False,
    gradient=("with tf.GradientTape() as tape:",
              "    tape.watch({x})",
              "    summed = tf.reduce_sum(loss_of({x}))",
              "grad = tape.gradient(summed, {x})",
              "print(tf.cast(grad, tf.float64).numpy().tolist())"),
    bindings=(
        Binding("tensorflow.nn.softmax_cross_entropy_with_logits", "cross_entropy", _ALL_INPUTS,
                frozenset({"probs", "index"}), _write_softmax, options=frozenset({"weight", "ignore_index"}),
                reads="applies log_softmax over the last axis (reads its input as logits)",
                grad_readings={"log_probs": "softmax"},
                doc=DOCS.format("softmax_cross_entropy_with_logits"),
                profile={"input": "logits",
                         "unnormalised": "n/a: reads logits",
                         "zero_probability": "n/a: reads logits",
                         "neg_inf": "NaN (0 * -inf)",
                         "class_axis": "last"}),
        Binding("tensorflow.nn.sparse_softmax_cross_entropy_with_logits", "cross_entropy", _ALL_INPUTS,
                frozenset({"index"}), _write_sparse, options=frozenset({"weight", "ignore_index"}),
                reads="applies log_softmax over the last axis (reads its input as logits)",
                grad_readings={"log_probs": "softmax"},
                doc=DOCS.format("sparse_softmax_cross_entropy_with_logits"),
                profile={"input": "logits",
                         "unnormalised": "n/a: reads logits",
                         "zero_probability": "n/a: reads logits",
                         "neg_inf": "finite (0 log 0 = 0)",
                         "class_axis": "last (raises on (N, C, L))"}),
        Binding("tensorflow.nn.sigmoid_cross_entropy_with_logits", "binary_cross_entropy",
                frozenset({"logits", "probs"}), frozenset({"probs"}), _write_sigmoid,
                reads="applies log_sigmoid (reads its input as logits)",
                doc=DOCS.format("sigmoid_cross_entropy_with_logits"),
                profile={"input": "logits",
                         "zero_probability": "n/a: reads logits",
                         "neg_inf": "NaN (0 * -inf)"}),
        Binding("tensorflow.nn.weighted_cross_entropy_with_logits", "binary_cross_entropy",
                frozenset({"logits", "probs"}), frozenset({"probs"}), _write_weighted,
                options=frozenset({"pos_weight"}),
                reads="applies log_sigmoid (reads its input as logits)",
                doc=DOCS.format("weighted_cross_entropy_with_logits"),
                profile={"input": "logits",
                         "zero_probability": "n/a: reads logits",
                         "neg_inf": "NaN (0 * -inf)"}),
    ) + REGRESSION + CTC,
)


# -- worker side: only ever called inside the tensorflow worker process -----
def setup() -> None:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def to_numpy(value: Any) -> Any:
    import tensorflow as tf

    return tf.cast(value, tf.float64).numpy()


def result_dtype(value: Any) -> str:
    return value.dtype.name


def device() -> str:
    return "cpu"
