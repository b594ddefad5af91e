"""Read YAML while remembering the line of every key, and refusing duplicate keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path_ = tuple[str, ...]


@dataclass
class YamlDocument:
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    duplicates: list[tuple[Path_, int]] = field(default_factory=list)

    def line_for(self, path: Path_) -> int:
        """The line of ``path``, or of its nearest ancestor that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


class YamlSyntaxError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def read_yaml(text: str) -> YamlDocument:
    """Parse one YAML document into plain Python values plus a line map."""
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as error:
        line = text[: error.position].count("\n") + 1
        raise YamlSyntaxError(line, f"character {error.character!r} is not allowed in YAML") from None
    try:
        node = loader.get_single_node()
        doc = YamlDocument(data=None)
        if node is not None:
            doc.lines[()] = node.start_mark.line + 1
            doc.data = _convert(loader, node, (), doc)
        return doc
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlSyntaxError(line, f"{error.problem or error}".strip()) from None
    except yaml.YAMLError as error:
        raise YamlSyntaxError(1, str(error)) from None
    finally:
        loader.dispose()


def _convert(loader: yaml.SafeLoader, node: yaml.Node, path: Path_, doc: YamlDocument) -> Any:
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolves merge keys (<<)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                key = str(key)
            key_path = (*path, str(key))
            line = key_node.start_mark.line + 1
            if key in result:
                doc.duplicates.append((key_path, line))
                continue
            doc.lines[key_path] = line
            result[key] = _convert(loader, value_node, key_path, doc)
        return result
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            item_path = (*path, str(index))
            doc.lines[item_path] = item.start_mark.line + 1
            items.append(_convert(loader, item, item_path, doc))
        return items
    return loader.construct_object(node, deep=True)
