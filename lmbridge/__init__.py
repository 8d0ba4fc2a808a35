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
    from lmbridge.agent.events import (
        AgentEvent as AgentEvent,
    )
    from lmbridge.agent.result import (
        AgentResult as AgentResult,
    )
    from lmbridge.agent.result import (
        StopReason as StopReason,
    )
    from lmbridge.agent.result import (
        ToolCallRecord as ToolCallRecord,
    )
    from lmbridge.agent.run import (
        AgentRun as AgentRun,
    )
    from lmbridge.agent.tools.base import (
        ToolDef as ToolDef,
    )
    from lmbridge.agent.tools.base import (
        ToolOutcome as ToolOutcome,
    )
    from lmbridge.agent.tools.base import (
        Toolset as Toolset,
    )
    from lmbridge.agent.tools.errors import (
        ToolError as ToolError,
    )
    from lmbridge.agent.tools.functions import (
        FunctionToolset as FunctionToolset,
    )
    from lmbridge.agent.tools.functions import (
        function_tool as function_tool,
    )
    from lmbridge.agent.tools.mcp import (
        MCPToolset as MCPToolset,
    )
    from lmbridge.agent.tools.registry import (
        ToolRegistry as ToolRegistry,
    )
    from lmbridge.agent.tools.wrappers import (
        ApprovalToolset as ApprovalToolset,
    )
    from lmbridge.agent.tools.wrappers import (
        FilteredToolset as FilteredToolset,
    )
    from lmbridge.agent.tools.wrappers import (
        PrefixedToolset as PrefixedToolset,
    )
    from lmbridge.bridge import (
        Bridge as Bridge,
    )
    from lmbridge.errors import (
        AgentRunCancelledError as AgentRunCancelledError,
    )
    from lmbridge.errors import (
        APIConnectionError as APIConnectionError,
    )
    from lmbridge.errors import (
        APIStatusError as APIStatusError,
    )
    from lmbridge.errors import (
        APITimeoutError as APITimeoutError,
    )
    from lmbridge.errors import (
        AuthenticationError as AuthenticationError,
    )
    from lmbridge.errors import (
        BadRequestError as BadRequestError,
    )
    from lmbridge.errors import (
        ConflictError as ConflictError,
    )
    from lmbridge.errors import (
        ConnectTimeoutError as ConnectTimeoutError,
    )
    from lmbridge.errors import (
        ContextLengthExceededError as ContextLengthExceededError,
    )
    from lmbridge.errors import (
        InsufficientMemoryError as InsufficientMemoryError,
    )
    from lmbridge.errors import (
        InvalidResponseError as InvalidResponseError,
    )
    from lmbridge.errors import (
        LMBridgeError as LMBridgeError,
    )
    from lmbridge.errors import (
        LmsArgumentError as LmsArgumentError,
    )
    from lmbridge.errors import (
        LmsError as LmsError,
    )
    from lmbridge.errors import (
        LmsNotFoundError as LmsNotFoundError,
    )
    from lmbridge.errors import (
        LmsTimeoutError as LmsTimeoutError,
    )
    from lmbridge.errors import (
        LmsUnreachableError as LmsUnreachableError,
    )
    from lmbridge.errors import (
        MCPConfigError as MCPConfigError,
    )
    from lmbridge.errors import (
        MCPError as MCPError,
    )
    from lmbridge.errors import (
        MCPServerStartError as MCPServerStartError,
    )
    from lmbridge.errors import (
        ModelError as ModelError,
    )
    from lmbridge.errors import (
        ModelMismatchWarning as ModelMismatchWarning,
    )
    from lmbridge.errors import (
        ModelNotFoundError as ModelNotFoundError,
    )
    from lmbridge.errors import (
        ModelNotLoadedError as ModelNotLoadedError,
    )
    from lmbridge.errors import (
        NotFoundError as NotFoundError,
    )
    from lmbridge.errors import (
        RateLimitError as RateLimitError,
    )
    from lmbridge.errors import (
        ReadTimeoutError as ReadTimeoutError,
    )
    from lmbridge.errors import (
        ServerError as ServerError,
    )
    from lmbridge.errors import (
        StreamError as StreamError,
    )
    from lmbridge.errors import (
        StructuredOutputError as StructuredOutputError,
    )
    from lmbridge.errors import (
        ToolListingError as ToolListingError,
    )
    from lmbridge.errors import (
        UnprocessableEntityError as UnprocessableEntityError,
    )
    from lmbridge.errors import (
        WrongModelTypeError as WrongModelTypeError,
    )
    from lmbridge.lifecycle.lms import (
        LmsCli as LmsCli,
    )
    from lmbridge.lifecycle.models import (
        ModelManager as ModelManager,
    )
    from lmbridge.lifecycle.types import (
        LoadedInstance as LoadedInstance,
    )
    from lmbridge.lifecycle.types import (
        ModelInfo as ModelInfo,
    )
    from lmbridge.mcp_config import (
        open_mcp_sessions as open_mcp_sessions,
    )
    from lmbridge.messages import (
        Message as Message,
    )
    from lmbridge.results import (
        ChatResult as ChatResult,
    )
    from lmbridge.results import (
        CompletionResult as CompletionResult,
    )
    from lmbridge.results import (
        EmbeddingResult as EmbeddingResult,
    )
    from lmbridge.results import (
        ReasoningDelta as ReasoningDelta,
    )
    from lmbridge.results import (
        ResponseResult as ResponseResult,
    )
    from lmbridge.results import (
        StreamEvent as StreamEvent,
    )
    from lmbridge.results import (
        TextDelta as TextDelta,
    )
    from lmbridge.results import (
        ToolCall as ToolCall,
    )
    from lmbridge.results import (
        ToolCallDelta as ToolCallDelta,
    )
    from lmbridge.results import (
        ToolCallReady as ToolCallReady,
    )
    from lmbridge.results import (
        Usage as Usage,
    )
    from lmbridge.results import (
        UsageReport as UsageReport,
    )
    from lmbridge.streams import (
        ChatStream as ChatStream,
    )
    from lmbridge.transport.client import (
        HTTPTransport as HTTPTransport,
    )
    from lmbridge.transport.retry import (
        RetryPolicy as RetryPolicy,
    )
    from lmbridge.transport.sse import (
        ServerSentEvent as ServerSentEvent,
    )
    from lmbridge.transport.sse import (
        SSEDecoder as SSEDecoder,
    )
    from lmbridge.transport.sse import (
        SSEEventTooLargeError as SSEEventTooLargeError,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lmbridge' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
