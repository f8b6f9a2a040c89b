"""A bounded YAML 1.2 reader that remembers where every value came from.

Case files are untrusted input, so this reader is written to fail cleanly:

* YAML 1.2 core schema: PyYAML's resolvers are YAML 1.1, where ``1e-6``
  loads as a string and ``yes``/``no`` as booleans. Case files are full of
  small floats, so scalars are resolved here with the 1.2 rules.
* No recursion: the document is built from the parser's event stream with an
  explicit stack (PyYAML's composer and constructor recurse once per nesting
  level, and its C composer overflows the C stack), and nesting deeper than
  :attr:`YamlLimits.max_depth` is an error.
* Bounded size: every value counts, and an alias counts as the whole value it
  repeats, so an alias bomb ("billion laughs") is refused long before it is
  expanded anywhere.
* Only plain data: explicit tags, non-scalar mapping keys, duplicate keys,
  integers longer than any float, control characters and lone surrogates are
  errors with a line and column.
* Fast on large literal arrays: flat runs of numbers (``[0.1, 2, -3e-5]``)
  are read with one regular expression instead of one parser event per
  number, so a 30 MB case file loads in seconds.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
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
_BOOL_12 = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_NULL_12 = {"", "~", "null", "Null", "NULL"}
_SPECIAL_FLOATS = {".inf": float("inf"), ".Inf": float("inf"), ".INF": float("inf"),
                   ".nan": float("nan"), ".NaN": float("nan"), ".NAN": float("nan")}
# A float has at most 309 integer digits; a longer integer is a mistake (and
# Python refuses to convert one of more than 4300 digits at all).
MAX_INT_DIGITS = 400
MERGE_KEY = "<<"
MARKED_ITEMS = 1024
COLLECTION_WEIGHT = 8

# A flat flow sequence of plain decimal numbers: the bulk of a large case file.
# Possessive quantifiers and atomic groups: the engine never backtracks into a
# number or a run of blanks, so a match costs time and memory linear in its length.
_NUMBER = r"(?>[-+]?+(?:[0-9]++(?:\.[0-9]*+)?+|\.[0-9]++)(?:[eE][-+]?+[0-9]++)?+|[-+]?+\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))"
_BLANKS = r"[ \t\r\n]*+"
_NUMBER_RUN = re.compile(rf"\[{_BLANKS}{_NUMBER}(?>{_BLANKS},{_BLANKS}{_NUMBER})*+{_BLANKS},?+{_BLANKS}\]")
# libyaml also breaks lines at these; the fast path counts lines by "\n" alone, so
# it stands aside for a text that holds one (a CR of a CRLF pair is fine).
_OTHER_LINE_BREAK = re.compile("\r(?!\n)|[\x85\u2028\u2029]")
_PLAIN_INT = re.compile(r"^[-+]?[0-9]+$")
# Runs shorter than this are left to the parser: not worth the bookkeeping.
_MIN_RUN_CHARS = 256
# Refused anywhere in a case file, written or escaped: they break terminals,
# reports and the UTF-8 files results are written to.
_BAD_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
_BLANK_ALL_BUT_NEWLINES = str.maketrans({chr(c): " " for c in range(256) if c != 10})


class YamlSyntaxError(ValueError):
    """The text is not acceptable YAML: a syntax error or a refused construct."""

    def __init__(self, message: str, line: int, column: int):
        super().__init__(message)
        self.line = line
        self.column = column


@dataclass(frozen=True)
class YamlLimits:
    """How much one document may hold: values (aliases expanded) and nesting depth."""

    max_values: int = 25_000_000
    max_depth: int = 64


@dataclass(frozen=True)
class SourceMap:
    """Line/column (1-based) of each value, keyed by its path in the document.

    Mapping entries have marks, and so do the first :data:`MARKED_ITEMS` items
    of a list (later ones, and the numbers of a large flat array read in one
    go, are located at their list; the cases of a file always have theirs).
    """

    marks: dict[Path, tuple[int, int]]
    key_marks: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def locate_key(self, path: Path) -> tuple[int, int]:
        """Where the key of the mapping entry ``path`` is written (else :meth:`locate`)."""
        return self.key_marks.get(tuple(path)) or self.locate(path)

    def locate(self, path: Path) -> tuple[int, int]:
        """The mark of ``path``, or of its longest prefix that has one."""
        for end in range(len(path), -1, -1):
            mark = self.marks.get(tuple(path[:end]))
            if mark is not None:
                return mark
        return (1, 1)


def load_yaml(text: str, limits: YamlLimits = YamlLimits()) -> tuple[Any, SourceMap]:
    """Parse one YAML 1.2 document and return its data and source map."""
    _check_characters(text)
    blanked, runs = _extract_number_runs(text, limits.max_values)
    if runs:
        try:
            data, marks, unused = _Builder(blanked, limits, runs).build()
        except YamlSyntaxError:
            unused = True  # let the exact parse report the problem where it is
        if not unused:
            return data, marks
    # A run matched inside a quoted string or a comment: parse the text as written.
    data, marks, _ = _Builder(text, limits, {}).build()
    return data, marks


def _check_characters(text: str) -> None:
    """Control characters (other than tab and line breaks) and lone surrogates are refused."""
    bad = _BAD_CHARACTER.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        raise YamlSyntaxError(f"the file contains the control character {_name(bad.group())}; "
                              "case files are plain text", line, column)


def _name(char: str) -> str:
    return f"U+{ord(char):04X}" + (f" ({unicodedata.name(char)})" if unicodedata.name(char, "") else "")


def _extract_number_runs(text: str, max_values: int) -> tuple[str, dict[tuple[int, int], list[int | float]]]:
    """Large flat number arrays read directly, and the text with their contents blanked out.

    Blanking keeps every line and column, so the parser sees an empty ``[ ]``
    at the array's position and the builder puts the numbers back there. The
    numbers are counted before any is converted, against ``max_values``.
    """
    if len(text) < _MIN_RUN_CHARS or _OTHER_LINE_BREAK.search(text):
        return text, {}
    runs: dict[tuple[int, int], list[int | float]] = {}
    pieces, last, line, line_start, total = [], 0, 1, 0, 0
    for match in _NUMBER_RUN.finditer(text):
        start, end = match.span()
        if end - start < _MIN_RUN_CHARS:
            continue
        line += text.count("\n", last, start)
        newline = text.rfind("\n", last, start)
        line_start = newline + 1 if newline >= 0 else line_start
        mark = (line, start - line_start + 1)
        total += text.count(",", start, end) + 1
        if total > max_values:
            raise YamlSyntaxError(f"the document holds more than {max_values} values "
                                  "(the limit follows --max-elements)", *mark)
        runs[mark] = [_run_number(t, mark) for t in text[start + 1:end - 1].replace(",", " ").split()]
        inner = text[start + 1:end - 1]
        pieces += [text[last:start + 1], inner.translate(_BLANK_ALL_BUT_NEWLINES), "]"]
        line += inner.count("\n")
        newline = inner.rfind("\n")
        line_start = start + 1 + newline + 1 if newline >= 0 else line_start
        last = end
    if not runs:
        return text, {}
    pieces.append(text[last:])
    return "".join(pieces), runs


def _run_number(token: str, mark: tuple[int, int]) -> int | float:
    if _PLAIN_INT.match(token):
        return _integer(token, mark)
    special = _SPECIAL_FLOATS.get(token.lstrip("+-"))
    if special is None:
        return float(token)
    return -special if token.startswith("-") else special


def _parser(text: str) -> Any:
    """libyaml's event parser where PyYAML has it (it is iterative), else PyYAML's own."""
    if getattr(yaml, "__with_libyaml__", False):
        return yaml.cyaml.CParser(text)
    return yaml.SafeLoader(text)


@dataclass
class _Open:
    """A collection being built: its value, where it is, and what it has counted so far."""

    value: dict | list
    path: Path
    anchor: str | None
    mark: tuple[int, int]
    size: int = 0
    key: Any = None          # a mapping waiting for the value of this key
    has_key: bool = False
    key_lines: dict[Any, int] = field(default_factory=dict)
    merges: list[dict] = field(default_factory=list)
    merge_pending: bool = False
    fast: bool = False       # a blanked number run: its numbers come from the side table


class _Builder:
    """Builds Python data and the source map from parser events, with an explicit stack."""

    def __init__(self, text: str, limits: YamlLimits, runs: dict[tuple[int, int], list]):
        self.text, self.limits, self.runs = text, limits, runs
        self.marks: dict[Path, tuple[int, int]] = {}
        self.key_marks: dict[Path, tuple[int, int]] = {}
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.stack: list[_Open] = []
        self.total = 0
        self.root: Any = None
        self.used = 0

    def build(self) -> tuple[Any, SourceMap, bool]:
        parser = _parser(self.text)
        try:
            while True:
                event = parser.get_event()
                if event is None or isinstance(event, yaml.StreamEndEvent):
                    break
                self._event(event)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            raise YamlSyntaxError(f"invalid YAML: {exc.problem or exc}", line, col) from None
        except yaml.YAMLError as exc:  # a reader error: undecodable or forbidden text
            raise YamlSyntaxError(f"invalid YAML: {exc}", 1, 1) from None
        finally:
            if hasattr(parser, "dispose"):
                parser.dispose()
        self.marks.setdefault((), (1, 1))
        return self.root, SourceMap(self.marks, self.key_marks), self.used != len(self.runs)

    # -- events ---------------------------------------------------------------
    def _event(self, event: yaml.Event) -> None:
        mark = (event.start_mark.line + 1, event.start_mark.column + 1)
        if isinstance(event, yaml.DocumentStartEvent):
            if self.root is not None or self.marks:
                raise YamlSyntaxError("a case file holds one YAML document; found a second", *mark)
        elif isinstance(event, (yaml.StreamStartEvent, yaml.DocumentEndEvent)):
            return
        elif isinstance(event, yaml.AliasEvent):
            self._alias(event, mark)
        elif isinstance(event, yaml.ScalarEvent):
            self._check_tag(event, mark)
            self._add(self._scalar(event, mark), 1, mark, event.anchor, is_scalar=True)
        elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            self._check_tag(event, mark)
            self._open(event, mark)
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            self._close()

    def _check_tag(self, event: yaml.NodeEvent, mark: tuple[int, int]) -> None:
        tag = getattr(event, "tag", None)
        if tag not in (None, "!"):
            raise YamlSyntaxError(f"YAML tags are not allowed in case files (found {tag!r}): "
                                  "write plain numbers, text, lists and mappings", *mark)

    def _open(self, event: yaml.Event, mark: tuple[int, int]) -> None:
        if len(self.stack) >= self.limits.max_depth:
            raise YamlSyntaxError(f"nested more than {self.limits.max_depth} levels deep", *mark)
        parent = self.stack[-1] if self.stack else None
        if parent is not None and isinstance(parent.value, dict) and not parent.has_key:
            raise YamlSyntaxError("a mapping key must be plain text, not a list or a mapping", *mark)
        path = self._child_path(parent)
        # A collection costs far more memory than a number: it counts as several values.
        self._count(COLLECTION_WEIGHT, mark)
        if parent is None or (not parent.merge_pending and (len(path) <= 2 or not isinstance(
                parent.value, list) or len(parent.value) < MARKED_ITEMS)):
            self.marks[path] = mark
        value: dict | list = {} if isinstance(event, yaml.MappingStartEvent) else []
        fast = isinstance(value, list) and event.flow_style and mark in self.runs
        self.stack.append(_Open(value, path, event.anchor, mark, size=COLLECTION_WEIGHT, fast=fast))

    def _close(self) -> None:
        done = self.stack.pop()
        if done.fast and not done.value:
            numbers = self.runs[done.mark]
            done.value.extend(numbers)
            done.size += len(numbers)
            self._count(len(numbers), done.mark)
            self.used += 1
        if isinstance(done.value, dict) and done.merges:
            for merged in reversed(done.merges):
                for key, item in merged.items():
                    done.value.setdefault(key, item)
        self._add(done.value, done.size, done.mark, done.anchor, is_scalar=False, counted=True)

    def _alias(self, event: yaml.AliasEvent, mark: tuple[int, int]) -> None:
        if event.anchor not in self.anchors:
            raise YamlSyntaxError(f"unknown alias *{event.anchor}", *mark)
        value, size = self.anchors[event.anchor]
        parent = self.stack[-1] if self.stack else None
        if parent is not None and isinstance(parent.value, dict) and not parent.has_key:
            raise YamlSyntaxError("a mapping key must be plain text, not an alias", *mark)
        self._count(size, mark, alias=event.anchor)
        self._add(value, size, mark, None, is_scalar=not isinstance(value, (list, dict)), counted=True)

    # -- values ----------------------------------------------------------------
    def _add(self, value: Any, size: int, mark: tuple[int, int], anchor: str | None, *,
             is_scalar: bool, counted: bool = False) -> None:
        if not counted:
            self._count(size, mark)
        if anchor is not None:
            self.anchors[anchor] = (value, size)
        if not self.stack:
            self.root = value
            return
        parent = self.stack[-1]
        parent.size += size
        if isinstance(parent.value, list):
            if is_scalar and len(parent.value) < MARKED_ITEMS:
                self.marks[parent.path + (len(parent.value),)] = mark
            parent.value.append(value)
            return
        if not parent.has_key:
            self._key(parent, value, mark, is_scalar)
            return
        if parent.merge_pending:
            parent.merges.extend(self._merge_sources(value, mark))
        else:
            parent.value[parent.key] = value
            if is_scalar:
                self.marks[parent.path + (parent.key,)] = mark
        parent.has_key, parent.merge_pending = False, False

    def _key(self, parent: _Open, key: Any, mark: tuple[int, int], is_scalar: bool) -> None:
        if not is_scalar or isinstance(key, (list, dict)):
            raise YamlSyntaxError("a mapping key must be plain text, not a list or a mapping", *mark)
        if key == MERGE_KEY:
            parent.merge_pending = True
        elif key in parent.key_lines:
            raise YamlSyntaxError(f"duplicate key {key!r} (first on line {parent.key_lines[key]})", *mark)
        else:
            parent.key_lines[key] = mark[0]
            self.key_marks[parent.path + (key,)] = mark
        parent.key, parent.has_key = key, True

    def _merge_sources(self, value: Any, mark: tuple[int, int]) -> list[dict]:
        sources = value if isinstance(value, list) else [value]
        if not all(isinstance(s, dict) for s in sources):
            raise YamlSyntaxError("`<<` merges a mapping (or a list of mappings) into this one", *mark)
        return list(sources)

    def _child_path(self, parent: _Open | None) -> Path:
        if parent is None:
            return ()
        if isinstance(parent.value, list):
            return parent.path + (len(parent.value),)
        return parent.path + (parent.key,) if parent.has_key and not parent.merge_pending else parent.path

    def _count(self, size: int, mark: tuple[int, int], alias: str | None = None) -> None:
        self.total += size
        if self.total > self.limits.max_values:
            how = f"; the alias *{alias} repeats {size} values (a YAML alias bomb?)" if alias else ""
            raise YamlSyntaxError(f"the document holds more than {self.limits.max_values} values{how} "
                                  "(the limit follows --max-elements)", *mark)

    def _scalar(self, event: yaml.ScalarEvent, mark: tuple[int, int]) -> Any:
        text = event.value
        if not event.style and event.implicit[0]:  # plain: resolve with the YAML 1.2 core schema
            return _resolve_plain(text, mark)
        bad = _BAD_CHARACTER.search(text)
        if bad:
            raise YamlSyntaxError(f"the text contains the character {_name(bad.group())}, which "
                                  "case files may not hold (written or escaped)", *mark)
        return text


def _integer(text: str, mark: tuple[int, int]) -> int:
    digits = text.lstrip("+-")
    if len(digits) > MAX_INT_DIGITS:
        raise YamlSyntaxError(f"an integer of {len(digits)} digits is too large to be a number "
                              "of a case", *mark)
    return int(text, 0) if digits[:2] in ("0o", "0x") else int(text)


def _resolve_plain(text: str, mark: tuple[int, int]) -> Any:
    if text in _NULL_12:
        return None
    if text in _BOOL_12:
        return _BOOL_12[text]
    if _INT_12.match(text):
        return _integer(text, mark)
    if _FLOAT_12.match(text):
        special = _SPECIAL_FLOATS.get(text.lstrip("+-"))
        if special is not None:
            return -special if text.startswith("-") else special
        return float(text)
    return text
