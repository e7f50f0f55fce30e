"""Property values between the engine's ``google.protobuf.Struct`` and plain Python.

The engine marks two kinds of value inside a Struct with a signature key (pulumi/pulumi
``sdk/go/common/resource/plugin/rpc.go``; the same constants are in the Python SDK's
``pulumi/runtime/rpc.py``): an unknown value (during a preview) is a fixed string, and a secret
is an object with the secret signature and the value under ``value``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format, struct_pb2

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


@dataclass(frozen=True)
class Props:
    """A resource's properties with secrets unwrapped; ``secret`` names the keys that were secret."""

    values: dict[str, Any]
    secret: frozenset[str] = frozenset()

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def is_unknown(self, key: str) -> bool:
        return _contains_unknown(self.values.get(key))


def _contains_unknown(value: Any) -> bool:
    if value == UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(_contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_unknown(v) for v in value)
    return False


def _unwrap(value: Any) -> tuple[Any, bool]:
    """The value without secret markers, and whether any part of it was secret."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            inner, _ = _unwrap(value.get("value"))
            return inner, True
        secret = False
        out: dict[str, Any] = {}
        for key, item in value.items():
            out[key], was = _unwrap(item)
            secret = secret or was
        return out, secret
    if isinstance(value, list):
        items = [_unwrap(item) for item in value]
        return [item for item, _ in items], any(was for _, was in items)
    return value, False


def decode(struct: struct_pb2.Struct | None) -> Props:
    """A Struct from the engine as ``Props``."""
    raw = json_format.MessageToDict(struct) if struct is not None else {}
    values: dict[str, Any] = {}
    secret: set[str] = set()
    for key, value in raw.items():
        values[key], was = _unwrap(value)
        if was:
            secret.add(key)
    return Props(values, frozenset(secret))


def encode(values: dict[str, Any], secret: frozenset[str] = frozenset()) -> struct_pb2.Struct:
    """A Struct for the engine; the keys in ``secret`` go back marked as secrets. ``None`` values
    are left out, as a bridged provider leaves out unset attributes."""
    out = struct_pb2.Struct()
    out.update({key: ({SIG_KEY: SECRET_SIG, "value": value} if key in secret else value)
                for key, value in values.items() if value is not None})
    return out
