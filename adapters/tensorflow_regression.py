"""TensorFlow raw ops (``tf.nn``) for the regression and likelihood losses.

Two ops: ``tf.nn.log_poisson_loss(targets, log_input, compute_full_loss=False)``,
the Poisson negative log-likelihood of log-rates per element (unreduced, no
weights: the glue weighs and reduces), and ``tf.nn.l2_loss(t)``, half the sum of
the squares of one tensor - the squared error summed, halved, of ``t = x - y``.
The rest of the regression losses live in Keras (``keras.losses``), not in
``tf.nn``.

This module imports nothing of TensorFlow; its recipes run in the tensorflow worker.
"""

from __future__ import annotations

from conformance.binding import Binding
from conformance.recipe import ArrayOps, RecipeWriter

DOCS = "https://www.tensorflow.org/api_docs/python/tf/nn/{}"

# The same templates as conformance.adapters.tensorflow.OPS (that module imports this one).
OPS = ArrayOps(total="tf.reduce_sum({})", mean="tf.reduce_mean({})", where="tf.where({}, {}, {})",
               take="tf.gather({}, {})", count="tf.reduce_sum(tf.cast({mask}, tf.float64))",
               widen="tf.cast({}, {dtype!r})")


def _write_log_poisson(w: RecipeWriter) -> None:
    case = w.case
    log_input = w.input()
    if not w.as_is and case.input.kind == "rates":
        log_input = w.converted("log_rates", f"tf.math.log({log_input})")
    # The case's own options go in either way; as_is drops only the glue (and unset options).
    given = not w.as_is or "full" in case.options_set()
    full = f", compute_full_loss={bool(case.option('full'))}" if given else ""
    w.emit(f"per_element = tf.nn.log_poisson_loss({w.target()}, {log_input}{full})")
    if case.option("weight") is None:
        w.reduce("per_element", OPS)
        return
    weight = w.weight()
    w.emit(f"per_element = per_element * {weight}")
    w.reduce("per_element", OPS, denominator=OPS.total.format(OPS.widen.format(weight, dtype="float64")))


def _write_l2_loss(w: RecipeWriter) -> None:
    # l2_loss takes one tensor: the residual x - y, rounded once as any squared error
    # computes it; its documented 1/2 is undone in faithful cases (x 2 is exact).
    call = f"tf.nn.l2_loss({w.input()} - {w.target()})"
    w.emit(f"loss = {call}" if w.as_is else f"loss = 2 * {call}")


BINDINGS = (
    Binding("tensorflow.nn.log_poisson_loss", "poisson_nll", frozenset({"log_rates", "rates"}),
            frozenset({"counts"}), _write_log_poisson, options=frozenset({"weight", "full"}),
            reads="reads its input as log-rates (exp(c) - z c per element, unreduced) and leaves out "
                  "log(z!) unless compute_full_loss=True, which adds Stirling's approximation, set to 0 "
                  "where 0 <= z <= 1",
            doc=DOCS.format("log_poisson_loss"),
            profile={"rate_input": "log-rates", "poisson_guard": "n/a: reads log-rates",
                     "poisson_full": "Stirling, 0 where 0 <= y <= 1",
                     "sum": "every element"}),
    Binding("tensorflow.nn.l2_loss", "squared_error", frozenset({"predictions"}), frozenset({"values"}),
            _write_l2_loss, reductions=frozenset({"sum"}),
            reads="returns sum(t**2) / 2 of one tensor: given t = predictions - targets (the glue's "
                  "subtraction, one rounding as in any squared error), half the summed squared error "
                  "(the faithful glue doubles it, exactly); no weights, no mean, no per-element output",
            doc=DOCS.format("l2_loss"),
            profile={"squared_error_scale": "1/2", "sum": "n/a: scales the loss"}),
)
