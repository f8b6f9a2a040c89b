"""The CTC family: its oracle against brute-force path enumeration, its forward-backward
gradient against numerical differentiation, its readings, and the ragged label format."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from conformance.case import Case
from conformance.exact import MP
from conformance.families import ctc
from conformance.families.base import Family
from conformance.loader import load_file
from tests.conftest import REPO


def make(**fields) -> Case:
    fields.setdefault("id", "t")
    fields.setdefault("loss", "ctc")
    if fields.get("reduction", "mean") == "none":
        batch = np.asarray(fields["input"][next(iter(fields["input"]))]).shape[1 if fields.get("time_major") else 0]
        fields.setdefault("expected", [0.0] * batch)
    fields.setdefault("expected", 0.0)
    return Case.model_validate(fields)


def collapse(path: tuple[int, ...], blank: int) -> list[int]:
    out, previous = [], None
    for symbol in path:
        if symbol != previous and symbol != blank:
            out.append(symbol)
        previous = symbol
    return out


def brute_force(logp: np.ndarray, label: list[int], blank: int = 0) -> float:
    """-log of the sum over every path of T frames that collapses to ``label``, in mpmath."""
    frames, classes = logp.shape
    total = MP.mpf(0)
    for path in itertools.product(range(classes), repeat=frames):
        if collapse(path, blank) == label:
            total += MP.exp(MP.fsum(MP.mpf(float(logp[t, path[t]])) for t in range(frames)))
    return float(-MP.log(total)) if total > 0 else math.inf


def log_softmax(x: np.ndarray) -> np.ndarray:
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


RNG = np.random.default_rng(15)
SMALL = [(frames, classes, label, blank)
         for frames in (1, 2, 3, 4) for classes in (2, 3)
         for label in ([], [1], [1, 1], [1, 2], [2, 1, 2], [1, 1, 1])
         for blank in (0, classes - 1)
         if all(v < classes and v != blank for v in label)]


@pytest.mark.parametrize("frames,classes,label,blank", SMALL)
def test_oracle_is_the_sum_over_every_path(frames, classes, label, blank):
    logits = RNG.normal(size=(1, frames, classes)).round(3)
    case = make(input={"logits": logits.tolist()}, target={"labels": [label]}, blank=blank, reduction="none")
    value = float(ctc.FAMILY.value(case, "float64")[0])
    assert value == pytest.approx(brute_force(log_softmax(logits[0]), label, blank), rel=1e-13, abs=0)


def test_hand_cases_hold_the_closed_forms_in_their_titles():
    cases = {c.id: c for c in load_file(REPO / "cases" / "ctc" / "hand.yaml")[0]}
    closed = {"ctc-t1-one-label": -math.log(0.75), "ctc-t2-one-label": -math.log(0.75),
              "ctc-t3-repeat-needs-blank": 3 * math.log(2), "ctc-t3-two-labels": -math.log(5 / 27),
              "ctc-t2-label-fills-input": -math.log(0.6) - math.log(0.7),
              "ctc-t4-repeat-with-room": -math.log(5 / 16), "ctc-t1-empty-label": math.log(4),
              "ctc-empty-label": math.log(4) + math.log(2) + math.log(4 / 3),
              "ctc-t5-triple-repeat-exact-fit": 5 * math.log(2)}
    for case_id, value in closed.items():
        assert float(cases[case_id].expected) == pytest.approx(value, rel=1e-14), case_id
        assert float(ctc.FAMILY.value(cases[case_id], "float64")) == pytest.approx(value, rel=1e-14), case_id


def test_infeasible_is_inf_and_zero_infinity_zero():
    # [1, 1] needs 3 frames (a blank between the repeats); 2 are given.
    base = dict(input={"logits": [[[0.1, 0.5, -0.3], [0.2, -1.0, 0.4]]]}, target={"labels": [[1, 1]]},
                reduction="none")
    assert float(ctc.FAMILY.value(make(**base), "float64")[0]) == math.inf
    assert float(ctc.FAMILY.value(make(**base, zero_infinity=True), "float64")[0]) == 0.0
    grad, _ = ctc.FAMILY.gradient(make(**base), "float64")
    assert all(MP.isnan(g) for g in grad.flat)
    grad, _ = ctc.FAMILY.gradient(make(**base, zero_infinity=True), "float64")
    assert all(g == 0 for g in grad.flat)


GRADIENT_CASES = {
    "logits-two-labels": dict(input={"logits": [[[0.3, -0.2, 0.5], [0.1, 0.4, -0.6], [-0.3, 0.2, 0.8]]]},
                              target={"labels": [[1, 2]]}, reduction="sum"),
    "log-probs-repeat": dict(input={"log_probs": [[[-1.2, -0.4, -2.0], [-0.9, -0.8, -1.7], [-0.5, -1.4, -1.6],
                                                   [-1.1, -0.7, -1.5]]]},
                             target={"labels": [[1, 1]]}, reduction="sum"),
    "batch-lengths-mean": dict(input={"logits": [[[0.3, -0.2, 0.5], [0.1, 0.4, -0.6], [-0.3, 0.2, 0.8]],
                                                 [[0.6, 0.0, -0.1], [0.2, 0.9, 0.3], [0.4, -0.5, 0.1]]]},
                               target={"labels": [[2], [1, 2]]}, input_lengths=[2, 3]),
    "length-normalised": dict(input={"logits": [[[0.3, -0.2, 0.5], [0.1, 0.4, -0.6], [-0.3, 0.2, 0.8]],
                                                [[0.6, 0.0, -0.1], [0.2, 0.9, 0.3], [0.4, -0.5, 0.1]]]},
                              target={"labels": [[], [1, 2]]}, reduction="length_mean"),
    "time-major-blank-2": dict(input={"logits": [[[0.3, -0.2, 0.5]], [[0.1, 0.4, -0.6]], [[-0.3, 0.2, 0.8]]]},
                               target={"labels": [[0, 1]]}, blank=2, time_major=True, reduction="none"),
}


@pytest.mark.parametrize("name", sorted(GRADIENT_CASES))
def test_forward_backward_gradient_matches_numerical_differentiation(name):
    case = make(**GRADIENT_CASES[name])
    analytic, scale = ctc.FAMILY.gradient(case, "float64")
    numeric, numeric_scale = Family.gradient(ctc.FAMILY, case, "float64")  # central differences at 50 digits
    for a, n in zip(analytic.flat, numeric.flat):
        assert abs(a - n) < MP.mpf("1e-30"), (name, a, n)
    # The error scale is the largest sequence weight times (1 + its loss): the conditioning.
    losses = ctc.FAMILY.value(case.model_copy(update={"reduction": "none"}), "float64")
    weights = ctc.FAMILY._weights(case) if case.reduction in ("mean", "length_mean") else [1] * len(losses)
    assert scale == max(w * (1 + loss) for w, loss in zip(weights, losses)) >= numeric_scale


def test_softmax_assumed_reading_is_the_logits_gradient():
    # torch's backward returns exp(log p) - gamma for log-probabilities that came from a log_softmax.
    logits = GRADIENT_CASES["logits-two-labels"]["input"]["logits"]
    as_logits = make(input={"logits": logits}, target={"labels": [[1, 2]]}, reduction="sum")
    as_log_probs = make(input={"log_probs": log_softmax(np.array(logits)).tolist()}, target={"labels": [[1, 2]]},
                        reduction="sum")
    reading, _ = ctc.FAMILY.gradient(as_log_probs, "float64", "ctc_softmax_assumed")
    logit_grad, _ = ctc.FAMILY.gradient(as_logits, "float64")
    assert np.allclose(np.array(reading, dtype=float), np.array(logit_grad, dtype=float), atol=1e-14)


def test_readings_reproduce_the_measured_log_zero_conventions():
    case = make(input={"logits": [[[0.1, 0.5, -0.3], [0.2, -1.0, 0.4]]]}, target={"labels": [[1, 1]]},
                reduction="none")
    assert ctc.FAMILY.variant(case, "float64", ctc.CtcKnobs())[0] == math.inf
    # TensorFlow's dense path: 707.7938 (float32) on this input; optax: 100000.1401.
    tf = ctc.FAMILY.variant(case, "float64", ctc.CtcKnobs(masked_state_log=ctc.TF_LOG_ZERO))[0]
    optax = ctc.FAMILY.variant(case, "float64", ctc.CtcKnobs(forbidden_step_log=ctc.OPTAX_LOG_ZERO))[0]
    assert tf == pytest.approx(707.7938232421875, rel=1e-7)
    assert optax == pytest.approx(100000.14009901721, rel=1e-12)


def test_length_mean_divides_by_the_clamped_label_length():
    base = dict(input={"logits": [[[0.3, -0.2, 0.5], [0.1, 0.4, -0.6]], [[0.6, 0.0, -0.1], [0.2, 0.9, 0.3]]]},
                target={"labels": [[], [1, 2]]})
    per = ctc.FAMILY.value(make(**base, reduction="none"), "float64")
    value = ctc.FAMILY.value(make(**base, reduction="length_mean"), "float64")
    assert float(value) == pytest.approx(float((per[0] / 1 + per[1] / 2) / 2), rel=1e-15)


def test_length_mean_is_a_reduction_of_sequence_losses_only(tmp_path):
    import yaml

    case = {"id": "bad", "loss": "cross_entropy", "input": {"logits": [[0.1, 0.5]]}, "target": {"index": [1]},
            "reduction": "length_mean", "expected": 0.0}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"cases": [case]}, default_flow_style=None))
    cases, errors = load_file(path)
    assert not cases and errors[0].field == "reduction"
    assert "use mean, sum, none" in errors[0].message, errors[0]


@pytest.mark.parametrize("fields,where,message", [
    (dict(target={"labels": [[1, 0]]}), "target", "holds the blank"),
    (dict(target={"labels": [[3]]}), "target", "outside [0, 3)"),
    (dict(target={"labels": [[1], [2]]}), "target", "2 label sequences for a batch of 1"),
    (dict(target={"labels": [[1]]}, input_lengths=[5]), "input_lengths", "input lengths are in [1, 2]"),
    (dict(target={"labels": [[1]]}, input_lengths=[1, 2]), "input_lengths", "one length per sequence"),
    (dict(target={"labels": [[1]]}, blank=3), "blank", "not a class"),
    (dict(target={"labels": [[-1]]}), "target.labels", "labels are class indices >= 0"),
    (dict(target={"labels": [1, 2]}), "target.labels", "not a list of labels"),
    (dict(target={"labels": [[1]]}, left_padded=True), "left_padded", "as_is"),
])
def test_malformed_sequence_cases_name_the_field(fields, where, message, tmp_path):
    import yaml

    case = {"id": "bad", "loss": "ctc", "input": {"logits": [[[0.1, 0.5, -0.3], [0.2, -1.0, 0.4]]]},
            "expected": 0.0, **fields}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"cases": [case]}, default_flow_style=None))
    cases, errors = load_file(path)
    assert not cases and len(errors) == 1
    assert errors[0].field == where and message in errors[0].message, errors[0]
    assert errors[0].line > 1  # points at the field, not the case


def test_a_label_longer_than_the_input_is_a_case_not_an_error():
    case = make(input={"logits": [[[0.1, 0.5, -0.3]]]}, target={"labels": [[1, 2, 1]]}, reduction="none",
                expected=["inf"])
    assert float(ctc.FAMILY.value(case, "float64")[0]) == math.inf


def test_ragged_labels_are_padded_and_come_back():
    from conformance.sequences import lengths, unpadded

    case = make(input={"logits": np.zeros((3, 4, 3)).tolist()}, target={"labels": [[1, 2], [], [2]]},
                reduction="none", expected=[0, 0, 0])
    assert case.target.values.tolist() == [[1, 2], [-1, -1], [2, -1]]
    assert unpadded(case.target.values) == [[1, 2], [], [2]]
    assert lengths(case.target.values).tolist() == [2, 0, 1]


# -- bounded time and memory: case files are untrusted ---------------------------------
def test_a_lattice_past_the_cap_is_a_located_error_before_any_work(tmp_path):
    # 30 KB of YAML: 20,000 random frames and a label of 9,999 ones would be 4e8 lattice cells.
    path = tmp_path / "huge-lattice.yaml"
    path.write_text("cases:\n  - id: huge\n    loss: ctc\n"
                    "    input: {logits: {random: {shape: [1, 20000, 2], seed: 1}}}\n"
                    f"    target: {{labels: [[{', '.join(['1'] * 9999)}]]}}\n"
                    "    reduction: sum\n    expected: 0.0\n")
    cases, errors = load_file(path)
    assert not cases and len(errors) == 1, errors
    (error,) = errors
    assert error.field == "target" and f"at most {ctc.MAX_ALIGNMENT_CELLS}" in error.message, error
    assert str(error).startswith(f"{path}:5:13: target: the alignment lattice"), str(error)
    assert "\n" not in str(error)


def test_a_lattice_at_the_cap_loads():
    # T (2L + 1) = 20 * 5000 = 100,000 cells exactly: allowed (loading only; the oracle is not run).
    frames, length = 20, (ctc.MAX_ALIGNMENT_CELLS // 20 - 1) // 2
    case = make(input={"logits": {"random": {"shape": [1, frames, 2], "seed": 1}}},
                target={"labels": [[1] * length]}, reduction="sum")
    ctc.FAMILY.check(case)
    with pytest.raises(ValueError, match="alignment lattice"):  # one frame more: past the cap
        make(input={"logits": {"random": {"shape": [1, frames + 1, 2], "seed": 1}}},
             target={"labels": [[1] * length]}, reduction="sum")


def test_a_time_limit_interrupts_the_oracle_value_and_gradient():
    import time

    from conformance.deadline import TimeLimitExceeded, time_limit

    logp = log_softmax(RNG.normal(size=(400, 3)))
    ext = ctc.extended([1, 2] * 75, 0)  # T = 400, 150 labels: seconds of work without a limit
    for work in (lambda: ctc._log_likelihood(logp, ext), lambda: ctc._occupation(logp, ext),
                 lambda: ctc._float_log_likelihood(logp, ext, ctc.CtcKnobs())):
        start = time.monotonic()
        with pytest.raises(TimeLimitExceeded), time_limit(0.05):
            work()
        assert time.monotonic() - start < 1.0


def test_ragged_labels_refuse_a_padded_blow_up_before_allocating():
    from conformance.sequences import MAX_PADDED_LABELS, label_sequences

    # 30,000 empty rows and one row of 30,000 labels: 9e8 padded entries from ~180 KB of YAML.
    rows = [[] for _ in range(30_000)] + [[1] * 30_000]
    with pytest.raises(ValueError, match="padded to the longest"):
        label_sequences(rows)
    assert label_sequences([[1] * 1000 for _ in range(MAX_PADDED_LABELS // 1000)]).shape == (1000, 1000)


def test_a_padded_blow_up_in_a_file_is_a_located_error(tmp_path):
    path = tmp_path / "ragged-bomb.yaml"
    rows = ", ".join(["[]"] * 2000 + ["[" + ", ".join(["1"] * 1000) + "]"])
    path.write_text("cases:\n  - id: ragged\n    loss: ctc\n"
                    "    input: {logits: {random: {shape: [2001, 2, 2], seed: 1}}}\n"
                    f"    target: {{labels: [{rows}]}}\n    reduction: sum\n    expected: 0.0\n")
    cases, errors = load_file(path)
    assert not cases and len(errors) == 1, errors
    assert errors[0].field == "target.labels" and "padded to the longest" in errors[0].message, errors[0]
    assert errors[0].line == 5
