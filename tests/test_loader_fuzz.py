"""Random YAML near the case schema: every document loads or gives located errors.

Thousands of documents - random structure, field names drawn from the schema
and beside it, random values, then random edits of their text - must each
either load or give ``file:line:col`` errors: never an exception, and never
more than a bounded amount of memory.
"""

from __future__ import annotations

import tempfile
import tracemalloc
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.loader import LoadLimits, load_file

FIELDS = ["id", "title", "description", "source", "tags", "loss", "input", "target", "class_axis",
          "reduction", "weight", "pos_weight", "ignore_index", "label_smoothing", "mode", "expected",
          "tolerance", "dtypes", "expect", "gradient", "generated", "file", "line", "logits", "probs",
          "log_probs", "index", "random", "shape", "seed", "distribution", "loc", "scale", "low",
          "high", "alpha", "value", "raises", "grad", "within", "grad_within", "grad_reading",
          "reason", "category", "link", "versions", "backends", "shared", "ulps", "like", "rtol",
          "atol", "cases", "defaults", "<<", "torch.cross_entropy", "keras.KLDivergence"]
WORDS = ["cross_entropy", "binary_cross_entropy", "kl_divergence", "mean", "sum", "none", "batchmean",
         "faithful", "as_is", "float16", "bfloat16", "float32", "float64", "normal", "uniform",
         "dirichlet", "integers", "inf", "-inf", "nan", "x", "a-b"]
LIMITS = LoadLimits(max_elements=20_000)
MEMORY_BOUND_MB = 64
FOLDER = Path(tempfile.mkdtemp(prefix="conformance-fuzz-"))

scalars = st.one_of(
    st.integers(min_value=-(10 ** 30), max_value=10 ** 30), st.integers(-3, 1000),
    st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(),
    st.sampled_from(WORDS), st.text(max_size=12))
keys = st.one_of(st.sampled_from(FIELDS), st.text(max_size=8), st.integers(-2, 3))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(keys, inner, max_size=6)), max_leaves=40)
cases = st.lists(st.dictionaries(st.sampled_from(FIELDS), values, max_size=10), max_size=3)
documents = st.one_of(
    st.fixed_dictionaries({"cases": cases}, optional={"defaults": st.dictionaries(st.sampled_from(FIELDS), values,
                                                                                   max_size=4)}),
    values)
EDIT_CHARACTERS = list("[]{}:,-?&*!|>'\"%@`#\n\t \\") + ["\x00", "\x07", "\ud800", "\u0085", "\ufeff", "é"]


def _dump(document: object, flow: bool) -> str:
    return yaml.safe_dump(document, default_flow_style=flow, allow_unicode=True, sort_keys=False)


def _assert_loads_or_locates(text: str) -> None:
    path = FOLDER / "case.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    tracemalloc.start()
    try:
        cases, errors = load_file(path, LIMITS)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND_MB * 2 ** 20, f"loading took {peak / 2 ** 20:.0f} MB"
    for error in errors:
        assert error.line >= 1 and error.column >= 1, error
        assert str(error).startswith(f"{error.file}:{error.line}:{error.column}: "), error
        assert error.message
        str(error).encode("utf-8")  # printable and writable


@settings(max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck))
@given(document=documents, flow=st.booleans())
def test_random_documents_near_the_schema_load_or_give_located_errors(document, flow):
    _assert_loads_or_locates(_dump(document, flow))


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(document=documents, flow=st.booleans(), data=st.data())
def test_random_edits_of_their_text_load_or_give_located_errors(document, flow, data):
    text = _dump(document, flow)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 3))
        text = text[:at] + data.draw(st.sampled_from(EDIT_CHARACTERS)) * data.draw(st.integers(1, 3)) + text[at + cut:]
    _assert_loads_or_locates(text)
