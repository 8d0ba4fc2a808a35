"""What the tools return: lmbridge's results as small pydantic models.

Each tool's return type is one of these, so the SDK publishes an output schema and sends the
result both as structured content and as JSON text (hosts that read only text still get it all).
Raw wire objects and whole transcripts are left out: a host's model reads these, and every token
counts.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from lmbridge.agent.result import AgentResult, ToolCallRecord
from lmbridge.chat.results import ChatResult, CompletionResult, EmbeddingResult, ResponseResult
from lmbridge.chat.wire import Usage
from lmbridge.lifecycle.types import LoadedInstance, ModelInfo

__all__ = [
    "AgentReport",
    "ChatReply",
    "EmbeddingsReply",
    "HealthReport",
    "InstanceRow",
    "LoadReply",
    "ModelRow",
    "ResponseReply",
    "TextReply",
    "ToolCallRow",
    "UnloadReply",
    "agent_report",
    "chat_reply",
    "embeddings_reply",
    "instance_row",
    "model_row",
    "response_reply",
    "text_reply",
]


class TokenUsage(BaseModel):
    """Tokens the server counted for the call."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


def _usage(usage: Usage | None) -> TokenUsage | None:
    if usage is None:
        return None
    return TokenUsage(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )


class InstanceRow(BaseModel):
    """One loaded instance: ``identifier`` is the name to pass as ``model``."""

    identifier: str
    model_key: str
    type: str | None
    status: str | None
    context_length: int | None


class ModelRow(BaseModel):
    """One downloaded model and whether it is loaded (``unknown`` when the server cannot say)."""

    key: str
    type: str | None
    state: str
    display_name: str | None
    max_context_length: int | None
    vision: bool | None
    tool_use: bool | None
    loaded_instances: list[str]


class HealthReport(BaseModel):
    """Whether the server answers, and what it runs. ``lms_usable``: the ``lms`` CLI was found
    and manages this server; ``lms_problem`` says why not when it was found but is not used."""

    reachable: bool
    base_url: str
    version: str | None
    lms_path: str | None
    lms_usable: bool
    lms_problem: str | None
    listing_source: str | None
    loaded_models: list[InstanceRow]


class LoadReply(BaseModel):
    """The loaded instance a ``load_model`` call made (or found)."""

    instance: InstanceRow


class UnloadReply(BaseModel):
    """The identifiers an ``unload_model`` call unloaded."""

    unloaded: list[str]


class ChatReply(BaseModel):
    """A chat reply: the text, the reasoning if the model gave any, and a parsed
    ``response_format`` result."""

    text: str
    reasoning: str | None
    parsed: Any = None
    finish_reason: str | None
    model: str | None
    usage: TokenUsage | None


class TextReply(BaseModel):
    """A raw text completion."""

    text: str
    finish_reason: str | None
    model: str | None
    usage: TokenUsage | None


class ResponseReply(BaseModel):
    """A Responses API answer; pass ``id`` as ``previous_response_id`` to continue."""

    id: str
    text: str
    reasoning: str | None
    model: str | None


class EmbeddingsReply(BaseModel):
    """One vector per input text, in input order."""

    embeddings: list[list[float]]
    dimensions: int
    model: str | None


class ToolCallRow(BaseModel):
    """One tool call of an autonomous run."""

    round: int
    server: str | None
    tool: str
    arguments: dict[str, Any]
    result: str | None
    error: str | None


class AgentReport(BaseModel):
    """The outcome of an autonomous run."""

    output: str
    stop_reason: str
    rounds: int
    tool_calls: list[ToolCallRow]
    model: str


def instance_row(instance: LoadedInstance) -> InstanceRow:
    return InstanceRow(
        identifier=instance.identifier,
        model_key=instance.model_key,
        type=instance.type,
        status=instance.status,
        context_length=instance.context_length,
    )


def model_row(model: ModelInfo) -> ModelRow:
    return ModelRow(
        key=model.key,
        type=model.type,
        state=model.state,
        display_name=model.display_name,
        max_context_length=model.max_context_length,
        vision=model.capabilities.vision,
        tool_use=model.capabilities.tool_use,
        loaded_instances=[instance.identifier for instance in model.instances],
    )


def chat_reply(result: ChatResult[Any]) -> ChatReply:
    return ChatReply(
        text=result.text,
        reasoning=result.reasoning,
        parsed=result.parsed,
        finish_reason=result.finish_reason,
        model=result.model or result.sent_model,
        usage=_usage(result.usage),
    )


def text_reply(result: CompletionResult) -> TextReply:
    return TextReply(
        text=result.text,
        finish_reason=result.finish_reason,
        model=result.model or result.sent_model,
        usage=_usage(result.usage),
    )


def response_reply(result: ResponseResult) -> ResponseReply:
    return ResponseReply(
        id=result.id,
        text=result.text,
        reasoning=result.reasoning,
        model=result.model or result.sent_model,
    )


def embeddings_reply(result: EmbeddingResult) -> EmbeddingsReply:
    return EmbeddingsReply(
        embeddings=result.vectors,
        dimensions=len(result.vectors[0]) if result.vectors else 0,
        model=result.model or result.sent_model,
    )


def _tool_call_row(record: ToolCallRecord) -> ToolCallRow:
    return ToolCallRow(
        round=record.round,
        server=record.source,
        tool=record.tool or record.name,
        arguments=record.arguments,
        result=record.result,
        error=record.error,
    )


def agent_report(result: AgentResult) -> AgentReport:
    return AgentReport(
        output=result.output,
        stop_reason=result.stop_reason,
        rounds=result.rounds,
        tool_calls=[_tool_call_row(record) for record in result.tool_calls],
        model=result.model,
    )
