"""Config values written as text: read as the number or boolean a field takes, as Pulumi's getters do.

Pulumi's CLI writes some values of a stack file as text. ``pulumi config set --path
'qwen3-eas:services.chat.resource.bidPrice' 1.5`` stores the string ``"1.5"``: pulumi 3.276.0
(``sdk/go/common/resource/config/value.go``, ``coerce``) turns only ``true``, ``false`` and whole
numbers without a leading zero into YAML booleans and integers (``--type float`` stores a number).
A hand-quoted ``replicas: "3"`` is text too. Pulumi's typed getters (``Config.get_int``,
``get_float``, ``get_bool``) parse such text, and so do the spec's fields, through ``coerce``:

- a whole-number field takes text of ASCII digits with an optional sign (``"3"``, ``"032768"``);
  ``"3.5"``, ``"3.0"`` and ``"3e2"`` stay text and are refused, as ``get_int`` refuses them;
- a number field takes a decimal number with an optional exponent (``"1.5"``, ``"2"``, ``"1e3"``);
  ``"nan"``, ``"inf"``, ``"1_000"`` and ``"abc"`` stay text and are refused;
- a boolean field takes ``true``, ``True``, ``false`` and ``False`` (exactly ``get_bool``'s words);
  ``"yes"`` or ``"TRUE"`` stay text and are refused.

Anything else is left as written, so the loader refuses it with its usual message. The JSON
Schema (``components.cli.schema``) accepts the same text for number fields.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Optional, Union, get_args, get_origin

from pydantic import BaseModel

INTEGER = re.compile(r"[+-]?[0-9]+")
"""Text a whole-number field accepts."""

NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
"""Text a number field accepts (finite only: the pattern has no room for nan or inf)."""

BOOLEANS = {"true": True, "True": True, "false": False, "False": False}
"""Text a boolean field accepts: what ``pulumi.Config.get_bool`` parses."""


def as_int(text: str) -> Optional[int]:
    """``text`` as a whole number, or None when it is not one."""
    return int(text) if INTEGER.fullmatch(text) else None


def as_float(text: str) -> Optional[float]:
    """``text`` as a finite number, or None when it is not one."""
    if not NUMBER.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def as_bool(text: str) -> Optional[bool]:
    """``text`` as a boolean, or None when it is not one of get_bool's words."""
    return BOOLEANS.get(text)


def unwrap(tp: Any) -> Any:
    """``tp`` without Annotated and Optional wrappers."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin is Union:
            members = [a for a in get_args(tp) if a is not type(None)]
            if len(members) != 1:
                return tp
            tp = members[0]
        else:
            return tp


def is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _scalar(tp: Any, text: str) -> Any:
    """``text`` as the scalar type ``tp``, or ``text`` itself when it does not read as one."""
    parsed: Any = None
    if tp is bool:
        parsed = as_bool(text)
    elif tp is int:
        parsed = as_int(text)
    elif tp is float:
        parsed = as_float(text)
    return text if parsed is None else parsed


def coerce(tp: Any, value: Any) -> Any:
    """``value`` (config as written) with every text that reads as its field's number or boolean
    turned into it, walking the spec's types from ``tp`` down; nothing else changes."""
    tp = unwrap(tp)
    if isinstance(value, str):
        if get_origin(tp) is Union:
            # ``maxSurge: "1"`` (a count or a percentage): whole-number text is the count.
            members = [unwrap(m) for m in get_args(tp)]
            return as_int(value) if int in members and as_int(value) is not None else value
        return _scalar(tp, value)
    if isinstance(value, dict):
        if get_origin(tp) is Union:
            # A discriminated union (``resource``): the member its ``kind`` names.
            kind = value.get("kind")
            chosen = [m for m in get_args(tp) if is_model(m) and "kind" in m.model_fields
                      and get_args(m.model_fields["kind"].annotation) == (kind,)]
            return coerce(chosen[0], value) if chosen else value
        if is_model(tp):
            fields = {(f.alias or name): f for name, f in tp.model_fields.items()}
            return {k: coerce(fields[k].annotation, v) if k in fields else v for k, v in value.items()}
        if get_origin(tp) is dict:
            item = get_args(tp)[1]
            return {k: coerce(item, v) for k, v in value.items()}
        return value
    if isinstance(value, list) and get_origin(tp) is list:
        item = get_args(tp)[0]
        return [coerce(item, v) for v in value]
    return value
