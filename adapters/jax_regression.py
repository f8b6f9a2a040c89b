"""JAX bindings of the regression losses (``optax.losses``).

optax 0.2.8 has four elementwise regression losses: ``squared_error``,
``l2_loss`` (half of it), ``huber_loss`` and ``log_cosh``. Each returns one loss
per element and never reduces, and none takes weights: the glue multiplies the
elements by the case's weights and reduces them (in float64, rounding once). It
has no absolute error, smooth L1, squared log error, percentage error, Poisson
or Gaussian likelihood (``generalized_kl_divergence`` sums over an axis and is
the Poisson *deviance*, not the likelihood), so those cases have no optax call:
jax.numpy formulas would test the glue, not an API.

This module imports nothing of JAX; its recipes run in the jax worker.
"""

from __future__ import annotations

from conformance.binding import Binding
from conformance.recipe import ArrayOps, RecipeWriter

DOCS = "https://optax.readthedocs.io/en/latest/api/losses.html#optax.losses.{}"
SOURCE = "https://github.com/google-deepmind/optax/blob/v0.2.8/optax/losses/_regression.py"

# The same templates as conformance.adapters.jax.OPS (that module imports this one).
OPS = ArrayOps(total="{}.sum()", mean="{}.mean()", where="jnp.where({}, {}, {})",
               take="jnp.take({}, {})", count="{mask}.sum()", widen="{}.astype({dtype!r})")


def _weighted_reduce(w: RecipeWriter, per: str) -> None:
    """Weigh the elements (optax has no weights) and reduce: Σ w l / Σ w for ``mean``."""
    weight = w.case.option("weight")
    if weight is None:
        w.reduce(per, OPS)
        return
    w.emit(f"{per} = {per} * {w.weight()}")
    w.reduce(per, OPS, denominator=OPS.total.format(OPS.widen.format(w.weight(), dtype="float64")))


def _writer(function: str, factor: int | None = None, delta: bool = False):
    """Write ``optax.losses.<function>(predictions, targets)`` per element.

    ``factor`` undoes a constant the API's documentation states as its definition
    (``l2_loss`` is half the squared error), faithful cases only; ``delta`` passes the
    case's delta explicitly (as_is: only where the case sets it)."""

    def write(w: RecipeWriter) -> None:
        explicit = delta and (not w.as_is or "delta" in w.case.options_set())
        options = f", delta={float(w.case.option('delta'))!r}" if explicit else ""
        call = f"optax.losses.{function}({w.input()}, {w.target()}{options})"
        if factor is not None and not w.as_is:
            call = f"{factor} * {call}"
        w.emit(f"per_element = {call}")
        _weighted_reduce(w, "per_element")

    return write


_PREDICTIONS, _VALUES = frozenset({"predictions"}), frozenset({"values"})
_GLUE_REDUCES = {"weighted_mean": "the summed weights", "sum": "every element"}

BINDINGS = (
    Binding("jax.optax.squared_error", "squared_error", _PREDICTIONS, _VALUES, _writer("squared_error"),
            options=frozenset({"weight"}),
            reads="returns (predictions - targets)**2 per element, unreduced (shapes must be equal)",
            doc=DOCS.format("squared_error"),
            profile={"squared_error_scale": "1", **_GLUE_REDUCES}),
    Binding("jax.optax.l2_loss", "squared_error", _PREDICTIONS, _VALUES, _writer("l2_loss", factor=2),
            options=frozenset({"weight"}),
            reads="returns 0.5 * (predictions - targets)**2 per element, unreduced: half the squared "
                  "error by its definition (the faithful glue doubles it, exactly)",
            doc=DOCS.format("l2_loss"),
            profile={"squared_error_scale": "1/2", "weighted_mean": "n/a: scales the loss",
                     "sum": "n/a: scales the loss"}),
    Binding("jax.optax.huber_loss", "huber", _PREDICTIONS, _VALUES, _writer("huber_loss", delta=True),
            options=frozenset({"weight", "delta"}),
            reads="returns 0.5 min(|r|, delta)**2 + delta (|r| - min(|r|, delta)) per element with "
                  "delta=1 by default, unreduced (r = predictions - targets)",
            doc=DOCS.format("huber_loss"),
            profile={"huber_scale": "Huber_delta", **_GLUE_REDUCES}),
    Binding("jax.optax.log_cosh", "log_cosh", _PREDICTIONS, _VALUES, _writer("log_cosh"),
            options=frozenset({"weight"}),
            reads="returns logaddexp(r, -r) - log 2 per element (no overflow), unreduced "
                  "(r = predictions - targets)",
            doc=DOCS.format("log_cosh"),
            profile={"sum": "every element"}),
)
