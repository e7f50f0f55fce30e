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
from typing import Any, Optional

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
    first_spelling: Optional[str] = None
    """How the first was written, where it differs (``true`` against ``True``: one key to YAML)."""

    def describe(self) -> str:
        under = f" under {' > '.join(self.path)}" if self.path else ""
        written = ("is written twice" if self.first_spelling in (None, self.key)
                   else f"is the same key as {self.first_spelling!r}")
        return (f"key {self.key!r} {written}{under} (lines {self.first_line} and {self.second_line}); "
                "YAML would keep only the second. Fix: rename one of them, or merge the two into one entry")


class StackFileError(ValueError):
    """A stack file that cannot be read as written; the message is for the person who wrote it."""


def duplicate_keys(text: str) -> list[DuplicateKey]:
    """Every key written twice in the same mapping of ``text``, in file order (lines are 1-based)."""
    remembered = _checked.get(text)
    if remembered is not None:
        return list(remembered)
    try:
        _, root = _compose(text)
    except yaml.YAMLError:
        return []  # not YAML at all: ``load`` reports the parser's own error
    return _duplicates(text, root)


def load(text: str, source: str) -> Any:
    """The document in ``text``; ``StackFileError`` naming ``source`` for bad YAML or a duplicate key.

    One parse serves both: the duplicate check walks the same nodes the document is then built from.
    """
    try:
        loader, root = _compose(text)
    except yaml.YAMLError as exc:
        raise StackFileError(_tab_message(text, source) or f"{source}: not valid YAML: {_explained(text, exc)}") from None
    duplicates = _duplicates(text, root)
    if duplicates:
        lines = [f"{source}: {d.describe()}" for d in duplicates]
        raise StackFileError(lines[0] if len(lines) == 1 else "\n".join(lines))
    try:
        return None if root is None else loader.construct_document(root)
    except yaml.YAMLError as exc:
        raise StackFileError(_tab_message(text, source) or f"{source}: not valid YAML: {_explained(text, exc)}") from None


def _tab_message(text: str, source: str) -> str | None:
    """One line for the commonest YAML mistake, a tab in the indentation (YAML allows spaces only);
    the parser's own message spans four lines and never says what to do."""
    for number, line in enumerate(text.splitlines(), 1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            return f"{source}: line {number} is indented with a tab, which YAML does not allow: use spaces"
    return None


# libyaml through PyYAML's C binding where it was built with it (the wheels are): the same nodes,
# lines and values as the pure-Python parser, about ten times faster on a stack of 1000 services.
_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _compose(text: str) -> tuple[Any, Optional[yaml.Node]]:
    """(loader, root node) of the single document in ``text``; the loader builds values from it."""
    loader = _LOADER(text)
    try:
        return loader, loader.get_single_node()
    finally:
        loader.dispose()


def _explained(text: str, exc: yaml.YAMLError) -> yaml.YAMLError:
    """The pure-Python loader's error where it has one: it quotes the offending line, libyaml does not."""
    if _LOADER is yaml.SafeLoader:
        return exc
    try:
        yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as pure:
        return pure
    return exc


_checked: dict[str, tuple[DuplicateKey, ...]] = {}
"""Text -> its duplicates, for the last few files: the offline plan reads a stack file, and then the
program it runs checks the same file again (as it must under ``pulumi up``)."""


def _duplicates(text: str, root: Optional[yaml.Node]) -> list[DuplicateKey]:
    found: list[DuplicateKey] = []
    if root is not None:
        _walk(root, (), found, set())
    found.sort(key=lambda d: (d.second_line, d.first_line))
    if len(_checked) >= 4:
        _checked.clear()
    _checked[text] = tuple(found)
    return found


_STR = "tag:yaml.org,2002:str"
_NO_VALUE = object()


def _walk(node: yaml.Node, path: tuple[str, ...], found: list[DuplicateKey], walked: set[int]) -> None:
    # An alias shares its anchor's node: each node is checked once, and a recursive alias ends here.
    if id(node) in walked:
        return
    walked.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, tuple[int, str]] = {}
        for key_node, value_node in node.value:
            scalar = isinstance(key_node, yaml.ScalarNode)
            key = str(key_node.value) if scalar else str(key_node.start_mark)
            line = key_node.start_mark.line + 1
            earlier = seen.get(key)
            value = _key_value(key_node) if scalar and key_node.tag != _STR else _NO_VALUE
            if earlier is None and value is not _NO_VALUE:
                earlier = seen.get(value)
            if earlier is not None and key != "<<":
                found.append(DuplicateKey(key, earlier[0], line, path, earlier[1]))
            else:
                seen[key] = (line, key)
                if value is not _NO_VALUE:
                    seen[value] = (line, key)
            if not isinstance(value_node, yaml.ScalarNode):
                _walk(value_node, (*path, key), found, walked)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            if not isinstance(item, yaml.ScalarNode):
                _walk(item, (*path, f"[{index}]"), found, walked)


def _key_value(node: yaml.ScalarNode) -> Any:
    """The value a key that is not a string is keyed by: two spellings of one key (``true`` and
    ``True``, ``~`` and ``null``, ``1`` and ``0x1``) make one entry, and the second is kept."""
    if node.value == "<<":
        return _NO_VALUE
    try:
        return yaml.constructor.SafeConstructor().construct_object(node)
    except (yaml.YAMLError, ValueError, TypeError):
        return _NO_VALUE  # a tag the safe loader refuses: building the document says so
