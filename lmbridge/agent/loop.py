"""The agent loop: call the model, run the tools it asks for, repeat until it answers."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import anyio

from lmbridge import errors
from lmbridge.agent.context import fit_transcript
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
from lmbridge.agent.guards import LoopGuard
from lmbridge.agent.observe import observed_tool
from lmbridge.agent.options import AgentSettings, chat_options
from lmbridge.agent.recovery import recover_tool_calls
from lmbridge.agent.result import AgentResult, StopReason, ToolCallRecord
from lmbridge.agent.tools.base import ToolOutcome
from lmbridge.agent.tools.registry import ToolRegistry
from lmbridge.chat.assemble import make_tool_call
from lmbridge.chat.events import ReasoningDelta, TextDelta
from lmbridge.chat.images import attach_images, resolve_images
from lmbridge.chat.requests import MessagesArg, normalize_messages
from lmbridge.chat.results import ChatResult, ToolCall
from lmbridge.chat.wire import Usage
from lmbridge.events import AgentTiming, EventEmitter, Timing

if TYPE_CHECKING:
    from lmbridge.agent.client import AgentClient

__all__ = ["AgentLoop"]

Emit = Callable[[AgentEvent], Awaitable[None]]

# How a reply that had started can end early: an in-stream error (typed like its status would
# be) or a broken connection (StreamError). A read timeout is not among them: rerunning a
# generation the server is still slowly producing would only double the work.
_BROKEN_OFF = (errors.StreamError, errors.ModelNotLoadedError, errors.ModelNotFoundError)


class _StreamBroke(Exception):
    """A round's reply broke off after it started (carries the typed error)."""

    def __init__(self, cause: errors.LMBridgeError) -> None:
        super().__init__(cause.message)
        self.cause = cause


def _add_usage(total: Usage, more: Usage | None) -> Usage:
    if more is None:
        return total
    return Usage(
        prompt_tokens=total.prompt_tokens + more.prompt_tokens,
        completion_tokens=total.completion_tokens + more.completion_tokens,
        total_tokens=total.total_tokens + more.total_tokens,
    )


def _call_message(call: ToolCall) -> dict[str, Any]:
    """The call as the transcript carries it back to the server.

    Arguments that are not a JSON object are sent as ``{}``: chat templates parse them when
    rendering the history, and some servers reject the whole request over one broken call. The
    model still reads what it wrote, quoted in the tool's error answer, and the record keeps it.
    """
    message = call.to_message()
    if not call.ok:
        message["function"]["arguments"] = "{}"
    return message


class AgentLoop:
    """One run of the loop. Protocol decisions live here; I/O goes through the client and tools.

    Args:
        client: sends the rounds (the :class:`~lmbridge.Bridge`; see :class:`AgentClient`).
        model: the model key.
        task: one user message, or a conversation to continue.
        tools: the tool sources, as :meth:`ToolRegistry.build` takes them.
        settings: checked settings with defaults filled in (see :func:`agent_settings`).
        emit: receives every event of the run.
        events: the Bridge's emitter: tool calls, and the run's span when instrumented.
    """

    def __init__(
        self,
        client: AgentClient,
        model: str,
        task: MessagesArg,
        *,
        tools: Sequence[Any] | Mapping[str, Any],
        settings: AgentSettings,
        emit: Emit,
        events: EventEmitter | None = None,
    ) -> None:
        self._events = events or EventEmitter()
        self._timings: list[Timing] = []
        self._round_tokens: list[int | None] = []
        self._tool_time = 0.0
        self._client = client
        self._model = model
        self._sources = tools
        self._settings = settings
        self._chat_options = chat_options(settings)
        self._emit = emit
        self._messages, self._images = attach_images(normalize_messages(task), settings["images"])
        system = settings["system"]
        if system is not None:
            if self._messages[0].get("role") == "system":
                self._messages[0] = {"role": "system", "content": system}
            else:
                self._messages.insert(0, {"role": "system", "content": system})
        self._records: list[ToolCallRecord] = []
        self._usage = Usage()
        self._rounds = 0
        self._invalid = 0
        self._last: ChatResult[Any] | None = None
        self._guard = LoopGuard(settings["loop_rounds"])

    @property
    def model(self) -> str:
        """The model this loop runs."""
        return self._model

    async def run(self) -> AgentResult:
        """Run to the end and return the result (also sent as a :class:`RunFinished` event)."""
        began = time.perf_counter()
        attributes = {"gen_ai.operation.name": "invoke_agent", "gen_ai.request.model": self._model}
        with self._events.span("invoke_agent", attributes=attributes) as span:
            result = await self._run(began)
            span.set(
                {
                    "gen_ai.usage.input_tokens": result.usage.prompt_tokens,
                    "gen_ai.usage.output_tokens": result.usage.completion_tokens,
                    "lmbridge.agent.rounds": result.rounds,
                    "lmbridge.agent.stop_reason": result.stop_reason,
                }
            )
        await self._emit(RunFinished(result))
        return result

    async def _run(self, began: float) -> AgentResult:
        registry = await ToolRegistry.build(
            self._sources, max_result_chars=self._settings["max_result_chars"]
        )
        await self._client.models.prepare(self._model, kind="llm")
        if self._images:
            # Once, before the first round: every round resends the transcript as it is.
            await self._client.check_vision(self._model)
            self._messages = await resolve_images(self._messages)
        stop: StopReason | None = None
        with anyio.move_on_after(self._settings["time_limit"]) as deadline:
            stop = await self._rounds_until_done(registry)
        if deadline.cancelled_caught:
            stop = "time_limit"
        assert stop is not None
        result = AgentResult(
            output=self._last.text if self._last else "",
            reasoning=self._last.reasoning if self._last else None,
            stop_reason=stop,
            rounds=self._rounds,
            tool_calls=list(self._records),
            messages=list(self._messages),
            usage=self._usage,
            model=self._model,
            timing=AgentTiming.of(
                total=time.perf_counter() - began,
                rounds=self._timings,
                completion_tokens=self._round_tokens,
                tool_time=self._tool_time,
            ),
        )
        return result

    async def _rounds_until_done(self, registry: ToolRegistry) -> StopReason:
        while True:
            if self._rounds >= self._settings["max_rounds"]:
                return "max_rounds"
            self._rounds += 1
            reply = await self._model_call(registry)
            self._last = reply
            self._usage = _add_usage(self._usage, reply.usage)
            self._timings.append(reply.timing)
            self._round_tokens.append(reply.usage.completion_tokens if reply.usage else None)
            calls, text = self._tool_calls_of(reply, registry)
            assistant: dict[str, Any] = {"role": "assistant", "content": text}
            if calls:
                assistant["tool_calls"] = [_call_message(call) for call in calls]
            if not calls:
                self._messages.append(assistant)
                await self._emit(
                    RoundFinished(self._rounds, text, 0, reply.finish_reason, reply.usage)
                )
                return "completed"
            tools_began = time.perf_counter()
            outcomes = await self._run_tools(registry, calls, assistant)
            self._tool_time += time.perf_counter() - tools_began
            await self._emit(
                RoundFinished(self._rounds, text, len(calls), reply.finish_reason, reply.usage)
            )
            self._invalid += sum(1 for outcome in outcomes if outcome.invalid_call)
            if self._invalid > self._settings["max_invalid_calls"]:
                return "invalid_calls"
            if self._guard.looping((c.name, c.arguments, c.arguments_json) for c in calls):
                return "loop_detected"
            budget = self._settings["token_budget"]
            if budget is not None and self._usage.total_tokens >= budget:
                return "token_budget"

    def _tool_calls_of(
        self, reply: ChatResult[Any], registry: ToolRegistry
    ) -> tuple[list[ToolCall], str]:
        """The reply's tool calls, recovered from its text when the server left them there."""
        if reply.tool_calls or not reply.text or len(registry) == 0:
            return list(reply.tool_calls), reply.text
        recovered, cleaned = recover_tool_calls(reply.text, registry.names)
        if not recovered:
            return [], reply.text
        calls = []
        for found in recovered:
            call = make_tool_call(None, found.name, found.arguments)
            if found.error is not None and call.error is None:
                # The markup itself was broken (e.g. nested too deep): that is what the model
                # must hear, not "unknown tool ''".
                call = dataclasses.replace(call, error=found.error)
            calls.append(call)
        return calls, cleaned

    async def _model_call(self, registry: ToolRegistry) -> ChatResult[Any]:
        """One round's model call; a stream broken part way is rerun once.

        Failures before the reply starts (the model evicted between rounds) are healed by the
        Bridge itself, which loads the model and retries once. What is left to this loop is the
        reply cut off part way — LM Studio ends a generation with an in-stream error when it
        evicts the model — where nothing of the round was used yet.
        """
        await self._emit(RoundStarted(self._rounds))
        try:
            return await self._stream_round(registry)
        except _StreamBroke as broke:
            await self._emit(
                RoundRetried(self._rounds, f"the reply broke off: {broke.cause.message}")
            )
            # Forget what we knew about the models, so the rerun checks (and loads) it again.
            self._client.models.invalidate()
        try:
            return await self._stream_round(registry)
        except _StreamBroke as broke:
            raise broke.cause from None

    async def _stream_round(self, registry: ToolRegistry) -> ChatResult[Any]:
        tools = registry.openai_tools() or None
        tool_choice = self._settings["tool_choice"] if tools else None
        fitted = await fit_transcript(
            self._client,
            self._model,
            self._messages,
            tools=tools,
            fit=self._settings["fit"],
            max_tokens=self._settings.get("max_tokens"),
        )
        if fitted.trimmed is not None:
            await self._emit(ContextTrimmed(self._rounds, fitted.trimmed))
        async with self._client.stream(
            self._model, fitted.messages, **self._chat_options, tools=tools, tool_choice=tool_choice
        ) as stream:
            try:
                async for event in stream:
                    if isinstance(event, TextDelta):
                        await self._emit(RunTextDelta(self._rounds, event.text))
                    elif isinstance(event, ReasoningDelta):
                        await self._emit(RunReasoningDelta(self._rounds, event.text))
                return await stream.result()
            except _BROKEN_OFF as exc:
                raise _StreamBroke(exc) from exc

    async def _run_tools(
        self, registry: ToolRegistry, calls: list[ToolCall], assistant: dict[str, Any]
    ) -> list[ToolOutcome]:
        """Run the calls concurrently (bounded), answer them in call order."""
        outcomes: list[ToolOutcome | None] = [None] * len(calls)
        records: list[ToolCallRecord | None] = [None] * len(calls)
        limiter = anyio.CapacityLimiter(self._settings["max_parallel_tools"])
        round_number = self._rounds

        async def run_one(index: int, call: ToolCall) -> None:
            async with limiter:
                await self._emit(
                    ToolCallRequested(
                        round_number, call.id, call.name, call.arguments, call.arguments_json
                    )
                )
                started = time.monotonic()
                async with observed_tool(self._events, self._model, call, round_number) as seen:
                    outcome = await registry.run(call, timeout=self._settings["tool_timeout"])
                    seen.outcome = outcome
                duration = time.monotonic() - started
            outcomes[index] = outcome
            entry = registry.get(call.name)
            record = ToolCallRecord(
                round=round_number,
                id=call.id,
                name=call.name,
                tool=entry.original_name if entry else None,
                source=entry.source if entry else None,
                arguments=call.arguments,
                arguments_json=call.arguments_json,
                outcome=outcome,
                duration=duration,
                started_at=started,
            )
            records[index] = record
            await self._emit(ToolResultReady(round_number, record))

        try:
            async with anyio.create_task_group() as group:
                for index, call in enumerate(calls):
                    group.start_soon(run_one, index, call)
        finally:
            # Records in call order (not completion order), like the tool messages.
            self._records.extend(record for record in records if record is not None)
            # Keep the transcript valid even when a limit or a cancellation cut the tools short:
            # every call in the assistant message gets an answer.
            self._messages.append(assistant)
            for call, outcome in zip(calls, outcomes, strict=True):
                answer = outcome or ToolOutcome.from_error(
                    "The call was cancelled before it finished."
                )
                self._messages.append(answer.to_message(call.id))
            self._append_images(calls, outcomes)
        return [outcome for outcome in outcomes if outcome is not None]

    def _append_images(self, calls: list[ToolCall], outcomes: list[ToolOutcome | None]) -> None:
        """Show the tools' images to a vision model, as a user message after the results."""
        if not self._settings["pass_images"]:
            return
        parts: list[dict[str, Any]] = []
        for call, outcome in zip(calls, outcomes, strict=True):
            for mime, data in outcome.images if outcome else ():
                parts.append({"type": "text", "text": f"Image returned by {call.name}:"})
                parts.append(
                    {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{data}"}}
                )
        if parts:
            self._messages.append({"role": "user", "content": parts})
