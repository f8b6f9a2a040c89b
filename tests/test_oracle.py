"""The oracle against values derived by hand (closed forms), not against itself."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.case import Case
from conformance.oracle import evaluate


def make(**fields) -> Case:
    fields.setdefault("expected", 0.0)
    return Case.model_validate({"id": "t", **fields})


def value(case: Case, dtype="float64"):
    return evaluate(case, dtype).as_float()


def test_logits_of_seed_post_give_log_e_plus_3_minus_1():
    case = make(loss="cross_entropy", input={"logits": [1, 0, 0, 0]}, target={"probs": [1, 0, 0, 0]})
    assert value(case) == pytest.approx(math.log(math.e + 3) - 1, rel=1e-15)


def test_keras_documented_probabilities():
    case = make(loss="cross_entropy", input={"probs": [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]},
                target={"index": [1, 2]}, reduction="none", expected=[0, 0])
    assert value(case) == pytest.approx([-math.log(0.95), -math.log(0.1)], rel=1e-15)


def test_weighted_mean_divides_by_target_weights():
    # rows [1, 2, 3] with targets 2 and 0, weights [1, 1, 3]: (3 l2 + 1 l0) / (3 + 1)
    lse = math.log(math.exp(1) + math.exp(2) + math.exp(3))
    l2, l0 = lse - 3, lse - 1
    case = make(loss="cross_entropy", input={"logits": [[1, 2, 3], [1, 2, 3]]}, target={"index": [2, 0]},
                weight=[1, 1, 3])
    assert value(case) == pytest.approx((3 * l2 + l0) / 4, rel=1e-15)
    soft = make(loss="cross_entropy", input={"logits": [[1, 2, 3], [1, 2, 3]]},
                target={"probs": [[0, 0, 1], [1, 0, 0]]}, weight=[1, 1, 3])
    assert value(soft) == pytest.approx((3 * l2 + l0) / 2, rel=1e-15)


def test_label_smoothing_spreads_eps_over_classes():
    lse = math.log(math.exp(1) + math.exp(2) + math.exp(3))
    losses = [lse - 1, lse - 2, lse - 3]
    case = make(loss="cross_entropy", input={"logits": [[1, 2, 3]]}, target={"index": [2]}, label_smoothing=0.1)
    assert value(case) == pytest.approx(0.9 * losses[2] + 0.1 / 3 * sum(losses), rel=1e-14)


def test_ignored_targets_leave_the_count_and_all_ignored_is_nan():
    lse = math.log(math.exp(1) + math.exp(2) + math.exp(3))
    case = make(loss="cross_entropy", input={"logits": [[1, 2, 3], [1, 2, 3]]}, target={"index": [2, -100]},
                ignore_index=-100)
    assert value(case) == pytest.approx(lse - 3, rel=1e-15)
    nothing = make(loss="cross_entropy", input={"logits": [[1, 2, 3]]}, target={"index": [-100]},
                   ignore_index=-100, expected=float("nan"))
    assert math.isnan(value(nothing))


def test_class_axis_1_equals_classes_last():
    x = np.arange(12.0).reshape(1, 3, 4) / 5
    first = make(loss="cross_entropy", input={"logits": x.tolist()}, target={"index": [[0, 1, 2, 0]]},
                 class_axis=1, reduction="none", expected=[[0] * 4])
    last = make(loss="cross_entropy", input={"logits": np.moveaxis(x, 1, -1).tolist()},
                target={"index": [[0, 1, 2, 0]]}, reduction="none", expected=[[0] * 4])
    assert value(first).tolist() == value(last).tolist()


def test_zero_times_log_zero_is_zero_and_neg_inf_logits():
    soft = make(loss="cross_entropy", input={"logits": [["-inf", 0, 0]]}, target={"probs": [[0, 0.5, 0.5]]})
    assert value(soft) == pytest.approx(math.log(2), rel=1e-15)
    on_target = make(loss="cross_entropy", input={"logits": [["-inf", 0, 0]]}, target={"index": [0]})
    assert value(on_target) == math.inf


def test_undefined_inputs_give_nan():
    plus_inf = make(loss="cross_entropy", input={"logits": [["inf", 0.0]]}, target={"index": [0]})
    negative = make(loss="cross_entropy", input={"probs": [[-0.5, 1.5]]}, target={"index": [1]})
    nan_in = make(loss="binary_cross_entropy", input={"probs": ["nan"]}, target={"probs": [1]})
    assert math.isnan(value(plus_inf))
    assert math.isnan(value(negative))  # not a distribution: log of -0.5 is undefined
    assert math.isnan(value(nan_in))


def test_huge_logits_lose_nothing():
    case = make(loss="cross_entropy", input={"logits": [[1000.0, 0.0, -1000.0]]}, target={"index": [2]})
    assert value(case) == 2000.0
    bce = make(loss="binary_cross_entropy", input={"logits": [-1000.0]}, target={"probs": [1.0]})
    assert value(bce) == 1000.0


def test_binary_cross_entropy_with_pos_weight():
    case = make(loss="binary_cross_entropy", input={"logits": [0.0]}, target={"probs": [1.0]}, pos_weight=[3.0])
    assert value(case) == pytest.approx(3 * math.log(2), rel=1e-15)
    doc = make(loss="binary_cross_entropy", input={"logits": [1.5]}, target={"probs": [1.0]})
    assert value(doc) == pytest.approx(math.log1p(math.exp(-1.5)), rel=1e-15)


def test_kl_reductions():
    pointwise = [0.5 * math.log(0.5 / 0.9), 0.5 * math.log(0.5 / 0.1)]
    base = dict(loss="kl_divergence", input={"probs": [[0.9, 0.1]]}, target={"probs": [[0.5, 0.5]]})
    assert value(make(**base, reduction="batchmean")) == pytest.approx(sum(pointwise), rel=1e-15)
    assert value(make(**base, reduction="mean")) == pytest.approx(sum(pointwise) / 2, rel=1e-15)
    assert value(make(**base, reduction="none", expected=[[0, 0]])) [0] == pytest.approx(pointwise, rel=1e-15)
    log_target = make(loss="kl_divergence", input={"probs": [[0.9, 0.1]]}, reduction="batchmean",
                      target={"log_probs": [[math.log(0.5), math.log(0.5)]]})
    assert value(log_target) == pytest.approx(sum(pointwise), rel=1e-15)


def test_inputs_are_rounded_to_the_dtype_first():
    # 0.1 in float32 is 0.100000001490116...; -log of it differs from -log 0.1 in the 8th digit.
    case = make(loss="binary_cross_entropy", input={"probs": [0.1]}, target={"probs": [1.0]})
    assert value(case, "float32") == pytest.approx(-math.log(float(np.float32(0.1))), rel=1e-15)
    assert value(case, "float64") == pytest.approx(-math.log(0.1), rel=1e-15)
    assert value(case, "float32") != value(case, "float64")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-30, 30), min_size=2, max_size=6), st.data())
def test_index_target_equals_one_hot_target(logits, data):
    label = data.draw(st.integers(0, len(logits) - 1))
    one_hot = [1.0 if i == label else 0.0 for i in range(len(logits))]
    by_index = make(loss="cross_entropy", input={"logits": [logits]}, target={"index": [label]})
    by_probs = make(loss="cross_entropy", input={"logits": [logits]}, target={"probs": [one_hot]})
    assert value(by_index) == value(by_probs)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.01, 1.0), min_size=2, max_size=5),
       st.lists(st.floats(0.01, 1.0), min_size=2, max_size=5))
def test_kl_is_cross_entropy_minus_entropy(p_raw, q_raw):
    size = min(len(p_raw), len(q_raw))
    p = np.array(p_raw[:size]) / sum(p_raw[:size])
    q = np.array(q_raw[:size]) / sum(q_raw[:size])
    kl = make(loss="kl_divergence", input={"probs": [q.tolist()]}, target={"probs": [p.tolist()]},
              reduction="sum")
    ce = make(loss="cross_entropy", input={"probs": [q.tolist()]}, target={"probs": [p.tolist()]},
              reduction="sum")
    entropy = -float(np.sum(p * np.log(p)))
    assert value(kl) == pytest.approx(value(ce) - entropy, rel=1e-9, abs=1e-12)
    assert value(kl) >= -1e-15
