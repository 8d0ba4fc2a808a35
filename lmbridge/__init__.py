"""lmbridge: an async, typed client for LM Studio and OpenAI-compatible local LLM servers.

```python
from lmbridge import Bridge

async with Bridge() as bridge:
    result = await bridge.chat("qwen/qwen3-4b", "Say hi")
    print(result.text)
```

Without ``await`` (scripts, notebooks, threads): ``with SyncBridge() as bridge:``.

Names are imported lazily, so ``import lmbridge`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # facade
    "Bridge": "lmbridge.bridge",
    "SyncBridge": "lmbridge.sync",
    "SyncModels": "lmbridge.sync",
    "SyncStream": "lmbridge.sync",
    # messages and results
    "Message": "lmbridge.chat.requests",
    "Image": "lmbridge.chat.images",
    "ChatResult": "lmbridge.chat.results",
    "CompletionResult": "lmbridge.chat.results",
    "EmbeddingResult": "lmbridge.chat.results",
    "ResponseResult": "lmbridge.chat.results",
    "ToolCall": "lmbridge.chat.results",
    "Usage": "lmbridge.chat.results",
    "StreamEvent": "lmbridge.chat.events",
    "TextDelta": "lmbridge.chat.events",
    "ReasoningDelta": "lmbridge.chat.events",
    "ToolCallDelta": "lmbridge.chat.events",
    "ToolCallReady": "lmbridge.chat.events",
    "UsageReport": "lmbridge.chat.events",
    "PartialParsed": "lmbridge.chat.events",
    "ChatStream": "lmbridge.chat.streams",
    "CompletionStream": "lmbridge.chat.text_streams",
    "ResponseStream": "lmbridge.chat.text_streams",
    "ChatOptions": "lmbridge.chat.requests",
    "SamplingOptions": "lmbridge.chat.requests",
    "RequestOptions": "lmbridge.chat.requests",
    # observability: timings, events for hooks, the usage report
    "AgentTiming": "lmbridge.events",
    "CircuitChanged": "lmbridge.events",
    "Event": "lmbridge.events",
    "EventKind": "lmbridge.events",
    "Heal": "lmbridge.events",
    "Hook": "lmbridge.events",
    "ModelLoadFinished": "lmbridge.events",
    "ModelLoadProgress": "lmbridge.events",
    "ModelLoadStarted": "lmbridge.events",
    "ModelUnloaded": "lmbridge.events",
    "ModelUsage": "lmbridge.events",
    "RequestFinished": "lmbridge.events",
    "RequestStarted": "lmbridge.events",
    "Retry": "lmbridge.events",
    "Swap": "lmbridge.events",
    "Timing": "lmbridge.events",
    "ToolCallFinished": "lmbridge.events",
    "ToolCallStarted": "lmbridge.events",
    # context windows
    "TokenCount": "lmbridge.chat.tokens",
    "ContextUsage": "lmbridge.chat.tokens",
    "FitMode": "lmbridge.chat.window",
    "Trimmed": "lmbridge.chat.fitting",
    # transport
    "RetryPolicy": "lmbridge.transport.retry",
    "CircuitBreaker": "lmbridge.transport.breaker",
    # several servers
    "ServerStatus": "lmbridge.servers.server",
    "BridgeModels": "lmbridge.servers.models",
    "HTTPTransport": "lmbridge.transport.client",
    "SSEDecoder": "lmbridge.transport.sse",
    "ServerSentEvent": "lmbridge.transport.sse",
    "SSEEventTooLargeError": "lmbridge.transport.sse",
    # model lifecycle
    "ModelManager": "lmbridge.lifecycle.models",
    "ModelInfo": "lmbridge.lifecycle.types",
    "LoadedInstance": "lmbridge.lifecycle.types",
    "LmsCli": "lmbridge.lifecycle.lms",
    "ModelList": "lmbridge.lifecycle.types",
    "InstanceList": "lmbridge.lifecycle.types",
    "progress_display": "lmbridge.display.progress",
    "ProgressDisplay": "lmbridge.display.progress",
    # agents
    "AgentResult": "lmbridge.agent.result",
    "AgentSettings": "lmbridge.agent.options",
    "AgentRun": "lmbridge.agent.run",
    "AgentEvent": "lmbridge.agent.events",
    "ContextTrimmed": "lmbridge.agent.events",
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
    "BridgeClosedError": "lmbridge.errors",
    "CircuitOpenError": "lmbridge.errors",
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
    "ResponseTooLargeError": "lmbridge.errors",
    "StructuredOutputError": "lmbridge.errors",
    "StructuredOutputIgnoredError": "lmbridge.errors",
    "StructuredAttempt": "lmbridge.errors",
    "ImageError": "lmbridge.errors",
    "StreamError": "lmbridge.errors",
    "LmsError": "lmbridge.errors",
    "LmsNotFoundError": "lmbridge.errors",
    "LmsUnreachableError": "lmbridge.errors",
    "LmsTimeoutError": "lmbridge.errors",
    "InsufficientMemoryError": "lmbridge.errors",
    "DownloadError": "lmbridge.errors",
    "UnsupportedEndpointError": "lmbridge.errors",
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
        ContextTrimmed as ContextTrimmed,
    )
    from lmbridge.agent.options import (
        AgentSettings as AgentSettings,
    )
    from lmbridge.agent.result import (
        AgentResult as AgentResult,
        StopReason as StopReason,
        ToolCallRecord as ToolCallRecord,
    )
    from lmbridge.agent.run import (
        AgentRun as AgentRun,
    )
    from lmbridge.agent.tools.base import (
        ToolDef as ToolDef,
        ToolOutcome as ToolOutcome,
        Toolset as Toolset,
    )
    from lmbridge.agent.tools.errors import (
        ToolError as ToolError,
    )
    from lmbridge.agent.tools.functions import (
        FunctionToolset as FunctionToolset,
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
        FilteredToolset as FilteredToolset,
        PrefixedToolset as PrefixedToolset,
    )
    from lmbridge.bridge import (
        Bridge as Bridge,
    )
    from lmbridge.chat.events import (
        PartialParsed as PartialParsed,
        ReasoningDelta as ReasoningDelta,
        StreamEvent as StreamEvent,
        TextDelta as TextDelta,
        ToolCallDelta as ToolCallDelta,
        ToolCallReady as ToolCallReady,
        UsageReport as UsageReport,
    )
    from lmbridge.chat.fitting import (
        Trimmed as Trimmed,
    )
    from lmbridge.chat.images import (
        Image as Image,
    )
    from lmbridge.chat.requests import (
        ChatOptions as ChatOptions,
        Message as Message,
        RequestOptions as RequestOptions,
        SamplingOptions as SamplingOptions,
    )
    from lmbridge.chat.results import (
        ChatResult as ChatResult,
        CompletionResult as CompletionResult,
        EmbeddingResult as EmbeddingResult,
        ResponseResult as ResponseResult,
        ToolCall as ToolCall,
        Usage as Usage,
    )
    from lmbridge.chat.streams import (
        ChatStream as ChatStream,
    )
    from lmbridge.chat.text_streams import (
        CompletionStream as CompletionStream,
        ResponseStream as ResponseStream,
    )
    from lmbridge.chat.tokens import (
        ContextUsage as ContextUsage,
        TokenCount as TokenCount,
    )
    from lmbridge.chat.window import (
        FitMode as FitMode,
    )
    from lmbridge.display.progress import (
        ProgressDisplay as ProgressDisplay,
        progress_display as progress_display,
    )
    from lmbridge.errors import (
        AgentRunCancelledError as AgentRunCancelledError,
        APIConnectionError as APIConnectionError,
        APIStatusError as APIStatusError,
        APITimeoutError as APITimeoutError,
        AuthenticationError as AuthenticationError,
        BadRequestError as BadRequestError,
        BridgeClosedError as BridgeClosedError,
        CircuitOpenError as CircuitOpenError,
        ConflictError as ConflictError,
        ConnectTimeoutError as ConnectTimeoutError,
        ContextLengthExceededError as ContextLengthExceededError,
        DownloadError as DownloadError,
        ImageError as ImageError,
        InsufficientMemoryError as InsufficientMemoryError,
        InvalidResponseError as InvalidResponseError,
        LMBridgeError as LMBridgeError,
        LmsArgumentError as LmsArgumentError,
        LmsError as LmsError,
        LmsNotFoundError as LmsNotFoundError,
        LmsTimeoutError as LmsTimeoutError,
        LmsUnreachableError as LmsUnreachableError,
        MCPConfigError as MCPConfigError,
        MCPError as MCPError,
        MCPServerStartError as MCPServerStartError,
        ModelError as ModelError,
        ModelMismatchWarning as ModelMismatchWarning,
        ModelNotFoundError as ModelNotFoundError,
        ModelNotLoadedError as ModelNotLoadedError,
        NotFoundError as NotFoundError,
        RateLimitError as RateLimitError,
        ReadTimeoutError as ReadTimeoutError,
        ResponseTooLargeError as ResponseTooLargeError,
        ServerError as ServerError,
        StreamError as StreamError,
        StructuredAttempt as StructuredAttempt,
        StructuredOutputError as StructuredOutputError,
        StructuredOutputIgnoredError as StructuredOutputIgnoredError,
        ToolListingError as ToolListingError,
        UnprocessableEntityError as UnprocessableEntityError,
        UnsupportedEndpointError as UnsupportedEndpointError,
        WrongModelTypeError as WrongModelTypeError,
    )
    from lmbridge.events import (
        AgentTiming as AgentTiming,
        CircuitChanged as CircuitChanged,
        Event as Event,
        EventKind as EventKind,
        Heal as Heal,
        Hook as Hook,
        ModelLoadFinished as ModelLoadFinished,
        ModelLoadProgress as ModelLoadProgress,
        ModelLoadStarted as ModelLoadStarted,
        ModelUnloaded as ModelUnloaded,
        ModelUsage as ModelUsage,
        RequestFinished as RequestFinished,
        RequestStarted as RequestStarted,
        Retry as Retry,
        Swap as Swap,
        Timing as Timing,
        ToolCallFinished as ToolCallFinished,
        ToolCallStarted as ToolCallStarted,
    )
    from lmbridge.lifecycle.lms import (
        LmsCli as LmsCli,
    )
    from lmbridge.lifecycle.models import (
        ModelManager as ModelManager,
    )
    from lmbridge.lifecycle.types import (
        InstanceList as InstanceList,
        LoadedInstance as LoadedInstance,
        ModelInfo as ModelInfo,
        ModelList as ModelList,
    )
    from lmbridge.mcp_config import (
        open_mcp_sessions as open_mcp_sessions,
    )
    from lmbridge.servers.models import (
        BridgeModels as BridgeModels,
    )
    from lmbridge.servers.server import (
        ServerStatus as ServerStatus,
    )
    from lmbridge.sync import (
        SyncBridge as SyncBridge,
        SyncModels as SyncModels,
        SyncStream as SyncStream,
    )
    from lmbridge.transport.breaker import (
        CircuitBreaker as CircuitBreaker,
    )
    from lmbridge.transport.client import (
        HTTPTransport as HTTPTransport,
    )
    from lmbridge.transport.retry import (
        RetryPolicy as RetryPolicy,
    )
    from lmbridge.transport.sse import (
        ServerSentEvent as ServerSentEvent,
        SSEDecoder as SSEDecoder,
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
