"""optax binding of CTC (``optax.ctc_loss``).

``optax.ctc_loss(logits, logit_paddings, labels, label_paddings, *, blank_id=0,
log_epsilon=-1e5)`` takes batch-major logits ``(B, T, K)`` and *paddings*, not
lengths: 1.0 marks a padded frame or label. Labels must be right-padded (a label
length is the number of non-padded entries, taken from the left). It returns one
loss per sequence (the glue reduces it). Its recursion writes log 0 as
``log_epsilon``: a start past the first state and a repeated label without a blank
between cost -1e5 in log space instead of being impossible, so a label with no
alignment costs about 1e5, not inf.

This module imports jax only inside recipe strings.
"""

from __future__ import annotations

from conformance.adapters.ctc_glue import frame_paddings, label_paddings, padded_labels, reduce_sequences
from conformance.adapters.jax_regression import OPS
from conformance.binding import Binding
from conformance.case import Case
from conformance.recipe import RecipeWriter

DOCS = "https://optax.readthedocs.io/en/latest/api/losses.html#optax.losses.ctc_loss"


def _write(w: RecipeWriter) -> None:
    x = w.input()
    if w.case.option("time_major"):
        x = f"jnp.transpose({x}, (1, 0, 2))"
    blank = w.case.option("blank")
    w.emit(f"per_sequence = optax.ctc_loss({x}, {frame_paddings(w)}, {padded_labels(w)}, {label_paddings(w)}"
           f"{f', blank_id={blank}' if blank else ''})")
    reduce_sequences(w, "per_sequence", OPS)


def _limits(case: Case) -> str | None:
    if case.mode == "as_is" and case.reduction != "none":
        return "optax.ctc_loss returns one loss per sequence: as_is, it has no reduction of its own"
    return None


BINDINGS = (
    Binding("jax.optax.ctc_loss", "ctc", frozenset({"logits", "log_probs"}), frozenset({"labels"}), _write,
            options=frozenset({"blank", "input_lengths", "time_major", "left_padded"}), limits=_limits, doc=DOCS,
            reductions=frozenset({"mean", "sum", "none", "length_mean"}),
            reads="softmax of batch-major logits; paddings (1.0 = padded) for frames and labels; log 0 is "
                  "log_epsilon = -1e5, so no alignment costs about 1e5",
            grad_readings={"log_probs": "ctc_softmax_assumed"},
            profile={"ctc_input": "logits", "ctc_infeasible": "about 1e5 (log 0 = -1e5)"}),
)
