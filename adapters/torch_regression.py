"""PyTorch bindings of the regression and likelihood families (``torch.nn.functional`` and ``torch.nn``).

torch has ``mse_loss``, ``l1_loss``, ``huber_loss``, ``smooth_l1_loss``,
``poisson_nll_loss`` and ``gaussian_nll_loss``, each with a module form; it has
no log-cosh, squared log error or percentage error (those families have no
torch binding). ``mse_loss``, ``l1_loss`` and ``huber_loss`` take element
weights (``weight=``; ``huber_loss``'s weighted mean divides by the element
count); ``smooth_l1_loss``, ``poisson_nll_loss`` and every module form do not, so
the glue weights them: ``reduction='none'``, times the weights, reduced with the
summed weights as the mean's denominator. ``poisson_nll_loss`` reads its input as
log-rates by default (``log_input=True``), and with ``log_input=False`` adds
``eps = 1e-8`` inside the log; ``gaussian_nll_loss`` clamps the variance at
``eps = 1e-6``; the faithful glue leaves both eps at their defaults.

This module imports torch only inside recipe strings.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from conformance.binding import Binding, Inherits
from conformance.recipe import ArrayOps, RecipeWriter, kwargs

F = "torch.nn.functional"
DOCS = "https://pytorch.org/docs/stable/generated/torch.nn.functional.{}.html"
MODULE_DOCS = "https://pytorch.org/docs/stable/generated/torch.nn.{}.html"

OPS = ArrayOps(total="{}.sum()", mean="{}.mean()", widen="{}.to(torch.{dtype})")

# The functions that take element weights (``weight=``, the input's shape); their module
# forms do not.
_NATIVE_WEIGHT = frozenset({"mse_loss", "l1_loss", "huber_loss"})


def _option(w: RecipeWriter, name: str, value: object) -> object:
    """``value`` (faithful: every option explicit); as_is: only an option the case sets."""
    return value if not w.as_is or name in w.case.options_set() else None


def write_call(w: RecipeWriter, function: str, args: str, options: dict[str, object], module: str | None) -> None:
    """``F.function(args, options)`` or ``torch.nn.Module(options)(args)``, weighted natively
    where the function takes ``weight=``, else by the glue."""
    weighted = w.case.option("weight") is not None
    native = weighted and module is None and function in _NATIVE_WEIGHT
    glue = weighted and not native
    reduction = "'none'" if glue else (None if w.case.reduction == "mean" else repr(w.case.reduction))
    options = {**options, "reduction": reduction, "weight": w.weight() if native else None}
    given = kwargs(**options)
    call = (f"{F}.{function}({args}{given})" if module is None
            else f"torch.nn.{module}({given.removeprefix(', ')})({args})")
    if not glue:
        w.emit(f"loss = {call}")
        return
    weight = w.weight()
    w.emit(f"per_element = {call} * {weight}")
    w.reduce("per_element", OPS, denominator=OPS.total.format(OPS.widen.format(weight, dtype="float64")))


def _write_mse(w: RecipeWriter, module: str | None = None) -> None:
    write_call(w, "mse_loss", f"{w.input()}, {w.target()}", {}, module)


def _write_l1(w: RecipeWriter, module: str | None = None) -> None:
    write_call(w, "l1_loss", f"{w.input()}, {w.target()}", {}, module)


def _write_huber(w: RecipeWriter, module: str | None = None) -> None:
    options = {"delta": _option(w, "delta", w.case.option("delta"))}
    write_call(w, "huber_loss", f"{w.input()}, {w.target()}", options, module)


def _write_smooth_l1(w: RecipeWriter, module: str | None = None) -> None:
    options = {"beta": _option(w, "beta", w.case.option("beta"))}
    write_call(w, "smooth_l1_loss", f"{w.input()}, {w.target()}", options, module)


def _write_poisson(w: RecipeWriter, module: str | None = None) -> None:
    # The input kind chooses log_input (as_is: torch's default, log_input=True).
    log_input = None if w.as_is else w.case.input.kind == "log_rates"
    options = {"log_input": log_input, "full": _option(w, "full", w.case.option("full"))}
    write_call(w, "poisson_nll_loss", f"{w.input()}, {w.target()}", options, module)


def _write_gaussian(w: RecipeWriter, module: str | None = None) -> None:
    variance = w.floats("variance", w.case.option("variance"))
    options = {"full": _option(w, "full", w.case.option("full"))}
    write_call(w, "gaussian_nll_loss", f"{w.input()}, {w.target()}, {variance}", options, module)


_PREDICTIONS = frozenset({"predictions"})
_VALUES = frozenset({"values"})
_WEIGHT = frozenset({"weight"})

_FUNCTIONAL = (
    Binding("torch.mse_loss", "squared_error", _PREDICTIONS, _VALUES, _write_mse, options=_WEIGHT,
            reads="(input - target)^2 per element; weight= multiplies each element and a weighted mean "
                  "divides by the summed weights",
            doc=DOCS.format("mse_loss"),
            profile={"squared_error_scale": "1", "weighted_mean": "the summed weights", "sum": "every element"}),
    Binding("torch.l1_loss", "absolute_error", _PREDICTIONS, _VALUES, _write_l1, options=_WEIGHT,
            reads="|input - target| per element; weight= multiplies each element and a weighted mean "
                  "divides by the summed weights",
            doc=DOCS.format("l1_loss"),
            profile={"weighted_mean": "the summed weights", "sum": "every element"}),
    Binding("torch.huber_loss", "huber", _PREDICTIONS, _VALUES, _write_huber,
            options=frozenset({"weight", "delta"}),
            reads="the Huber loss with delta=1.0 (refuses delta <= 0); weight= multiplies each element, "
                  "and a weighted mean divides by the number of elements",
            doc=DOCS.format("huber_loss"),
            profile={"huber_scale": "Huber_delta", "weighted_mean": "the element count", "sum": "every element"}),
    Binding("torch.smooth_l1_loss", "smooth_l1", _PREDICTIONS, _VALUES, _write_smooth_l1,
            options=frozenset({"weight", "beta"}),
            reads="the smooth L1 loss with beta=1.0 (beta = 0 is l1_loss; refuses beta < 0); no weights "
                  "(the glue weights its per-element output)",
            doc=DOCS.format("smooth_l1_loss"),
            profile={"weighted_mean": "the summed weights", "sum": "every element"}),
    Binding("torch.poisson_nll_loss", "poisson_nll", frozenset({"rates", "log_rates"}), frozenset({"counts"}),
            _write_poisson, options=frozenset({"weight", "full"}),
            reads="reads its input as log-rates (log_input=True: exp(x) - y x); with log_input=False, "
                  "x - y log(x + 1e-8); full=True adds Stirling's approximation of log y!, 0 where y <= 1",
            doc=DOCS.format("poisson_nll_loss"),
            profile={"rate_input": "log-rates", "poisson_guard": "n/a: reads log-rates",
                     "poisson_full": "Stirling, 0 where y <= 1", "sum": "every element"}),
    Binding("torch.gaussian_nll_loss", "gaussian_nll", frozenset({"means"}), _VALUES, _write_gaussian,
            options=frozenset({"variance", "full"}),
            reads="1/2 (log var + (input - target)^2 / var) with var clamped at 1e-6 (refuses a negative "
                  "variance); full=True adds 1/2 log(2 pi)",
            doc=DOCS.format("gaussian_nll_loss"),
            profile={"gaussian_guard": "clamped at 1e-6", "gaussian_constant": "left out"}),
)

# The module forms call the functional forms with the options the module stores; none takes
# element weights: the glue weights their per-element output, so torch.nn.HuberLoss's weighted
# mean divides by the summed weights (an entry about huber_loss's weight= is `shared: false`).
_MODULES = {"torch.mse_loss": ("MSELoss", _write_mse, "(input - target)^2 per element"),
            "torch.l1_loss": ("L1Loss", _write_l1, "|input - target| per element"),
            "torch.huber_loss": ("HuberLoss", _write_huber, "the Huber loss with delta=1.0 (refuses delta <= 0)"),
            "torch.smooth_l1_loss": ("SmoothL1Loss", _write_smooth_l1,
                                     "the smooth L1 loss with beta=1.0 (beta = 0 is L1; refuses beta < 0)"),
            "torch.poisson_nll_loss": ("PoissonNLLLoss", _write_poisson, None),
            "torch.gaussian_nll_loss": ("GaussianNLLLoss", _write_gaussian, None)}


def _module_form(b: Binding) -> Binding:
    name, write, reads = _MODULES[b.id]
    profile = dict(b.profile)
    if "weighted_mean" in profile:
        profile["weighted_mean"] = "the summed weights"
    return replace(b, id=f"torch.nn.{name}", write=partial(write, module=name),
                   documented_by=(Inherits(b.id, shared_only=True),),
                   reads=b.reads if reads is None else f"{reads}; no weights (the glue weights its per-element output)",
                   profile=profile, doc=MODULE_DOCS.format(name))


BINDINGS = _FUNCTIONAL + tuple(_module_form(b) for b in _FUNCTIONAL)
