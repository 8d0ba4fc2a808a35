"""The light argument check against a tool's JSON schema."""

from __future__ import annotations

from typing import Any

import pytest

from lmbridge.agent.tools.schema_check import check_arguments

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "days": {"type": "integer"},
        "ratio": {"type": "number"},
        "metric": {"type": "boolean"},
        "units": {"enum": ["c", "f"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "where": {
            "type": "object",
            "properties": {"lat": {"type": "number"}},
            "required": ["lat"],
            "additionalProperties": False,
        },
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "point": {"$ref": "#/$defs/Point"},
        "remote": {"$ref": "https://example.com/schema.json"},
        "kind": {"const": "weather"},
    },
    "required": ["city"],
    "$defs": {
        "Point": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
    },
}


@pytest.mark.parametrize(
    "arguments",
    [
        {"city": "Paris"},
        {"city": "Paris", "days": 3, "ratio": 1, "metric": True, "units": "c"},
        {"city": "Paris", "days": 3.0, "tags": ["a", "b"], "where": {"lat": 1.5}},
        {"city": "Paris", "note": None, "point": {"x": 1}, "remote": 5, "kind": "weather"},
        {"city": "Paris", "unlisted": "allowed: additionalProperties is not false here"},
    ],
)
def test_valid_arguments_pass(arguments: dict[str, Any]) -> None:
    assert check_arguments(SCHEMA, arguments) == []


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({}, "missing required argument 'city'"),
        ({"city": 1}, "argument 'city' must be string, got integer"),
        ({"city": "P", "days": 1.5}, "argument 'days' must be integer, got number"),
        ({"city": "P", "days": True}, "argument 'days' must be integer, got boolean"),
        ({"city": "P", "ratio": "1"}, "argument 'ratio' must be number, got string"),
        ({"city": "P", "units": "k"}, "argument 'units' must be one of 'c', 'f'; got 'k'"),
        ({"city": "P", "tags": ["a", 2]}, "argument 'tags[1]' must be string, got integer"),
        ({"city": "P", "where": {}}, "missing required argument 'where.lat'"),
        (
            {"city": "P", "where": {"lat": 1, "lon": 2}},
            "unexpected argument 'where.lon' (expected: lat)",
        ),
        (
            {"city": "P", "note": 3},
            "argument 'note' does not match any allowed type (null, string)",
        ),
        ({"city": "P", "point": {"x": "1"}}, "argument 'point.x' must be integer, got string"),
        ({"city": "P", "kind": "news"}, "argument 'kind' must be 'weather'; got 'news'"),
    ],
)
def test_problems_are_named(arguments: dict[str, Any], problem: str) -> None:
    assert check_arguments(SCHEMA, arguments) == [problem]


def test_non_object_arguments_and_odd_schemas() -> None:
    assert check_arguments({"type": "object"}, []) == ["the arguments must be object, got array"]
    assert check_arguments({}, {"anything": 1}) == []
    assert check_arguments({"type": ["object", "null"]}, None) == []
    cyclic: dict[str, Any] = {"$ref": "#"}
    assert check_arguments(cyclic, {}) == []


def test_at_most_five_problems() -> None:
    schema = {"type": "object", "required": [f"p{i}" for i in range(10)]}
    assert len(check_arguments(schema, {})) == 5
