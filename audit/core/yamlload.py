"""A YAML loader that remembers where every mapping and list started.

Rule-file and waiver-file errors must name the file and line, so the loader builds containers
(``LineDict``/``LineList``) that carry the 1-based line of the node and of each key or item;
:func:`line_at` finds the line of a key path (a pydantic error ``loc``) in such a tree.
Plain ``yaml.safe_load`` loses that; a SafeLoader subclass keeps PyYAML's safety (no tags
that construct Python objects) and only adds the marks.

Every YAML file the tool reads (rules, waivers) goes through :func:`load_yaml_text`, which also
bounds what a hostile file can cost: a document may hold at most :data:`MAX_NODES` values
counting every alias as the copy it stands for (a "billion laughs" alias bomb is refused
before it is expanded), nest at most :data:`MAX_DEPTH` levels, and an alias may not refer to
the collection that contains it. Integers beyond 64 bits (including those too long for
Python to convert) and ``.inf``/``.nan`` are syntax errors with their line, not crashes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from audit.core.errors import YamlSyntaxError

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "LineDict",
    "LineList",
    "YamlSyntaxError",
    "line_at",
    "line_of",
    "load_yaml_text",
]

#: Most values one document may hold, every alias counted as the copy it expands to. The
#: bundled rule files hold a few hundred each; an alias bomb holds billions.
MAX_NODES = 100_000
#: Deepest nesting of mappings and lists (the bundled rules nest about 12 levels).
MAX_DEPTH = 64


class LineDict(dict[str, Any]):
    """A mapping with ``line`` (where it starts) and ``key_lines`` (where each key is)."""

    line: int = 0
    key_lines: dict[str, int]

    def line_for(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list[Any]):
    """A sequence with ``line`` and ``item_lines`` (where each item starts)."""

    line: int = 0
    item_lines: list[int]


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose containers remember their start marks, and whose composer counts
    nodes (aliases as their expansion) and depth against the limits above."""

    # The parser's method, typed here: types-PyYAML leaves it unannotated.
    peek_event: Callable[[], yaml.Event]

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0
        self._open_anchors: list[str] = []  # anchors of the collections being composed
        self._expanded: dict[int, int] = {}  # id(node) -> values it stands for (memo)

    def compose_document(self) -> yaml.Node | None:
        self._nodes = 0
        return super().compose_document()

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        mark: Any = event.start_mark
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self._open_anchors:
                raise yaml.composer.ComposerError(
                    None, None, f"alias *{event.anchor} refers to a collection that contains it", mark
                )
            node = super().compose_node(parent, index)
            self._count(self._size(node) if node is not None else 1, mark)
            return node
        if self._depth >= MAX_DEPTH:
            raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", mark)
        self._count(1, mark)
        anchor = getattr(event, "anchor", None)
        self._depth += 1
        if anchor is not None:
            self._open_anchors.append(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open_anchors.pop()

    def _count(self, nodes: int, mark: Any) -> None:
        self._nodes += nodes
        if self._nodes > MAX_NODES:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"the document holds more than {MAX_NODES} values (aliases counted as the copies they stand for)",
                mark,
            )

    def _size(self, node: yaml.Node) -> int:
        """How many values ``node`` stands for once every alias inside it is expanded."""
        known = self._expanded.get(id(node))
        if known is not None:
            return known
        size = 1
        if isinstance(node, yaml.SequenceNode):
            size += sum(self._size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            size += sum(self._size(key) + self._size(value) for key, value in node.value)
        self._expanded[id(node)] = size
        return size

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        try:
            value: int = super().construct_yaml_int(node)
        except ValueError as exc:  # more digits than Python converts (sys.get_int_max_str_digits)
            raise yaml.constructor.ConstructorError(
                None, None, f"integer too long ({len(node.value)} characters)", node.start_mark
            ) from exc
        if not -(2**63) <= value < 2**63:  # ids and counts are 64-bit everywhere downstream
            raise yaml.constructor.ConstructorError(
                None, None, f"integer out of the 64-bit range ({len(node.value)} characters)", node.start_mark
            )
        return value

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        value: float = super().construct_yaml_float(node)
        if not math.isfinite(value):
            raise yaml.constructor.ConstructorError(
                None, None, f"not a finite number: {node.value}", node.start_mark
            )
        return value


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            key = str(key)
        if key in result:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
_LineLoader.add_constructor("tag:yaml.org,2002:int", _LineLoader.construct_yaml_int)
_LineLoader.add_constructor("tag:yaml.org,2002:float", _LineLoader.construct_yaml_float)
# Timestamps stay strings: the engine parses dates itself (and rule files hold none).
_LineLoader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml_text(text: str, name: str | Path = "<string>") -> Any:
    """Parse YAML text into ``LineDict``/``LineList`` trees; raise ``YamlSyntaxError``."""
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise YamlSyntaxError(exc.problem or str(exc), line) from exc
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(str(exc), None) from exc


def line_of(node: Any, default: int = 0) -> int:
    """The line a node starts on, when it is a container that knows it."""
    return int(getattr(node, "line", 0) or default)


def line_at(node: Any, loc: Sequence[Any]) -> int | None:
    """The line of the deepest key or item along ``loc`` (keys and list indexes, like a
    pydantic error location): a key's own line, an item's first line; ``None`` when even
    ``node`` has no line (a scalar document)."""
    line = line_of(node) or None
    for part in loc:
        if isinstance(node, LineDict) and str(part) in node:
            line, node = node.line_for(str(part)), node[str(part)]
        elif isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node):
            line, node = node.item_lines[part], node[part]
        else:
            break
    return line
