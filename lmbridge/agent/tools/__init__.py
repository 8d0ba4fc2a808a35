"""Tools for the agent loop: MCP sessions, Python functions, wrappers, and a registry.

Every source of tools is a *toolset* (two async methods, ``list_tools`` and ``call_tool``);
:class:`ToolRegistry` merges toolsets under model-facing names and calls tools without ever
raising for a misbehaving model or tool.
"""

from lmbridge.agent.tools.base import (
    BaseToolset,
    ContentPart,
    ImagePart,
    ToolDef,
    ToolOutcome,
    Toolset,
)
from lmbridge.agent.tools.errors import (
    ToolArgumentsError,
    ToolDeniedError,
    ToolError,
    ToolErrorKind,
    ToolInputRequiredError,
    ToolTimeoutError,
    UnknownToolError,
)
from lmbridge.agent.tools.functions import FunctionTool, FunctionToolset, function_tool
from lmbridge.agent.tools.mcp import MCPSession, MCPToolset
from lmbridge.agent.tools.registry import (
    DEFAULT_MAX_RESULT_CHARS,
    RegisteredTool,
    ToolRegistry,
    ToolSource,
)
from lmbridge.agent.tools.wrappers import (
    ApprovalCallback,
    ApprovalToolset,
    FilteredToolset,
    PrefixedToolset,
)

__all__ = [
    "DEFAULT_MAX_RESULT_CHARS",
    "ApprovalCallback",
    "ApprovalToolset",
    "BaseToolset",
    "ContentPart",
    "FilteredToolset",
    "FunctionTool",
    "FunctionToolset",
    "ImagePart",
    "MCPSession",
    "MCPToolset",
    "PrefixedToolset",
    "RegisteredTool",
    "ToolArgumentsError",
    "ToolDef",
    "ToolDeniedError",
    "ToolError",
    "ToolErrorKind",
    "ToolInputRequiredError",
    "ToolOutcome",
    "ToolRegistry",
    "ToolSource",
    "ToolTimeoutError",
    "Toolset",
    "UnknownToolError",
    "function_tool",
]
