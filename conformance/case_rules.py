"""Rules that tie a case's fields together (shapes, which options fit which loss).

Each broken rule raises :class:`CaseRuleError` naming the field to blame, so
the loader can point at that field's line in the YAML file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conformance.vocabulary import Reduction

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.families import Family

class CaseRuleError(ValueError):
    """A case whose fields do not fit together; ``field`` is the one to fix."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def check_case(case: Case) -> None:
    """The rules of every case, then those of its family (``Family.check``)."""
    family = case.family
    _check_kinds(case, family)
    if case.reduction not in family.reductions:
        raise CaseRuleError("reduction", f"{case.loss} has no reduction {case.reduction!r}; use "
                            f"{', '.join(r for r in Reduction if r in family.reductions)}")
    _check_shapes(case, family)
    family.check(case)
    check_expected(case)


def _check_kinds(case: Case, family: Family) -> None:
    if case.input.kind not in family.inputs:
        raise CaseRuleError("input", f"{case.loss} takes input "
                            f"{' | '.join(sorted(family.inputs))}, not {case.input.kind}")
    if case.target.kind not in family.targets:
        raise CaseRuleError("target", f"{case.loss} takes target "
                            f"{' | '.join(sorted(family.targets))}, not {case.target.kind}")


def _check_shapes(case: Case, family: Family) -> None:
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
    want = family.target_shape(case)
    if target.shape != want:
        raise CaseRuleError("target", f"target shape {target.shape} does not fit input shape "
                            f"{case.input.values.shape} (expected {want} with class_axis {case.class_axis})")


def check_expected(case: Case) -> None:
    """``expected`` and every ``expect`` value and gradient have the loss's and the input's shapes."""
    if case.expected is None:
        return  # only drawn inputs may leave it out: checked once the draws are known
    want = case.output_shape if case.reduction == "none" else ()
    if case.expected.shape != want:
        raise CaseRuleError("expected", f"expected has shape {case.expected.shape}; reduction "
                            f"{case.reduction!r} gives shape {want}")
    for binding in case.expect:
        for entry in case.expectations(binding):
            if entry.grad_reading is not None and entry.grad_reading not in case.family.gradient_readings:
                known = ", ".join(case.family.gradient_readings) or "none"
                raise CaseRuleError("expect", f"expect[{binding}].grad_reading {entry.grad_reading!r} is not a "
                                    f"gradient reading of {case.loss} (its readings: {known})")
            if entry.value is not None and entry.value.shape != want:
                raise CaseRuleError("expect", f"expect[{binding}].value has shape "
                                    f"{entry.value.shape}, the loss has shape {want}")
            if entry.grad is not None and entry.grad.shape != case.input.values.shape:
                raise CaseRuleError("expect", f"expect[{binding}].grad has shape "
                                    f"{entry.grad.shape}, the input has shape "
                                    f"{case.input.values.shape}")
