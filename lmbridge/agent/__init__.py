"""Agent loop over MCP sessions and Python functions.

Run one with :meth:`Bridge.run_agent <lmbridge.Bridge.run_agent>` or watch it with
:meth:`Bridge.stream_agent <lmbridge.Bridge.stream_agent>`; tools come from
:mod:`lmbridge.agent.tools`.
"""

from lmbridge.agent.client import AgentClient
from lmbridge.agent.events import (
    AgentEvent,
    ContextTrimmed,
    RoundFinished,
    RoundRetried,
    RoundStarted,
    RunFinished,
    RunReasoningDelta,
    RunTextDelta,
    ToolCallRequested,
    ToolResultReady,
)
from lmbridge.agent.options import AgentSettings
from lmbridge.agent.recovery import RecoveredCall, recover_tool_calls
from lmbridge.agent.result import AgentResult, StopReason, ToolCallRecord
from lmbridge.agent.run import AgentRun

__all__ = [
    "AgentClient",
    "AgentEvent",
    "AgentResult",
    "AgentRun",
    "AgentSettings",
    "ContextTrimmed",
    "RecoveredCall",
    "RoundFinished",
    "RoundRetried",
    "RoundStarted",
    "RunFinished",
    "RunReasoningDelta",
    "RunTextDelta",
    "StopReason",
    "ToolCallRecord",
    "ToolCallRequested",
    "ToolResultReady",
    "recover_tool_calls",
]
