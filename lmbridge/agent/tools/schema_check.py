"""A light check of tool arguments against the tool's JSON schema.

Not a full JSON Schema validator (that would need a runtime dependency): it checks what small
models get wrong in practice - required properties, basic types, enums, unexpected properties when
``additionalProperties`` is false - and follows local ``$ref``\\ s. Anything it does not understand
passes; the tool itself has the last word.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["check_arguments"]

_MAX_PROBLEMS = 5
_MAX_DEPTH = 32


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _matches_type(expected: str, value: Any) -> bool:
    actual = _type_name(value)
    if expected == "number":
        return actual in ("integer", "number")
    if expected == "integer":
        return actual == "integer" or (actual == "number" and float(value).is_integer())
    return actual == expected


def _display(path: str) -> str:
    return f"argument '{path}'" if path else "the arguments"


class _Checker:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.problems: list[str] = []

    def resolve(self, schema: Any) -> Mapping[str, Any] | None:
        """``schema`` with a local ``$ref`` followed; ``None`` when it cannot be followed."""
        if not isinstance(schema, Mapping):
            return None
        ref = schema.get("$ref")
        if not isinstance(ref, str):
            return schema
        node: Any = self.root if ref.startswith("#/") else None
        for part in ref[2:].split("/"):
            key = part.replace("~1", "/").replace("~0", "~")
            node = node.get(key) if isinstance(node, Mapping) else None
        return node if isinstance(node, Mapping) else None

    def passes(self, schema: Any, value: Any, path: str, depth: int) -> bool:
        trial = _Checker(self.root)
        trial.check(schema, value, path, depth)
        return not trial.problems

    def check(self, schema: Any, value: Any, path: str, depth: int) -> None:
        resolved = self.resolve(schema)
        if resolved is None or depth > _MAX_DEPTH:
            return
        schema = resolved
        for key in ("anyOf", "oneOf"):
            branches = schema.get(key)
            if (
                isinstance(branches, list)
                and branches
                and not any(self.passes(b, value, path, depth + 1) for b in branches)
            ):
                kinds = {str(r.get("type", "?")) for r in map(self.resolve, branches) if r}
                self.problems.append(
                    f"{_display(path)} does not match any allowed type ({', '.join(sorted(kinds))})"
                )
                return
        all_of = schema.get("allOf")
        for sub in all_of if isinstance(all_of, list) else ():
            self.check(sub, value, path, depth + 1)
        expected = schema.get("type")
        allowed = [expected] if isinstance(expected, str) else expected
        if (
            isinstance(allowed, list)
            and allowed
            and not any(_matches_type(t, value) for t in allowed)
        ):
            wanted = " or ".join(str(t) for t in allowed)
            self.problems.append(f"{_display(path)} must be {wanted}, got {_type_name(value)}")
            return
        enum = schema.get("enum")
        if isinstance(enum, list) and value not in enum:
            choices = ", ".join(repr(v) for v in enum[:10])
            self.problems.append(f"{_display(path)} must be one of {choices}; got {value!r}")
        if "const" in schema and value != schema["const"]:
            self.problems.append(f"{_display(path)} must be {schema['const']!r}; got {value!r}")
        if isinstance(value, dict):
            self.check_object(schema, value, path, depth)
        elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
            for index, item in enumerate(value):
                self.check(schema["items"], item, f"{path}[{index}]", depth + 1)

    def check_object(
        self, schema: Mapping[str, Any], value: dict[str, Any], path: str, depth: int
    ) -> None:
        properties = schema.get("properties")
        properties = properties if isinstance(properties, Mapping) else {}
        required = schema.get("required")
        prefix = f"{path}." if path else ""
        for name in required if isinstance(required, list) else ():
            if name not in value:
                self.problems.append(f"missing required argument '{prefix}{name}'")
        for name, item in value.items():
            if name in properties:
                self.check(properties[name], item, f"{prefix}{name}", depth + 1)
            elif schema.get("additionalProperties") is False:
                known = ", ".join(properties) or "none"
                self.problems.append(f"unexpected argument '{prefix}{name}' (expected: {known})")


def check_arguments(schema: Mapping[str, Any], arguments: Any) -> list[str]:
    """Problems with ``arguments`` under ``schema``, as short sentences (empty: looks valid).

    Args:
        schema: the tool's ``parameters`` JSON schema.
        arguments: the parsed arguments (normally a dict).
    """
    checker = _Checker(schema)
    checker.check(schema, arguments, "", 0)
    return checker.problems[:_MAX_PROBLEMS]
