"""Rules that tie a case's fields together (shapes, which options fit which loss).

Each broken rule raises :class:`CaseRuleError` naming the field to blame, so
the loader can point at that field's line in the YAML file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from conformance.case import Case

ALLOWED_INPUTS = {
    "cross_entropy": {"logits", "probs", "log_probs"},
    "binary_cross_entropy": {"logits", "probs"},
    "kl_divergence": {"logits", "probs", "log_probs"},
}
ALLOWED_TARGETS = {
    "cross_entropy": {"index", "probs"},
    "binary_cross_entropy": {"probs"},
    "kl_divergence": {"probs", "log_probs"},
}
OPTION_LOSSES = {
    "weight": {"cross_entropy"},
    "pos_weight": {"binary_cross_entropy"},
    "ignore_index": {"cross_entropy"},
    "label_smoothing": {"cross_entropy"},
}


class CaseRuleError(ValueError):
    """A case whose fields do not fit together; ``field`` is the one to fix."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def is_set(value: object) -> bool:
    """Whether an option was given (label smoothing 0 counts as not given)."""
    return value is not None and not (isinstance(value, float) and value == 0.0)


def check_case(case: Case) -> None:
    _check_kinds(case)
    _check_options(case)
    _check_shapes(case)
    _check_expected(case)


def _check_kinds(case: Case) -> None:
    if case.input.kind not in ALLOWED_INPUTS[case.loss]:
        raise CaseRuleError("input", f"{case.loss} takes input "
                            f"{' | '.join(sorted(ALLOWED_INPUTS[case.loss]))}, not {case.input.kind}")
    if case.target.kind not in ALLOWED_TARGETS[case.loss]:
        raise CaseRuleError("target", f"{case.loss} takes target "
                            f"{' | '.join(sorted(ALLOWED_TARGETS[case.loss]))}, not {case.target.kind}")


def _check_options(case: Case) -> None:
    for option, losses in OPTION_LOSSES.items():
        if is_set(getattr(case, option)) and case.loss not in losses:
            raise CaseRuleError(option, f"`{option}` applies to {' and '.join(sorted(losses))} only")
    if case.ignore_index is not None and case.target.kind != "index":
        raise CaseRuleError("ignore_index", "`ignore_index` needs class-index targets (target: {index: ...})")
    if case.reduction == "batchmean" and case.loss != "kl_divergence":
        raise CaseRuleError("reduction", "`batchmean` is a kl_divergence reduction; use mean, sum or none")


def _check_shapes(case: Case) -> None:
    ndim = case.input.values.ndim
    if ndim == 0:
        raise CaseRuleError("input", "input must be an array with at least one axis, not a scalar")
    if not -ndim <= case.class_axis < ndim:
        raise CaseRuleError("class_axis", f"class_axis {case.class_axis} is out of range "
                            f"for a {ndim}-d input of shape {case.input.values.shape}")
    if case.input.values.size == 0:
        raise CaseRuleError("input", f"input of shape {case.input.values.shape} holds no element: "
                            "every axis needs at least one (a loss over no classes is undefined)")
    target = case.target.values
    want = case.output_shape if case.target.kind == "index" else case.input.values.shape
    if target.shape != want:
        raise CaseRuleError("target", f"target shape {target.shape} does not fit input shape "
                            f"{case.input.values.shape} (expected {want} with class_axis {case.class_axis})")
    if case.target.kind == "index":
        _check_index_range(case, target)
    if case.weight is not None and case.weight.shape != (case.num_classes,):
        raise CaseRuleError("weight", f"weight needs one entry per class ({case.num_classes}), "
                            f"got shape {case.weight.shape}")
    if case.pos_weight is not None:
        try:
            fits = np.broadcast_shapes(case.pos_weight.shape, case.input.values.shape) == case.input.values.shape
        except ValueError:
            fits = False
        if not fits:  # it weights the input's elements: it may not enlarge the loss's shape
            raise CaseRuleError("pos_weight", f"pos_weight shape {case.pos_weight.shape} does not "
                                f"broadcast to the input's shape {case.input.values.shape}")


def _check_index_range(case: Case, target: np.ndarray) -> None:
    valid = (target >= 0) & (target < case.num_classes)
    if case.ignore_index is not None:
        valid |= target == case.ignore_index
    if not valid.all():
        bad = int(target[~valid].flat[0])
        raise CaseRuleError("target", f"class index {bad} is outside [0, {case.num_classes}) "
                            "and is not the ignore_index")


def _check_expected(case: Case) -> None:
    if case.expected is None:
        return  # only drawn inputs may leave it out: checked once the draws are known
    want = case.output_shape if case.reduction == "none" else ()
    if case.expected.shape != want:
        raise CaseRuleError("expected", f"expected has shape {case.expected.shape}; reduction "
                            f"{case.reduction!r} gives shape {want}")
    for binding in case.expect:
        for entry in case.expectations(binding):
            if entry.value is not None and entry.value.shape != want:
                raise CaseRuleError("expect", f"expect[{binding}].value has shape "
                                    f"{entry.value.shape}, the loss has shape {want}")
            if entry.grad is not None and entry.grad.shape != case.input.values.shape:
                raise CaseRuleError("expect", f"expect[{binding}].grad has shape "
                                    f"{entry.grad.shape}, the input has shape "
                                    f"{case.input.values.shape}")
