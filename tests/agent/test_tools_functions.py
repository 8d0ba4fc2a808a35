"""Python functions as tools: schemas from hints and docstrings, validation, sync and async calls."""

from __future__ import annotations

import threading
import warnings
from enum import Enum
from typing import Annotated, Literal

import pydantic
import pytest

from lmbridge.agent.tools import (
    FunctionToolset,
    ToolArgumentsError,
    ToolError,
    ToolOutcome,
    UnknownToolError,
    function_tool,
)
from lmbridge.agent.tools.docstrings import parse_docstring


def get_weather(city: str, days: int = 1, units: Literal["metric", "imperial"] = "metric") -> str:
    """Get the weather forecast for a city.

    Uses a made-up service.

    Args:
        city: The city name,
            e.g. "Paris".
        days (int): How many days to forecast.
        units: Unit system.

    Returns:
        The forecast as text.
    """
    return f"{city}: sunny for {days} day(s) ({units})"


async def add(a: float, b: float) -> dict[str, float]:
    """Add two numbers.

    :param a: the first number
    :param b: the second number
    """
    return {"sum": a + b}


class Point(pydantic.BaseModel):
    x: int
    y: int


class Color(Enum):
    RED = "red"
    BLUE = "blue"


def place(point: Point, color: Color = Color.RED, /) -> Point:
    """Place a point."""
    return Point(x=point.x + 1, y=point.y)


async def test_schema_from_hints_and_google_docstring() -> None:
    tool = function_tool(get_weather)
    definition = tool.definition
    assert definition.name == "get_weather"
    assert (
        definition.description == "Get the weather forecast for a city.\n\nUses a made-up service."
    )
    assert definition.source == "py"
    params = definition.parameters
    assert params["type"] == "object"
    assert params["required"] == ["city"]
    assert params["additionalProperties"] is False
    assert params["properties"]["city"] == {
        "type": "string",
        "description": 'The city name, e.g. "Paris".',
    }
    assert params["properties"]["days"] == {
        "type": "integer", "default": 1, "description": "How many days to forecast."
    }  # fmt: skip
    assert params["properties"]["units"]["enum"] == ["metric", "imperial"]
    assert "title" not in params
    assert "title" not in params["properties"]["city"]


async def test_sphinx_docstring_and_overrides() -> None:
    tool = function_tool(add, name="plus", description="Adds.")
    assert tool.definition.name == "plus"
    assert tool.definition.description == "Adds."
    assert tool.definition.parameters["properties"]["a"]["description"] == "the first number"
    assert function_tool(add).definition.description == "Add two numbers."


async def test_sync_function_runs_in_a_worker_thread() -> None:
    seen: list[int] = []

    def where() -> str:
        seen.append(threading.get_ident())
        return "done"

    outcome = await FunctionToolset([where]).call_tool("where", {})
    assert outcome.text == "done"
    assert seen != [threading.get_ident()]


async def test_async_function_result_becomes_json() -> None:
    outcome = await FunctionToolset([add]).call_tool("add", {"a": 1, "b": 2.5})
    assert outcome.text == '{"sum":3.5}'
    assert outcome.structured == {"sum": 3.5}
    assert not outcome.is_error


async def test_arguments_are_validated_and_converted() -> None:
    toolset = FunctionToolset([get_weather, place])
    assert (await toolset.call_tool("get_weather", {"city": "Oslo", "days": "3"})).text == (
        "Oslo: sunny for 3 day(s) (metric)"
    )
    outcome = await toolset.call_tool("place", {"point": {"x": 1, "y": 2}, "color": "blue"})
    assert outcome.structured == {"x": 2, "y": 2}


async def test_validation_errors_list_the_bad_fields() -> None:
    toolset = FunctionToolset([get_weather])
    with pytest.raises(ToolArgumentsError) as caught:
        await toolset.call_tool("get_weather", {"days": "many", "units": "kelvin", "extra": 1})
    message = caught.value.message
    assert message.startswith("Invalid arguments for tool 'get_weather': ")
    assert "city: Field required" in message
    assert "days: Input should be a valid integer" in message
    assert "units: Input should be 'metric' or 'imperial'" in message
    assert "extra: Extra inputs are not permitted" in message


async def test_raising_function_becomes_tool_error_with_cause() -> None:
    def divide(a: int, b: int) -> float:
        return a / b

    with pytest.raises(
        ToolError, match=r"^The tool raised ZeroDivisionError: division by zero$"
    ) as caught:
        await FunctionToolset([divide]).call_tool("divide", {"a": 1, "b": 0})
    assert isinstance(caught.value.__cause__, ZeroDivisionError)


async def test_tool_errors_pass_through_unchanged() -> None:
    def picky(x: int) -> int:
        raise ToolArgumentsError("x must be even")

    with pytest.raises(ToolArgumentsError, match=r"^x must be even$"):
        await FunctionToolset([picky]).call_tool("picky", {"x": 1})


async def test_return_values_convert_to_text() -> None:
    def nothing() -> None:
        return None

    def listing() -> list[Point]:
        return [Point(x=1, y=2)]

    def custom() -> ToolOutcome:
        return ToolOutcome(text="img", images=[("image/png", "AAAA")])

    toolset = FunctionToolset([nothing, listing, custom])
    assert (await toolset.call_tool("nothing", {})).text == "null"
    assert (await toolset.call_tool("listing", {})).text == '[{"x":1,"y":2}]'
    assert (await toolset.call_tool("custom", {})).images == [("image/png", "AAAA")]


async def test_annotated_descriptions_and_unannotated_parameters() -> None:
    def tagged(  # type: ignore[no-untyped-def]  # `anything` is unannotated on purpose
        name: Annotated[str, pydantic.Field(description="who")],
        anything,
    ) -> str:
        return f"{name}:{anything!r}"

    tool = function_tool(tagged)
    props = tool.definition.parameters["properties"]
    assert props["name"]["description"] == "who"
    assert props["anything"] == {}
    assert (await tool.call({"name": "n", "anything": [1]})).text == "n:[1]"


async def test_unknown_name_duplicate_names_and_varargs() -> None:
    with pytest.raises(UnknownToolError):
        await FunctionToolset([add]).call_tool("sub", {})
    with pytest.raises(ValueError, match="two function tools are named 'add'"):
        FunctionToolset([add, function_tool(get_weather, name="add")])

    def spread(*args: int) -> int:
        return sum(args)

    with pytest.raises(TypeError, match=r"\*args and \*\*kwargs"):
        function_tool(spread)


async def test_toolset_label_and_listing_order() -> None:
    toolset = FunctionToolset([get_weather, add], name="local")
    assert toolset.label == "local"
    tools = await toolset.list_tools()
    assert [t.name for t in tools] == ["get_weather", "add"]
    assert {t.source for t in tools} == {"local"}


def test_docstring_parser_handles_sections_and_continuations() -> None:
    doc = (
        "Summary.\n\nMore text.\n\nArgs:\n    a: first\n        continued\n    b (int): second\n\n"
        "Raises:\n    ValueError: never\n"
    )
    assert parse_docstring(doc) == (
        "Summary.\n\nMore text.",
        {"a": "first continued", "b": "second"},
    )
    assert parse_docstring(None) == ("", {})
    assert parse_docstring(":param x: the x\n    more\n:returns: y") == ("", {"x": "the x more"})


async def test_parameter_names_that_clash_with_pydantic_work_without_warnings() -> None:
    def search(query: str, json: bool = False, schema: str = "s", model_name: str = "m") -> str:
        return f"{query} {json} {schema} {model_name}"

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tool = function_tool(search)
    assert list(tool.definition.parameters["properties"]) == [
        "query",
        "json",
        "schema",
        "model_name",
    ]
    outcome = await tool.call({"query": "q", "json": True, "model_name": "x"})
    assert outcome.text == "q True s x"
    with pytest.raises(ToolArgumentsError, match="json: Input should be a valid boolean"):
        await tool.call({"query": "q", "json": "maybe"})
