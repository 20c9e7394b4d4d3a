"""`envdoctor schema`: JSON Schema of the check-module format, built from the same `Option`
objects the loader validates with, so editor completion and validation never drift apart."""

from __future__ import annotations

from typing import Any

from envdoctor.kinds import all_kinds
from envdoctor.options import COMMON_OPTIONS, SETTINGS_OPTIONS

SCHEMA_ID = "https://envdoctor.invalid/schema/check-module-1.json"


def _object(options: list[Any], extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {**{o.name: o.schema() for o in options}, **extra},
        "required": [o.name for o in options if o.required],
        "additionalProperties": False,
    }


def check_schemas() -> list[dict[str, Any]]:
    out = []
    for kind in all_kinds():
        common = [o for o in COMMON_OPTIONS if o.name != "kind"]
        schema = _object(
            [*common, *kind.options], {"kind": {"const": kind.name, "description": kind.summary}}
        )
        schema["required"] = ["id", "kind", *[o.name for o in kind.options if o.required]]
        schema["title"] = f"{kind.name} check"
        schema["description"] = f"{kind.summary} Passes when {kind.passes_when}."
        out.append(schema)
    return out


def build_schema() -> dict[str, Any]:
    checks = check_schemas()
    check_item = {"oneOf": checks}
    settings = _object(
        list(SETTINGS_OPTIONS), {"check": {"type": "array", "items": {"$ref": "#/$defs/check"}}}
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "envdoctor check module",
        "description": "A checks/*.toml module (top-level [[check]] tables). The same check tables may "
        "live under [[tool.envdoctor.check]] in pyproject.toml; see $defs.settings for [tool.envdoctor].",
        "type": "object",
        "properties": {"check": {"type": "array", "items": {"$ref": "#/$defs/check"}}},
        "additionalProperties": False,
        "$defs": {"check": check_item, "settings": settings},
    }
