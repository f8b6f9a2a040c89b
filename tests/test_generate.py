"""Seeded random inputs: drawn identically for the oracle and the recipe."""

from __future__ import annotations

import numpy as np

from conformance.loader import load_cases
from conformance.recipe import RecipeWriter
from conformance import frameworks as registry


def test_random_input_and_index_target_are_seeded_and_shaped(write_cases):
    path = write_cases("""
        cases:
          - id: drawn
            loss: cross_entropy
            class_axis: 1
            input: {logits: {random: {shape: [2, 5, 3], scale: 4, seed: 7}}}
            target: {index: {random: {seed: 8}}}
        """)
    (case,) = load_cases([path]).cases
    assert case.expected is None
    np.testing.assert_array_equal(case.input.values, np.random.default_rng(7).normal(0.0, 4.0, size=(2, 5, 3)))
    assert case.target.values.shape == (2, 3) and case.target.values.max() < 5
    np.testing.assert_array_equal(case.target.values, np.random.default_rng(8).integers(0, 5, size=(2, 3)))


def test_recipe_repeats_the_numpy_expression_instead_of_literals(write_cases):
    path = write_cases("""
        cases:
          - id: drawn
            loss: binary_cross_entropy
            input: {logits: {random: {shape: [100, 100], seed: 1}}}
            target: {probs: {random: {seed: 2}}}
        """)
    (case,) = load_cases([path]).cases
    framework = registry.framework("torch")
    writer = RecipeWriter(case, "float32", framework)
    framework.binding("torch.binary_cross_entropy_with_logits").write(writer)
    text = writer.text()
    assert text.startswith("import numpy as np\n")
    assert "torch.tensor(np.random.default_rng(1).normal(0.0, 1.0, size=(100, 100)), dtype=torch.float32)" in text
    assert "np.random.default_rng(2).uniform(0.0, 1.0, size=(100, 100))" in text
    assert len(text) < 1000


def test_a_random_input_without_shape_is_a_located_error(write_cases):
    path = write_cases("""
        cases:
          - id: drawn
            loss: cross_entropy
            input: {logits: {random: {seed: 1}}}
            target: {index: [0]}
        """)
    (error,) = load_cases([path]).errors
    assert error.line == 4 and error.field == "input.logits.random" and "needs `shape`" in error.message


def test_a_bad_random_field_names_it(write_cases):
    path = write_cases("""
        cases:
          - id: drawn
            loss: cross_entropy
            input: {logits: {random: {shape: [2, 3], seed: 1, scale: -1}}}
            target: {index: {random: {seed: 2}}}
        """)
    (error,) = load_cases([path]).errors
    assert error.field == "input.logits.random.scale" and "greater than 0" in error.message
