"""The one YAML loader of the project: PyYAML's safe loader with limits, strict keys and line numbers.

Every YAML file bench-pipeline reads (suite files, ``operations.yaml``) goes through :func:`load_yaml`:

- **aliases stay cheap**: the size of the document *as expanded* (every alias counted with the size
  of what it names) is computed bottom-up while composing, so a "billion laughs" file is refused
  after reading its few hundred bytes, not after expanding it (:data:`MAX_NODES`); an alias to a
  node that contains itself (``a: &r [*r]``) is refused;
- **depth is bounded** (:data:`MAX_DEPTH`), so deep nesting is an error instead of a RecursionError;
- **duplicate keys are errors** (YAML 1.2 forbids them; PyYAML keeps the last one silently), merge
  keys (``<<: *base``) excepted, which may be overridden as YAML specifies;
- **line numbers without expansion**: :attr:`Loaded.lines` maps each path of keys and list indexes to
  its 1-based line, visiting every node once; paths inside an aliased node map to the alias's line.

Problems are :class:`YamlProblem` (a ``ValueError`` with the line); callers turn them into their own
error family (``SuiteError``, ``OperationsConfigError``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_DEPTH = 64
MAX_NODES = 200_000  # nodes of the document with every alias expanded
MAX_BYTES = 8 * 2**20
MERGE_TAG = "tag:yaml.org,2002:merge"

Path_ = tuple[Any, ...]


class YamlProblem(ValueError):
    """A document that is not valid YAML, or that breaks a limit; ``line`` is 1-based (or None)."""

    def __init__(self, message: str, line: int | None = None, fix: str = "") -> None:
        self.message = message
        self.line = line
        self.fix = fix
        super().__init__(f"line {line}: {message}" if line else message)


@dataclass
class Loaded:
    data: Any
    lines: dict[Path_, int]

    def line_for(self, loc: Path_) -> int | None:
        """The line of ``loc`` or of its nearest enclosing path that has one."""
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get(())


class _Loader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._sizes: dict[int, int] = {}  # id(node) -> size with aliases expanded

    def compose_node(self, parent: Node | None, index: Any) -> Node:  # type: ignore[override]
        event = self.peek_event()
        line = event.start_mark.line + 1 if event.start_mark else None
        if isinstance(event, AliasEvent) and event.anchor in self.anchors:
            target = self.anchors[event.anchor]
            if id(target) not in self._sizes:  # still being composed: it would contain itself
                raise YamlProblem(
                    f"alias *{event.anchor} refers to a node that contains it (a recursive alias)",
                    line,
                    "use the alias outside the anchored node, or write the value out",
                )
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise YamlProblem(f"nested deeper than {MAX_DEPTH} levels", line, "flatten the document")
        try:
            node: Node = super().compose_node(parent, index)  # type: ignore[misc,assignment]
        finally:
            self._depth -= 1
        if id(node) not in self._sizes:
            self._sizes[id(node)] = self._size(node)
        return node

    def _size(self, node: Node) -> int:
        if isinstance(node, SequenceNode):
            children = node.value
        elif isinstance(node, MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            return 1
        size = 1 + sum(self._sizes.get(id(c), 1) for c in children)
        if size > MAX_NODES:
            raise YamlProblem(
                f"the document expands to more than {MAX_NODES:,} values (aliases counted as often as used)",
                node.start_mark.line + 1,
                "use fewer aliases of large nodes, or split the file",
            )
        return size

    def compose_mapping_node(self, anchor: str | None) -> MappingNode:  # type: ignore[override]
        node: MappingNode = super().compose_mapping_node(anchor)  # type: ignore[misc,arg-type]
        seen: dict[Any, int] = {}
        for key_node, _value in node.value:
            if key_node.tag == MERGE_TAG or not isinstance(key_node, ScalarNode):
                continue
            key = (key_node.tag, self.construct_scalar(key_node))
            line = key_node.start_mark.line + 1
            if key in seen:
                raise YamlProblem(
                    f"duplicate key {key[1]!r} (first on line {seen[key]})",
                    line,
                    "remove one of them: YAML keys must be unique",
                )
            seen[key] = line
        return node


def _lines(root: Node | None) -> dict[Path_, int]:
    """Path → line, each node visited once (a node reached again through an alias is not entered)."""
    index: dict[Path_, int] = {}
    if root is None:
        return index
    visited: set[int] = set()
    stack: list[tuple[Node, Path_]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        index.setdefault(path, node.start_mark.line + 1)
        if id(node) in visited:
            continue
        visited.add(id(node))
        if isinstance(node, MappingNode):
            for key, value in node.value:
                if isinstance(key, ScalarNode):
                    index.setdefault((*path, key.value), key.start_mark.line + 1)
                    stack.append((value, (*path, key.value)))
        elif isinstance(node, SequenceNode):
            for i, item in enumerate(node.value):
                stack.append((item, (*path, i)))
    return index


def load_yaml(text: str) -> Loaded:
    """Parse one YAML document safely (see the module's docstring); YamlProblem on any problem."""
    if len(text) > MAX_BYTES:
        raise YamlProblem(f"longer than {MAX_BYTES:,} characters", None, "split the file")
    loader = None
    try:
        loader = _Loader(text)  # the reader refuses control characters here already
        root = loader.get_single_node()
        lines = _lines(root)
        data = loader.construct_document(root) if root is not None else None
    except YamlProblem:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlProblem(
            f"not valid YAML: {problem}",
            mark.line + 1 if mark else None,
            "check indentation and quoting near that line",
        ) from None
    except RecursionError:  # a limit above should have caught it first
        raise YamlProblem(f"nested deeper than {MAX_DEPTH} levels", None, "flatten the document") from None
    finally:
        if loader is not None:
            loader.dispose()
    return Loaded(data, lines)
