"""Read a ``Pulumi.<stack>.yaml`` file strictly: a key written twice is an error, never a silent loss.

YAML itself leaves duplicate keys to the reader, and PyYAML keeps the last one: a service key
written twice would make one service disappear from the offline plan, so every reader of a stack
file in this project goes through ``load``. The Pulumi CLI refuses such a file itself: its stack
loader decodes with ``gopkg.in/yaml.v3`` (pulumi/pulumi ``sdk/go/common/encoding/marshal.go``
line 27 at v3.272.0 and v3.276.0), which reports ``mapping key "chat" already defined at line 6``,
so ``pulumi up`` stops before the program runs (``make lifecycle`` shows it). The program checks
the file anyway (``components.program``), for a CLI that decodes more leniently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

PATH_ENV = "QWEN3_EAS_STACK_FILE"
"""The stack file a program run's config came from, where it is not ``stacks/Pulumi.<stack>.yaml``
(the offline plan of a file elsewhere): the program checks that file, not a namesake."""


@dataclass(frozen=True)
class DuplicateKey:
    """A key written twice in the same mapping: where both are."""

    key: str
    first_line: int
    second_line: int
    path: tuple[str, ...]
    """Keys of the mappings that hold it, outermost first (``config``, ``qwen3-eas:services``)."""

    def describe(self) -> str:
        under = f" under {' > '.join(self.path)}" if self.path else ""
        return (f"key {self.key!r} is written twice{under} (lines {self.first_line} and {self.second_line}); "
                "YAML would keep only the second. Fix: rename one of them, or merge the two into one entry")


class StackFileError(ValueError):
    """A stack file that cannot be read as written; the message is for the person who wrote it."""


def duplicate_keys(text: str) -> list[DuplicateKey]:
    """Every key written twice in the same mapping of ``text``, in file order (lines are 1-based)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return []  # not YAML at all: ``load`` reports the parser's own error
    found: list[DuplicateKey] = []
    _walk(root, (), found)
    return sorted(found, key=lambda d: (d.second_line, d.first_line))


def _walk(node: Any, path: tuple[str, ...], found: list[DuplicateKey]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else str(key_node.start_mark)
            line = key_node.start_mark.line + 1
            if key in seen and key != "<<":
                found.append(DuplicateKey(key, seen[key], line, path))
            else:
                seen[key] = line
            _walk(value_node, (*path, key), found)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, f"[{index}]"), found)


def load(text: str, source: str) -> Any:
    """The document in ``text``; ``StackFileError`` naming ``source`` for bad YAML or a duplicate key."""
    duplicates = duplicate_keys(text)
    if duplicates:
        lines = [f"{source}: {d.describe()}" for d in duplicates]
        raise StackFileError(lines[0] if len(lines) == 1 else "\n".join(lines))
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise StackFileError(_tab_message(text, source) or f"{source}: not valid YAML: {exc}") from None


def _tab_message(text: str, source: str) -> str | None:
    """One line for the commonest YAML mistake, a tab in the indentation (YAML allows spaces only);
    the parser's own message spans four lines and never says what to do."""
    for number, line in enumerate(text.splitlines(), 1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            return f"{source}: line {number} is indented with a tab, which YAML does not allow: use spaces"
    return None
