"""A YAML loader that remembers where every mapping and list started.

Rule-file and waiver-file errors must name the file and line, so the loader builds containers
(``LineDict``/``LineList``) that carry the 1-based line of the node and of each key or item;
:func:`line_at` finds the line of a key path (a pydantic error ``loc``) in such a tree.
Plain ``yaml.safe_load`` loses that; a SafeLoader subclass keeps PyYAML's safety (no tags
that construct Python objects) and only adds the marks.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

__all__ = ["LineDict", "LineList", "YamlSyntaxError", "line_at", "line_of", "load_yaml_text"]


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


class YamlSyntaxError(Exception):
    """The text is not YAML; ``line`` is 1-based (or None when PyYAML gives no mark).

    ``problem`` is what PyYAML says is wrong; ``message`` is it prefixed with "YAML syntax: ".
    """

    def __init__(self, problem: str, line: int | None) -> None:
        self.problem = problem
        self.message = f"YAML syntax: {problem}"
        self.line = line
        super().__init__(self.message)


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose containers remember their start marks."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            key = str(key)
        if key in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
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
