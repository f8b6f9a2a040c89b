"""The NumPy/SciPy reference of the regression and likelihood families: each canonical formula by hand.

Each element's loss is computed in the evaluated dtype as a careful user writes it:
``np.log1p`` for the squared log error, the overflow-free log-cosh
``|r| + log1p(exp(-2|r|)) - log 2``, ``0 log 0 = 0`` written with ``np.where``,
``scipy.special.gammaln`` for ``log y!`` (SciPy computes float16 and bfloat16 in
float64: its result is rounded to the dtype once), no eps and no clamps. Weights
multiply each element's loss; sums accumulate in float64 and are rounded once, and a
weighted mean divides by the summed weights.

This module imports NumPy and SciPy only inside recipe strings.
"""

from __future__ import annotations

from collections.abc import Callable

from conformance.binding import Binding
from conformance.case import Case
from conformance.recipe import RecipeWriter

DOCS = "https://numpy.org/doc/stable/reference/generated/numpy.{}.html"
SCIPY_DOCS = "https://docs.scipy.org/doc/scipy/reference/generated/scipy.special.{}.html"


def _residual(w: RecipeWriter) -> str:
    w.emit(f"r = {w.input()} - {w.target()}")
    return "r"


def _squared_error(w: RecipeWriter) -> str:
    r = _residual(w)
    if w.case.reduction == "none":
        return f"np.square({r})"
    # Squared where the sum accumulates, in float64: r^2 can overflow float16 where the mean does not.
    return f"np.square({r}.astype(np.float64))"


def _absolute_error(w: RecipeWriter) -> str:
    return f"np.abs({_residual(w)})"


def _undefined(w: RecipeWriter) -> str:
    """NaN everywhere: the loss is undefined for the case's parameter."""
    return f"np.full({w.input()}.shape, np.nan, dtype={w.dtype!r})"


def _huber(w: RecipeWriter) -> str:
    if w.case.option("delta") < 0:  # the Huber loss is undefined for delta < 0
        return _undefined(w)
    delta = w.floats("delta", w.case.option("delta"))  # a 0-d array: every step stays in the dtype
    w.emit(f"a = np.abs({_residual(w)})")
    # Halved before the product: a^2 alone overflows float16 from a = 256 on, a^2 / 2 only later.
    return f"np.where(np.less_equal(a, {delta}), a / 2 * a, {delta} * (a - {delta} / 2))"


def _smooth_l1(w: RecipeWriter) -> str:
    if w.case.option("beta") < 0:  # the smooth L1 loss is undefined for beta < 0
        return _undefined(w)
    w.emit(f"a = np.abs({_residual(w)})")
    if w.case.option("beta") == 0:  # the limit beta -> 0 is the absolute error
        return "a"
    beta = w.floats("beta", w.case.option("beta"))
    return f"np.where(np.less(a, {beta}), a / (2 * {beta}) * a, a - {beta} / 2)"


def _log_cosh(w: RecipeWriter) -> str:
    # log cosh r = |r| + log(1 + e^(-2|r|)) - log 2, which cannot overflow.
    w.emit(f"a = np.abs({_residual(w)})")
    return f"a + np.log1p(np.exp(-2 * a)) - np.log(2).astype({w.dtype!r})"


def _squared_log_error(w: RecipeWriter) -> str:
    return f"np.square(np.log1p({w.input()}) - np.log1p({w.target()}))"


def _absolute_percentage_error(w: RecipeWriter) -> str:
    # The ratio first: 100 |r| could overflow float16 where the percentage does not.
    return f"100 * (np.abs({_residual(w)}) / np.abs({w.target()}))"


def _poisson_nll(w: RecipeWriter) -> str:
    x, y = w.input(), w.target()
    if w.case.input.kind == "log_rates":
        # e^x - y x, with 0 x = 0 at x = -inf (a zero rate and a zero count).
        per = f"np.exp({x}) - np.where(np.logical_and({y} == 0, np.isneginf({x})), 0, {y} * {x})"
    else:
        # lambda - y log lambda, with 0 log 0 = 0 (a negative rate stays NaN).
        per = f"{x} - np.where(np.logical_and({y} == 0, {x} == 0), 0, {y} * np.log({x}))"
    if w.case.option("full"):
        w.emit(f"nll = {per}")
        # log y! = log Gamma(y + 1), defined for y > -1 (Gamma has poles and changes sign below);
        # SciPy computes float16 and bfloat16 in float64.
        w.emit(f"log_factorial = np.where(np.greater({y}, -1), scipy.special.gammaln({y} + 1), np.nan)"
               f".astype({w.dtype!r})")
        per = "nll + log_factorial"
    return per


def _gaussian_nll(w: RecipeWriter) -> str:
    v = w.floats("variance", w.case.option("variance"))
    r = _residual(w)
    # At v = 0, log v + r^2/v is -inf + inf; its limit is log 0 = -inf where the mean is exact,
    # r^2 / 0 = inf elsewhere.
    w.emit(f"at_zero_variance = np.where({r} == 0, np.log({v}), np.square({r}) / {v})")
    # r / 2 * (r / v) rather than r^2 / v / 2: r^2 alone overflows float16 first.
    per = f"np.where({v} == 0, at_zero_variance, np.log({v}) / 2 + {r} / 2 * ({r} / {v}))"
    if w.case.option("full"):
        w.emit(f"nll = {per}")
        per = f"nll + np.log(2 * np.pi).astype({w.dtype!r}) / 2"
    return per


def reduce_elements(w: RecipeWriter, per: str, denominator: str | None) -> None:
    """``loss`` from the elements' losses: summed in float64 and rounded to the dtype once (as
    :mod:`conformance.adapters.numpy` reduces); ``mean`` divides by ``denominator`` or the count."""
    if w.case.reduction == "none":
        w.emit(f"loss = {per}")
        return
    total = f"np.sum({per}, dtype=np.float64)"
    if w.case.reduction == "mean":
        total = f"{total} / {denominator or f'{per}.size'}"
    w.emit(f"loss = np.asarray({total}).astype({w.dtype!r})")


def elementwise_writer(element: Callable[[RecipeWriter], str]) -> Callable[[RecipeWriter], None]:
    def write(w: RecipeWriter) -> None:
        per = element(w)
        weighted = w.case.option("weight") is not None
        if weighted:
            per = f"({per}) * {w.weight()}"
        w.emit(f"per_element = {per}")
        reduce_elements(w, "per_element", f"np.sum({w.weight()}, dtype=np.float64)" if weighted else None)

    write.__name__ = write.__qualname__ = f"_write_{element.__name__.lstrip('_')}"
    return write


def faithful_only(case: Case) -> str | None:
    return "the reference computes what the case declares; it has no as_is reading" \
        if case.mode == "as_is" else None


_WEIGHT = frozenset({"weight"})
_VALUES = frozenset({"values"})
_PREDICTIONS = frozenset({"predictions"})


def _binding(family: str, element: Callable[[RecipeWriter], str], reads: str, doc: str,
             inputs: frozenset[str] = _PREDICTIONS, targets: frozenset[str] = _VALUES,
             options: frozenset[str] = _WEIGHT) -> Binding:
    return Binding(f"numpy.{family}", family, inputs, targets, elementwise_writer(element), options=options,
                   reads=reads, doc=doc, limits=faithful_only)


BINDINGS = (
    _binding("squared_error", _squared_error, "the canonical formula (x - y)^2", DOCS.format("square")),
    _binding("absolute_error", _absolute_error, "the canonical formula |x - y|", DOCS.format("absolute")),
    _binding("huber", _huber, "the canonical formula: 1/2 r^2 where |r| <= delta, else delta (|r| - delta/2)",
             DOCS.format("where"), options=frozenset({"weight", "delta"})),
    _binding("smooth_l1", _smooth_l1, "the canonical formula: 1/2 r^2 / beta where |r| < beta, "
             "else |r| - beta/2 (|r| at beta = 0)", DOCS.format("where"), options=frozenset({"weight", "beta"})),
    _binding("log_cosh", _log_cosh, "the canonical formula in its overflow-free form |r| + log1p(exp(-2|r|)) - log 2",
             DOCS.format("log1p")),
    _binding("squared_log_error", _squared_log_error, "the canonical formula (log1p(x) - log1p(y))^2",
             DOCS.format("log1p")),
    _binding("absolute_percentage_error", _absolute_percentage_error,
             "the canonical formula 100 |x - y| / |y| (a percentage, no guard)", DOCS.format("absolute")),
    _binding("poisson_nll", _poisson_nll, "the canonical formula: lambda - y log lambda for rates, "
             "e^x - y x for log-rates (0 log 0 = 0), + gammaln(y + 1) with full",
             SCIPY_DOCS.format("gammaln"), inputs=frozenset({"rates", "log_rates"}),
             targets=frozenset({"counts"}), options=frozenset({"weight", "full"})),
    _binding("gaussian_nll", _gaussian_nll, "the canonical formula 1/2 (log v + (mu - y)^2 / v), "
             "+ 1/2 log(2 pi) with full", DOCS.format("log"), inputs=frozenset({"means"}),
             options=frozenset({"variance", "full"})),
)
