r"""What the focal families share: their readings, exact helpers and aspects.

The focal loss (Lin et al. 2017) multiplies each class's cross-entropy term by
:math:`(1 - q)^\gamma`, the probability the model gives to *not* that class,
and by a class weight :math:`\alpha`. APIs agree on one-hot labels and differ
in what they do around it; :class:`FocalKnobs` is the set of ways measured:

- the input read as another kind (``reads``: logits / probabilities, or
  probabilities renormalised to sum to 1 as Keras' categorical loss does);
- probabilities clipped to ``[c, 1 - c]`` (Keras: ``c = 1e-7``);
- a soft binary label generalised another way (``soft``): ``p_t`` is
  :math:`\alpha_t (1 - p_t)^\gamma \mathrm{BCE}(t, p)` with
  :math:`p_t = t p + (1-t)(1-p)` and :math:`\alpha_t = \alpha t + (1-\alpha)(1-t)`
  (Keras, optax, torchvision); ``signed_logit`` is
  :math:`\alpha_t \sigma(-x(2t-1))^\gamma \mathrm{BCE}(t, p)` (MONAI);
- α left out although given (``alpha_off``: Keras' binary loss without
  ``apply_class_balancing``), or applied although not given (``alpha_default``:
  kornia's binary function 0.25, Keras' categorical 0.25 on every class);
- ``mean`` divided by positions × classes (``denominator="elements"``: kornia and
  MONAI keep one slice per class); ``sum`` that averages the spatial axes first
  (``denominator="spatial"``: MONAI, whose ``mean(dim=[])`` on a 2-D input averages
  everything);
- classes read as independent sigmoids (``sigmoid``: MONAI's default);
- the mean over the last axis first (``row_reduce``: Keras' functions).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from conformance.arrays import Number
from conformance.dtypes import round_to
from conformance.exact import MP, NAN, ONE, ZERO, exp, log, log_sigmoid
from conformance.families.base import Aspect, Family, Options, Reading, Rule

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.dtypes import DType


class FocalOptions(Options):
    """γ (the focusing exponent; every API's default is 2) and label smoothing."""

    gamma: Number = Field(default=2.0, ge=0.0)
    label_smoothing: Number = Field(default=0.0, ge=0.0, lt=1.0)


@dataclass(frozen=True)
class FocalKnobs(Reading):
    """One way of reading a focal case; the defaults are the canonical loss."""

    reads: str | None = None            # logits | probs | renormalised
    clip: float | None = None           # probabilities clipped to [clip, 1 - clip]
    soft: str | None = None             # (binary) p_t | signed_logit
    alpha_off: bool = False             # the case's α is not applied
    alpha_default: float | None = None  # α applied where the case gives none
    denominator: str | None = None      # mean divided by positions × classes (elements); sum: spatial
    sigmoid: bool = False               # (categorical) each class an independent sigmoid
    row_reduce: bool = False            # (binary) averaged over the last axis first

    def describe(self, case: Case) -> str:
        binary = case.loss == "binary_focal"
        words = []
        for name, value in self.knobs().items():
            if name == "alpha_default":
                words.append(f"applies alpha = {value:g} when none is given" if binary
                             else f"multiplies every class by alpha = {value:g} when none is given")
            elif name == "clip":
                words.append(f"clips probabilities to [{value:.3g}, 1-{value:.3g}]")
            else:
                words.append(_DESCRIBE[name](value))
        return " and ".join(words)


_DESCRIBE = {
    "reads": lambda v: {"logits": "applies sigmoid/softmax to the input (reads it as logits)",
                        "probs": "reads the input as probabilities",
                        "renormalised": "renormalises the probabilities to sum to 1"}[v],
    "soft": lambda v: {"p_t": "weights a soft label's whole BCE by alpha_t (1 - p_t)^gamma with "
                              "p_t = t p + (1 - t)(1 - p), alpha_t = alpha t + (1 - alpha)(1 - t)",
                       "signed_logit": "weights a soft label's whole BCE by alpha_t sigmoid(-x (2t - 1))^gamma"}[v],
    "alpha_off": lambda v: "ignores alpha",
    "denominator": lambda v: {
        "elements": "divides the mean by positions x classes (one slice per class)",
        "spatial": "averages the spatial axes (2 and on) before summing, and every axis when there are none "
                   "(torch's mean(dim=[]) reduces all of them): `sum` of a 2-D input is its mean"}[v],
    "sigmoid": lambda v: "applies a sigmoid to each class (independent binary focal losses), not a softmax",
    "row_reduce": lambda v: "averages over the last axis first (one mean per sample)",
}


def knobs_of(reading: Reading) -> FocalKnobs | None:
    """The reading as focal knobs; the canonical reading of another family counts as canonical
    (the project's tests pass classification's ``Knobs()``), any other is not ours."""
    if isinstance(reading, FocalKnobs):
        return reading
    return None if reading.knobs() else FocalKnobs()


class FocalFamily(Family):
    """What both focal families share: the variant runs with NumPy's warnings off."""

    def variant(self, case: Case, dtype: DType, reading: Reading, inputs: np.ndarray | None = None,
                ) -> np.ndarray | None:
        knobs = knobs_of(reading)
        if knobs is None:
            return None
        with np.errstate(all="ignore"):
            try:
                return self.variant_of(case, dtype, knobs, inputs)
            except (ValueError, IndexError):
                return None

    def variant_of(self, case: Case, dtype: DType, knobs: FocalKnobs, inputs: np.ndarray | None) -> np.ndarray:
        raise NotImplementedError

    def kink_points(self, reading: Reading) -> list[float]:
        knobs = knobs_of(reading)
        clip = knobs.clip if knobs is not None else None
        return [0.0, 1.0] + ([clip, 1 - clip] if clip is not None else [])


# -- exact helpers --------------------------------------------------------------------
def power(base: Any, gamma: Any) -> Any:
    """``base ** gamma`` with ``0 ** 0 = 1`` (γ = 0 is the plain cross-entropy)."""
    if MP.isnan(base):
        return NAN
    return ONE if gamma == 0 else base ** gamma


def xlogx(u: Any, log_u: Any) -> Any:
    """``u log u`` with the limit 0 at u = 0."""
    return ZERO if u == 0 else u * log_u


def focal_term(coefficient: Any, complement: Any, log_q: Any, gamma: Any) -> Any:
    """``-coefficient (1 - q)^γ log q`` (``complement`` is 1 - q), 0 where the coefficient is 0."""
    if MP.isnan(coefficient) or MP.isnan(log_q):
        return NAN
    if coefficient == 0:
        return ZERO
    return -coefficient * power(complement, gamma) * log_q


def term_slope_p(coefficient: Any, q: Any, complement: Any, log_q: Any, gamma: Any) -> Any:
    """d/dq of ``-c (1 - q)^γ log q``: c (γ (1 - q)^(γ-1) log q - (1 - q)^γ / q)."""
    if any(MP.isnan(v) for v in (coefficient, q, log_q)):
        return NAN
    if coefficient == 0:
        return ZERO
    focal = ZERO if gamma == 0 or log_q == 0 else gamma * complement ** (gamma - 1) * log_q
    ratio = -power(complement, gamma) / q if q != 0 else -MP.inf
    return coefficient * (focal + ratio)


def term_slope_logit(coefficient: Any, q: Any, complement: Any, log_q: Any, gamma: Any) -> Any:
    """``q`` times :func:`term_slope_p`: c (γ (1-q)^(γ-1) q log q - (1-q)^γ), finite for every
    finite logit (the chain rule through a sigmoid or a softmax multiplies by q)."""
    if any(MP.isnan(v) for v in (coefficient, q, log_q)):
        return NAN
    if coefficient == 0:
        return ZERO
    focal = ZERO if gamma == 0 or complement == 0 else gamma * complement ** (gamma - 1) * xlogx(q, log_q)
    return coefficient * (focal - power(complement, gamma))


def sigmoid_parts(x: Any) -> tuple[Any, Any, Any, Any]:
    """(p, 1 - p, log p, log(1 - p)) of a logit, each without cancellation."""
    log_p, log_not_p = log_sigmoid(x), log_sigmoid(-x)
    return exp(log_p), exp(log_not_p), log_p, log_not_p


def probability_parts(p: Any) -> tuple[Any, Any, Any, Any]:
    return p, ONE - p, log(p), log(ONE - p)


# -- float64 helpers of the variants ----------------------------------------------------
def clipped(p: np.ndarray, clip: float | None, dtype: DType) -> np.ndarray:
    """Clip as the framework does, with bounds rounded to its dtype."""
    if clip is None:
        return p
    return np.clip(p, float(round_to(clip, dtype)), float(round_to(1 - clip, dtype)))


def times(coefficient: np.ndarray, value: np.ndarray) -> np.ndarray:
    """``coefficient * value`` with 0 where the coefficient is 0 (the oracle's 0 log 0 = 0)."""
    product = coefficient * value
    return np.where(coefficient == 0, 0.0, product)


def spatial_sum(losses: np.ndarray) -> np.ndarray:
    """MONAI's ``sum``: the mean over axes 2 and on, then the sum; ``torch.mean(dim=[])`` on an
    input without spatial axes averages every axis."""
    if losses.ndim <= 2:
        return np.asarray(losses.mean())
    return np.asarray(losses.mean(axis=tuple(range(2, losses.ndim))).sum())


def reduce_float(case: Case, losses: np.ndarray, denominator: float | None = None) -> np.ndarray:
    if case.reduction == "none":
        return losses
    if case.reduction == "sum":
        return np.asarray(losses.sum())
    count = losses.size if denominator is None else denominator
    return np.asarray(losses.sum() / count) if count else np.asarray(np.nan)


# -- the probes' aspects, as rules over structured readings ------------------------------
def _knob(name: str, test: Any, label: str) -> Rule:
    return Rule(lambda knobs, input_kind: name in knobs and test(knobs[name]), label)


def reads_kind(knobs: Mapping[str, Any], input_kind: str) -> str | None:
    return {"logits": "logits", "probs": "probabilities", "renormalised": "probabilities"}.get(
        knobs.get("reads") or "")


FOCAL_INPUT = Aspect("focal_input", "what it reads its input as (a probability probe)", "probabilities",
                     (_knob("reads", lambda v: v == "logits", "logits"),),
                     kind_of=reads_kind, kinds=("logits", "probabilities"))
FOCAL_SOFT_LABELS = Aspect(
    "focal_soft_labels", "a soft label t = 0.9", "each term weighted: t a(1-p)^g(-log p) + (1-t)(1-a)p^g(-log(1-p))",
    (_knob("soft", lambda v: v == "p_t", "a_t (1-p_t)^g BCE, p_t = tp + (1-t)(1-p)"),
     _knob("soft", lambda v: v == "signed_logit", "a_t sigmoid(-x(2t-1))^g BCE")))
FOCAL_ALPHA = Aspect("focal_alpha", "an alpha passed with no other flag", "applied",
                     (_knob("alpha_off", bool, "ignored"),))
FOCAL_ALPHA_DEFAULT = Aspect("focal_alpha_default", "alpha when the call gives none", "none",
                             (_knob("alpha_default", lambda v: v == 0.25, "0.25"),))
# An API that reads the classes as independent sigmoids (MONAI's default) answers the other
# categorical questions only through that reading: a probe it reads so says nothing of them.
_SIGMOID_ONLY = Rule(lambda knobs, input_kind: set(knobs) == {"sigmoid"}, "n/a: sigmoid per class")
FOCAL_CLASS_ALPHA_DEFAULT = Aspect(
    "focal_class_alpha_default", "class alpha when the call gives none", "none",
    (_knob("alpha_default", lambda v: v == 0.25, "0.25 on every class"), _SIGMOID_ONLY))
FOCAL_CLASS_MEAN = Aspect("focal_class_mean", "what `mean` divides by for (N, C) logits", "N (positions)",
                          (_knob("denominator", lambda v: v == "elements", "N x C (one slice per class)"),
                           _SIGMOID_ONLY))
FOCAL_ACTIVATION = Aspect("focal_activation", "what turns class logits into probabilities", "softmax",
                          (_knob("sigmoid", bool, "sigmoid per class"),))
