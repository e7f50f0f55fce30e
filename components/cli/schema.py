"""JSON Schema of a stack file's config, so editors complete and check ``stacks/Pulumi.*.yaml``.

    qwen3-eas schema --out schema/stack-config.schema.json   (make schema)

Stack files point at it with ``# yaml-language-server: $schema=../schema/stack-config.schema.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Optional

from ..core.stack import config_text
from ..core.stack.regions import EAS_REGIONS
from ..core.stack.spec import PROJECT, StackConfig
from . import PROG, described


def stack_file_schema() -> dict[str, Any]:
    """The schema of a whole ``Pulumi.<stack>.yaml`` (our keys strict, other namespaces open)."""
    inner = _number_text(StackConfig.model_json_schema(by_alias=True, mode="validation"))
    defs = inner.pop("$defs", {})
    ours = inner["properties"]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "qwen3-eas stack file",
        "type": "object",
        "properties": {
            "config": {
                "type": "object",
                "properties": {
                    **{f"{PROJECT}:{key}": value for key, value in ours.items()},
                    "alicloud:region": {
                        "type": "string",
                        "description": "Default region of the stack's services: one where EAS runs.",
                        "enum": sorted(EAS_REGIONS),
                    },
                    "pulumi:disable-default-providers": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "Packages that may not use a default provider; [alicloud] keeps every "
                        "EAS service on the program's explicit per-region provider.",
                        "examples": [["alicloud"]],
                    },
                },
                "required": [f"{PROJECT}:services"],
                # Unknown keys of our namespace are errors; other namespaces (alicloud:*) are free.
                "patternProperties": {f"^{PROJECT}:(?!({'|'.join(sorted(ours))})$)": False},
            },
            "encryptionsalt": {"type": "string"},
            "secretsprovider": {"type": "string"},
            "encryptedkey": {"type": "string"},
        },
        "required": ["config"],
        "$defs": defs,
    }


_TEXT = {"integer": config_text.INTEGER.pattern, "number": config_text.NUMBER.pattern}
"""The text the loader reads as a whole number or a number (``components.core.stack.config_text``)."""

_ANNOTATIONS = ("default", "description", "examples", "title")


def _number_text(node: Any) -> Any:
    """``node`` with every integer and number also accepting the text the loader reads as one.

    ``pulumi config set --path ... 1.5`` writes ``"1.5"``, which the loader accepts: an editor that
    reads the schema must not flag it. Booleans stay booleans only: the CLI writes them unquoted,
    and editors keep offering true and false."""
    if isinstance(node, list):
        return [_number_text(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _number_text(value) for key, value in node.items()}
    if node.get("type") in _TEXT:
        kept = {key: node.pop(key) for key in _ANNOTATIONS if key in node}
        text = {"type": "string", "pattern": f"^(?:{_TEXT[node['type']]})$"}
        return {**kept, "anyOf": [node, text]}
    return node


def render() -> str:
    return json.dumps(stack_file_schema(), indent=2, sort_keys=True) + "\n"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog=f"{PROG} schema", description=described(__doc__.splitlines()[0]))
    parser.add_argument("--out", type=Path, required=True,
                        help="where to write the JSON Schema (make schema: schema/stack-config.schema.json)")
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
