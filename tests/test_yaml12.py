from __future__ import annotations

import math

import pytest
import yaml

from conformance.yaml12 import YamlSyntaxError, load_yaml


def test_floats_resolve_as_yaml_1_2():
    data, _ = load_yaml("a: 1e-6\nb: -2.5E+3\nc: .inf\nd: -.inf\ne: .nan\nf: 1.0e-7\ng: .5\n")
    assert data["a"] == 1e-6 and isinstance(data["a"], float)
    assert data["b"] == -2500.0
    assert data["c"] == math.inf and data["d"] == -math.inf
    assert math.isnan(data["e"])
    assert data["f"] == 1e-7 and data["g"] == 0.5


def test_yaml_1_1_booleans_and_sexagesimals_stay_strings():
    data, _ = load_yaml("a: yes\nb: no\nc: on\nd: true\ne: 1:30\nf: 010\n")
    assert data["a"] == "yes" and data["b"] == "no" and data["c"] == "on"
    assert data["d"] is True
    assert data["e"] == "1:30"
    assert data["f"] == 10  # YAML 1.2 has no octal without 0o


def test_source_map_gives_line_and_column_of_nested_values():
    text = "cases:\n  - id: a\n    input: {logits: [1, 2]}\n"
    _, marks = load_yaml(text)
    assert marks.locate(("cases", 0, "id")) == (2, 9)
    assert marks.locate(("cases", 0, "input", "logits", 1)) == (3, 25)
    assert marks.locate(("cases", 0, "missing", "deeper")) == (2, 5)


def test_duplicate_key_is_an_error_at_the_second_key():
    with pytest.raises(YamlSyntaxError) as info:
        load_yaml("cases:\n  - id: a\n    id: b\n")
    assert info.value.line == 3
    assert "duplicate key 'id' (first on line 2)" in str(info.value)


def test_syntax_error_has_a_line():
    with pytest.raises(YamlSyntaxError) as info:
        load_yaml("cases:\n  - id: [unclosed\n  - other\n")
    assert info.value.line >= 2


@pytest.mark.parametrize("layout", ["one line", "rows over lines", "crlf", "text before", "in a comment",
                                    "in a string", "line separator"])
def test_large_number_arrays_read_in_one_go_equal_what_the_parser_gives(layout):
    numbers = ", ".join(f"{(-1) ** i * i / 7:.6g}" for i in range(200))
    body = {
        "one line": f"a: [{numbers}, .inf, -0.0, 0]\n",
        "rows over lines": f"a: [{numbers},\n    {numbers}\n   ]\nb: [1, 2]\n",
        "crlf": f"a: [{numbers},\r\n  {numbers}]\r\nb: x\r\n",
        "text before": f"a: {{ é: 'ü', b: [{numbers}] }}\n",
        "in a comment": f"a: []  # [{numbers}]\nb: []\n",
        "in a string": f"a: '[{numbers}]'\nb: []\n",
        # libyaml breaks lines at U+2028 too: the numbers of a comment must not move.
        "line separator": f"a: 1  # \u2028\nb: []\n#  [{numbers}]\n",
    }[layout]
    data, _ = load_yaml(body)
    expected = yaml.safe_load(body)  # YAML 1.1, which agrees on these numbers
    assert data == expected and repr(data) == repr(expected)
