"""lmbridge: an async, typed client for LM Studio and OpenAI-compatible local LLM servers.

```python
from lmbridge import Bridge

async with Bridge() as bridge:
    result = await bridge.chat("qwen/qwen3-4b", "Say hi")
    print(result.text)
```

Names are imported lazily, so ``import lmbridge`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # facade
    "Bridge": "lmbridge.bridge",
    # messages and results
    "Message": "lmbridge.messages",
    "ChatResult": "lmbridge.results",
    "CompletionResult": "lmbridge.results",
    "EmbeddingResult": "lmbridge.results",
    "ResponseResult": "lmbridge.results",
    "ToolCall": "lmbridge.results",
    "Usage": "lmbridge.results",
    "StreamEvent": "lmbridge.results",
    "TextDelta": "lmbridge.results",
    "ReasoningDelta": "lmbridge.results",
    "ToolCallDelta": "lmbridge.results",
    "ToolCallReady": "lmbridge.results",
    "UsageReport": "lmbridge.results",
    "ChatStream": "lmbridge.streams",
    # transport
    "RetryPolicy": "lmbridge.transport.retry",
    "HTTPTransport": "lmbridge.transport.client",
    "SSEDecoder": "lmbridge.transport.sse",
    "ServerSentEvent": "lmbridge.transport.sse",
    "SSEEventTooLargeError": "lmbridge.transport.sse",
    # model lifecycle
    "ModelManager": "lmbridge.lifecycle.models",
    "ModelInfo": "lmbridge.lifecycle.types",
    "LoadedInstance": "lmbridge.lifecycle.types",
    "LmsCli": "lmbridge.lifecycle.lms",
    # agents
    "AgentResult": "lmbridge.agent.result",
    "AgentRun": "lmbridge.agent.run",
    "AgentEvent": "lmbridge.agent.events",
    "ToolCallRecord": "lmbridge.agent.result",
    "StopReason": "lmbridge.agent.result",
    "Toolset": "lmbridge.agent.tools.base",
    "ToolDef": "lmbridge.agent.tools.base",
    "ToolOutcome": "lmbridge.agent.tools.base",
    "ToolError": "lmbridge.agent.tools.errors",
    "MCPToolset": "lmbridge.agent.tools.mcp",
    "FunctionToolset": "lmbridge.agent.tools.functions",
    "function_tool": "lmbridge.agent.tools.functions",
    "FilteredToolset": "lmbridge.agent.tools.wrappers",
    "PrefixedToolset": "lmbridge.agent.tools.wrappers",
    "ApprovalToolset": "lmbridge.agent.tools.wrappers",
    "ToolRegistry": "lmbridge.agent.tools.registry",
    "open_mcp_sessions": "lmbridge.mcp_config",
    # errors
    "LMBridgeError": "lmbridge.errors",
    "APIConnectionError": "lmbridge.errors",
    "APITimeoutError": "lmbridge.errors",
    "ConnectTimeoutError": "lmbridge.errors",
    "ReadTimeoutError": "lmbridge.errors",
    "APIStatusError": "lmbridge.errors",
    "BadRequestError": "lmbridge.errors",
    "ContextLengthExceededError": "lmbridge.errors",
    "AuthenticationError": "lmbridge.errors",
    "NotFoundError": "lmbridge.errors",
    "ConflictError": "lmbridge.errors",
    "UnprocessableEntityError": "lmbridge.errors",
    "RateLimitError": "lmbridge.errors",
    "ServerError": "lmbridge.errors",
    "ModelError": "lmbridge.errors",
    "ModelNotFoundError": "lmbridge.errors",
    "ModelNotLoadedError": "lmbridge.errors",
    "InvalidResponseError": "lmbridge.errors",
    "StructuredOutputError": "lmbridge.errors",
    "StreamError": "lmbridge.errors",
    "LmsError": "lmbridge.errors",
    "LmsNotFoundError": "lmbridge.errors",
    "LmsUnreachableError": "lmbridge.errors",
    "LmsTimeoutError": "lmbridge.errors",
    "InsufficientMemoryError": "lmbridge.errors",
    "ModelMismatchWarning": "lmbridge.errors",
    "WrongModelTypeError": "lmbridge.errors",
    "AgentRunCancelledError": "lmbridge.errors",
    "LmsArgumentError": "lmbridge.errors",
    "MCPError": "lmbridge.errors",
    "MCPConfigError": "lmbridge.errors",
    "MCPServerStartError": "lmbridge.errors",
    "ToolListingError": "lmbridge.errors",
}

__all__ = ["__version__", *sorted(_EXPORTS)]

if TYPE_CHECKING:
    from lmbridge.agent.events import AgentEvent
    from lmbridge.agent.result import AgentResult, StopReason, ToolCallRecord
    from lmbridge.agent.run import AgentRun
    from lmbridge.agent.tools.base import ToolDef, ToolOutcome, Toolset
    from lmbridge.agent.tools.errors import ToolError
    from lmbridge.agent.tools.functions import FunctionToolset, function_tool
    from lmbridge.agent.tools.mcp import MCPToolset
    from lmbridge.agent.tools.registry import ToolRegistry
    from lmbridge.agent.tools.wrappers import ApprovalToolset, FilteredToolset, PrefixedToolset
    from lmbridge.bridge import Bridge
    from lmbridge.errors import (
        AgentRunCancelledError,
        APIConnectionError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        ConflictError,
        ConnectTimeoutError,
        ContextLengthExceededError,
        InsufficientMemoryError,
        InvalidResponseError,
        LMBridgeError,
        LmsArgumentError,
        LmsError,
        LmsNotFoundError,
        LmsTimeoutError,
        LmsUnreachableError,
        MCPConfigError,
        MCPError,
        MCPServerStartError,
        ModelError,
        ModelMismatchWarning,
        ModelNotFoundError,
        ModelNotLoadedError,
        NotFoundError,
        RateLimitError,
        ReadTimeoutError,
        ServerError,
        StreamError,
        StructuredOutputError,
        ToolListingError,
        UnprocessableEntityError,
        WrongModelTypeError,
    )
    from lmbridge.lifecycle.lms import LmsCli
    from lmbridge.lifecycle.models import ModelManager
    from lmbridge.lifecycle.types import LoadedInstance, ModelInfo
    from lmbridge.mcp_config import open_mcp_sessions
    from lmbridge.messages import Message
    from lmbridge.results import (
        ChatResult,
        CompletionResult,
        EmbeddingResult,
        ReasoningDelta,
        ResponseResult,
        StreamEvent,
        TextDelta,
        ToolCall,
        ToolCallDelta,
        ToolCallReady,
        Usage,
        UsageReport,
    )
    from lmbridge.streams import ChatStream
    from lmbridge.transport.client import HTTPTransport
    from lmbridge.transport.retry import RetryPolicy
    from lmbridge.transport.sse import ServerSentEvent, SSEDecoder, SSEEventTooLargeError


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lmbridge' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
