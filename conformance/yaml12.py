"""A YAML 1.2 reader that remembers where every value came from.

PyYAML's ``safe_load`` implements YAML 1.1: ``1e-6`` loads as a string and
``yes``/``no`` load as booleans. Case files are full of small floats, so this
loader swaps in the YAML 1.2 core-schema resolvers for floats and booleans,
refuses duplicate keys (PyYAML silently keeps the last one), and records the
line and column of every node so that validation errors can point at the
exact spot in the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

Path = tuple[str | int, ...]

_FLOAT_12 = re.compile(
    r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_INT_12 = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_BOOL_12 = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


class YamlSyntaxError(ValueError):
    """The text is not valid YAML, or repeats a key in one mapping."""

    def __init__(self, message: str, line: int, column: int):
        super().__init__(message)
        self.line = line
        self.column = column


class _Loader12(yaml.SafeLoader):
    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag not in {
            "tag:yaml.org,2002:float", "tag:yaml.org,2002:int", "tag:yaml.org,2002:bool"}]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_yaml_int(self, node: yaml.Node) -> int:
        text = self.construct_scalar(node)
        return int(text, 0) if text[:2] in ("0o", "0x") else int(text)


_Loader12.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL_12, list("tTfF"))
_Loader12.add_implicit_resolver("tag:yaml.org,2002:int", _INT_12, list("-+0123456789"))
_Loader12.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789."))
_Loader12.add_constructor("tag:yaml.org,2002:int", _Loader12.construct_yaml_int)


@dataclass(frozen=True)
class SourceMap:
    """Line/column (1-based) of each value, keyed by its path in the document."""

    marks: dict[Path, tuple[int, int]]

    def locate(self, path: Path) -> tuple[int, int]:
        """The mark of ``path``, or of its longest prefix that has one."""
        for end in range(len(path), -1, -1):
            mark = self.marks.get(tuple(path[:end]))
            if mark is not None:
                return mark
        return (1, 1)


def load_yaml(text: str) -> tuple[Any, SourceMap]:
    """Parse one YAML 1.2 document and return its data and source map."""
    loader = _Loader12(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, SourceMap({(): (1, 1)})
        marks: dict[Path, tuple[int, int]] = {}
        _record_marks(node, (), marks)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise YamlSyntaxError(f"invalid YAML: {exc.problem or exc}", line, col) from None
    finally:
        loader.dispose()
    return data, SourceMap(marks)


def _record_marks(node: yaml.Node, path: Path, marks: dict[Path, tuple[int, int]]) -> None:
    marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                raise YamlSyntaxError(
                    f"duplicate key {key!r} (first on line {seen[key]})",
                    key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            seen[key] = key_node.start_mark.line + 1
            _record_marks(value_node, path + (key,), marks)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_marks(item, path + (index,), marks)
