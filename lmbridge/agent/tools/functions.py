"""Python functions (sync or async) as tools.

The JSON schema comes from the type hints through pydantic, the descriptions from the docstring
(Google ``Args:`` sections or Sphinx ``:param:`` fields). Arguments are validated by pydantic before
the call; sync functions run in a worker thread so they never block the event loop.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import pydantic
import pydantic_core

from lmbridge.agent.tools.base import BaseToolset, ToolDef, ToolOutcome
from lmbridge.agent.tools.docstrings import parse_docstring
from lmbridge.agent.tools.errors import ToolArgumentsError, ToolError, UnknownToolError

__all__ = ["FunctionTool", "FunctionToolset", "function_tool"]

_MAX_REPORTED_ERRORS = 5


@dataclass(frozen=True)
class FunctionTool:
    """A Python function prepared as a tool (made by :func:`function_tool`).

    Attributes:
        definition: the tool's name, description and JSON schema.
        function: the function itself.
        arguments_model: the pydantic model that validates the arguments.
    """

    definition: ToolDef
    function: Callable[..., Any]
    arguments_model: type[pydantic.BaseModel]
    _positional_only: tuple[str, ...] = ()

    async def call(self, arguments: dict[str, Any]) -> ToolOutcome:
        """Validate ``arguments``, call the function and convert what it returns.

        Raises:
            ToolArgumentsError: the arguments failed validation.
            ToolError: the function raised (the original exception is the ``__cause__``).
        """
        try:
            validated = self.arguments_model.model_validate(arguments)
        except pydantic.ValidationError as exc:
            raise ToolArgumentsError(_validation_message(self.definition.name, exc)) from exc
        values = {
            info.alias or key: getattr(validated, key)
            for key, info in type(validated).model_fields.items()
        }
        args = [values.pop(name) for name in self._positional_only]
        try:
            if _is_async(self.function):
                result = await self.function(*args, **values)
            else:
                call = functools.partial(self.function, *args, **values)
                # Abandon on cancel so a timeout returns at once; the thread finishes on its own.
                result = await anyio.to_thread.run_sync(call, abandon_on_cancel=True)
            if inspect.isawaitable(result):
                result = await result
        except ToolError:
            raise
        except Exception as exc:
            raise ToolError(f"The tool raised {type(exc).__name__}: {exc}") from exc
        return _to_outcome(result)


def _is_async(function: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
        getattr(function, "__call__", None)  # noqa: B004 - callable objects with async __call__
    )


def _validation_message(tool: str, exc: pydantic.ValidationError) -> str:
    problems = []
    for error in exc.errors()[:_MAX_REPORTED_ERRORS]:
        where = ".".join(str(part) for part in error["loc"]) or "arguments"
        problems.append(f"{where}: {error['msg']}")
    more = exc.error_count() - len(problems)
    if more > 0:
        problems.append(f"and {more} more")
    return f"Invalid arguments for tool '{tool}': " + "; ".join(problems)


def _to_outcome(result: Any) -> ToolOutcome:
    """str as-is, a ToolOutcome unchanged, anything else (models, dicts, lists, None) as JSON."""
    if isinstance(result, ToolOutcome):
        return result
    if isinstance(result, str):
        return ToolOutcome.from_text(result)
    structured = pydantic_core.to_jsonable_python(result, fallback=str)
    text = pydantic_core.to_json(structured).decode()
    return ToolOutcome(text=text, content=[{"type": "text", "text": text}], structured=structured)


def _strip_titles(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop pydantic's generated titles: they repeat the names and cost the model tokens."""
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        if isinstance(prop, dict):
            prop.pop("title", None)
    return schema


def _function_name(function: Callable[..., Any]) -> str:
    target = function.func if isinstance(function, functools.partial) else function
    return str(getattr(target, "__name__", None) or type(target).__name__)


def function_tool(
    function: Callable[..., Any], *, name: str | None = None, description: str | None = None
) -> FunctionTool:
    """Prepare a sync or async function as a tool.

    Args:
        function: the function; every parameter should have a type hint (unannotated ones accept
            any JSON value). ``*args`` and ``**kwargs`` are not supported.
        name: the tool's name; defaults to the function's name.
        description: the tool's description; defaults to the docstring's text before its sections.

    Raises:
        TypeError: the function takes ``*args`` or ``**kwargs``.
    """
    tool_name = name or _function_name(function)
    doc_description, doc_params = parse_docstring(inspect.getdoc(function))
    try:
        hints = typing.get_type_hints(function, include_extras=True)
    except (NameError, TypeError, AttributeError):
        # partials, callable objects, names that do not resolve: use the raw annotations
        hints = {}
    fields: dict[str, Any] = {}
    positional_only: list[str] = []
    for param in inspect.signature(function).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"tool {tool_name!r}: *args and **kwargs cannot become tool arguments")
        if param.kind is param.POSITIONAL_ONLY:
            positional_only.append(param.name)
        annotation = hints.get(param.name, param.annotation)
        if annotation is inspect.Parameter.empty or isinstance(annotation, str):
            annotation = Any
        default = ... if param.default is inspect.Parameter.empty else param.default
        # Only pass a description the docstring has: None would hide one given in Annotated[].
        info = (
            pydantic.Field(default, alias=param.name, description=doc_params[param.name])
            if param.name in doc_params
            else pydantic.Field(default, alias=param.name)
        )
        # Prefixed field names, the real names as aliases: parameters called "json", "schema"
        # or "model_..." would otherwise clash with BaseModel's own attributes.
        fields[f"p_{param.name}"] = (annotation, info)
    model = pydantic.create_model(
        f"{tool_name}_arguments",
        __config__=pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=True),
        **fields,
    )
    definition = ToolDef(
        name=tool_name,
        description=description if description is not None else doc_description,
        parameters=_strip_titles(model.model_json_schema()),
        source="py",
    )
    return FunctionTool(definition, function, model, tuple(positional_only))


class FunctionToolset(BaseToolset):
    """Python functions as a toolset.

    Args:
        functions: functions, or tools made with :func:`function_tool` (to set a name or
            description).
        name: the label for these tools (used to namespace colliding names); default ``"py"``.

    Raises:
        ValueError: two tools have the same name.
        TypeError: a function takes ``*args`` or ``**kwargs``.
    """

    def __init__(
        self, functions: Iterable[Callable[..., Any] | FunctionTool], *, name: str = "py"
    ) -> None:
        self._name = name
        self._tools: dict[str, FunctionTool] = {}
        for item in functions:
            tool = item if isinstance(item, FunctionTool) else function_tool(item)
            if tool.definition.name in self._tools:
                raise ValueError(f"two function tools are named {tool.definition.name!r}")
            self._tools[tool.definition.name] = tool

    @property
    def label(self) -> str:
        """The label given at construction (default ``"py"``)."""
        return self._name

    async def list_tools(self) -> Sequence[ToolDef]:
        """The functions' tool definitions, in the order given."""
        return [
            ToolDef(
                t.definition.name, t.definition.description, t.definition.parameters, self._name
            )
            for t in self._tools.values()
        ]

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        """Validate the arguments and call the function named ``name``.

        Raises:
            UnknownToolError: no function has that name.
            ToolArgumentsError: the arguments failed validation.
            ToolError: the function raised.
        """
        tool = self._tools.get(name)
        if tool is None:
            raise UnknownToolError(f"There is no tool named '{name}'.")
        return await tool.call(arguments)
