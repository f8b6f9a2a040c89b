"""Measured semantic profiles agree with what every binding declares."""

from __future__ import annotations

import pytest

from conformance import families
from conformance import frameworks as registry
from conformance.profile import PROFILE_DTYPES, aspects, label, profile, semantic_table
from conformance.report import render_html
from tests.conftest import REPO, installed, needs, run_once_per_session

# Every framework installed here (all of them under `make test`, one under `tox -e torch`)
# is probed, and each of its bindings must agree with what it declares.
PROBED = [name for name in registry.names() if installed(name)]


@pytest.fixture(scope="module")
def probe_rows(tmp_path_factory):
    return run_once_per_session(tmp_path_factory, "probes", cases=[REPO / "cases" / "probes"], frameworks=PROBED,
                                dtypes=PROFILE_DTYPES)


@pytest.fixture(scope="module")
def probe_profile(probe_rows):
    return profile(probe_rows)


def test_report_shows_the_semantic_table_and_porting_guide(probe_rows):
    page = render_html(probe_rows)
    assert "<h2>Semantic table (measured by the probes)</h2>" in page
    assert "Every measured cell agrees with the binding&#x27;s declaration." in page \
        or "Every measured cell agrees with the binding's declaration." in page


def test_every_binding_is_profiled(probe_profile):
    # The NumPy reference computes what a case declares: it has no default reading to probe.
    profiled = {b for b, binding in registry.all_bindings().items()
                if binding.framework.name in PROBED and not b.startswith("numpy.")}
    assert set(probe_profile["binding"]) == profiled
    # Every binding of a family whose probes ask what it reads its input as answers it.
    asks = {f.name for f in families.families() if any(a.name == "input" for a in f.aspects)}
    inputs = probe_profile[probe_profile["aspect"] == "input"]
    assert set(inputs["binding"]) == {b for b in profiled if registry.all_bindings()[b].loss in asks}


def test_measured_profile_agrees_with_every_declaration(probe_profile):
    mismatches = probe_profile[~probe_profile["agrees"]]
    assert mismatches.empty, "\n" + mismatches[["binding", "aspect", "measured", "declared",
                                                "evidence"]].to_string()


def test_declarations_cover_only_known_aspects():
    names = {a.name for a in aspects()}
    for binding in registry.all_bindings().values():
        assert set(binding.profile) <= names, binding.id


@needs("torch", "keras")
def test_the_semantic_table_reads_as_documented(probe_profile):
    table = semantic_table(probe_profile)
    assert table.loc["torch.cross_entropy", "input"] == "logits"
    assert table.loc["keras.CategoricalCrossentropy", "zero_probability"] == "clipped at 1e-7"
    assert table.loc["torch.binary_cross_entropy", "zero_probability"] == "log clamped at -100"
    assert table.loc["torch.cross_entropy", "class_axis"] == "1"


def test_label_drops_readings_that_contradict_the_measured_input():
    neg_inf = next(a for a in aspects() if a.name == "neg_inf")
    both = [{"reads": "probs"}, {"nan_zero_log": True}]  # two readings reproduce the probe's value
    assert label(neg_inf, "difference", both, input_kind="logits", input_reading="logits") == "NaN (0 * -inf)"
    assert label(neg_inf, "difference", both, input_kind="logits",
                 input_reading="probabilities") == "n/a: reads probabilities"
    assert label(neg_inf, "pass", [], input_kind="logits", input_reading="logits") == "finite (0 log 0 = 0)"


def test_label_of_a_probe_that_raised_or_found_nothing():
    class_axis = next(a for a in aspects() if a.name == "class_axis")
    assert label(class_axis, "difference", [], raised="RuntimeError") == "last (raises on (N, C, L))"
    neg_inf = next(a for a in aspects() if a.name == "neg_inf")
    assert label(neg_inf, "difference", [], raised="ValueError") == "raises ValueError"
    assert label(neg_inf, "fail", []) == "unexplained"
