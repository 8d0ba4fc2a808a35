"""The minimal JSON-schema instances used for default structured-output replies are valid."""

from __future__ import annotations

from typing import Any

import pytest

from lmbridge.testing.schema_instance import minimal_instance

jsonschema = pytest.importorskip("jsonschema")

SCHEMAS: list[dict[str, Any]] = [
    {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
    {"type": "array", "items": {"type": "integer", "minimum": 5}, "minItems": 2},
    {"type": "number", "exclusiveMinimum": 0, "maximum": 10},
    {"type": "integer", "maximum": -3},
    {"type": ["null", "boolean"]},
    {"enum": ["x", "y"]},
    {"const": {"k": 1}},
    {"type": "string", "format": "date-time"},
    {"type": "string", "minLength": 3, "maxLength": 5},
    {
        "anyOf": [
            {"type": "null"},
            {"type": "object", "required": ["b"], "properties": {"b": {"type": "boolean"}}},
        ]
    },
    {
        "$defs": {
            "Point": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}
        },
        "type": "object",
        "properties": {
            "p": {"$ref": "#/$defs/Point"},
            "ps": {"type": "array", "items": {"$ref": "#/$defs/Point"}},
        },
        "required": ["p", "ps"],
    },
    {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
            {"required": ["b"], "properties": {"b": {"type": "string"}}},
        ]
    },
    {"required": ["implicit"], "properties": {"implicit": {"type": "integer"}}},
]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_minimal_instance_validates(schema: dict[str, Any]) -> None:
    jsonschema.validate(minimal_instance(schema), schema)


def test_pydantic_model_schema() -> None:
    from pydantic import BaseModel

    class Item(BaseModel):
        name: str
        price: float
        tags: list[str]

    class Order(BaseModel):
        items: list[Item]
        note: str | None = None

    schema = Order.model_json_schema()
    Order.model_validate(minimal_instance(schema))
