"""A minimal valid instance of a JSON Schema, for default structured-output replies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["minimal_instance"]

_MAX_DEPTH = 32
_STRING_FORMATS = {
    "date-time": "1970-01-01T00:00:00Z",
    "date": "1970-01-01",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com",
    "uuid": "00000000-0000-0000-0000-000000000000",
}


def minimal_instance(schema: Mapping[str, Any]) -> Any:
    """Build a small value that validates against ``schema``.

    Handles the common subset: ``$ref`` into ``$defs``/``definitions``, ``const``, ``enum``, ``anyOf``/
    ``oneOf``/``allOf`` (first branch / merged objects), objects (required properties only), arrays
    (``minItems`` copies), strings (``minLength``, common formats), numbers and integers (``minimum``),
    booleans and null. Not a general solver: patterns and exotic keywords are ignored.
    """
    return _instance(schema, schema, 0)


def _resolve(ref: str, root: Mapping[str, Any]) -> Mapping[str, Any]:
    if not ref.startswith("#/"):
        return {}
    node: Any = root
    for part in ref[2:].split("/"):
        if not isinstance(node, Mapping):
            return {}
        node = node.get(part.replace("~1", "/").replace("~0", "~"), {})
    return node if isinstance(node, Mapping) else {}


def _instance(schema: Mapping[str, Any], root: Mapping[str, Any], depth: int) -> Any:
    if depth > _MAX_DEPTH:
        return None
    if "$ref" in schema:
        return _instance(_resolve(str(schema["$ref"]), root), root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if branches:
            non_null = [b for b in branches if b.get("type") != "null"]
            return _instance((non_null or branches)[0], root, depth + 1)
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            value = _instance(part, root, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if kinds else "null"
    if kind is None:
        if "properties" in schema or "required" in schema:
            kind = "object"
        elif "items" in schema:
            kind = "array"
    return _by_type(kind, schema, root, depth)


def _by_type(kind: Any, schema: Mapping[str, Any], root: Mapping[str, Any], depth: int) -> Any:
    if kind == "object":
        properties = schema.get("properties", {})
        return {
            name: _instance(properties.get(name, {}), root, depth + 1)
            for name in schema.get("required", [])
        }
    if kind == "array":
        items = schema.get("items", {})
        count = int(schema.get("minItems", 0))
        return [_instance(items, root, depth + 1) for _ in range(count)]
    if kind == "string":
        fmt = schema.get("format")
        if isinstance(fmt, str) and fmt in _STRING_FORMATS:
            return _STRING_FORMATS[fmt]
        return "x" * int(schema.get("minLength", 0))
    if kind in ("integer", "number"):
        return _number(schema, integer=kind == "integer")
    if kind == "boolean":
        return False
    return None


def _number(schema: Mapping[str, Any], *, integer: bool) -> int | float:
    value: float = schema.get("minimum", 0)
    low = schema.get("exclusiveMinimum")
    if isinstance(low, (int, float)) and not isinstance(low, bool) and value <= low:
        value = low + 1
    if "maximum" in schema and value > schema["maximum"]:
        value = schema["maximum"]
    high = schema.get("exclusiveMaximum")
    if isinstance(high, (int, float)) and not isinstance(high, bool) and value >= high:
        value = high - 1
    return int(value) if integer else value
