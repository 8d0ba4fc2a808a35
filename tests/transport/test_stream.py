"""stream(): event assembly from every shape of chunk sequence."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

import lmbridge
from lmbridge import Bridge, ReasoningDelta, TextDelta, ToolCallDelta, ToolCallReady, UsageReport
from tests.transport.helpers import MODEL, chunk, sse, sse_response

CHAT = "/v1/chat/completions"
USAGE = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "model": MODEL,
    "choices": [],
    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
}


def tool_piece(
    index: int, *, id: str | None = None, name: str | None = None, args: str = ""
) -> dict:  # type: ignore[type-arg]
    function: dict = {"arguments": args}  # type: ignore[type-arg]
    if name is not None:
        function["name"] = name
    piece: dict = {"index": index, "function": function}  # type: ignore[type-arg]
    if id is not None:
        piece["id"] = id
        piece["type"] = "function"
    return chunk({"tool_calls": [piece]})


async def collect(
    bridge: Bridge, server: respx.MockRouter, body: bytes
) -> tuple[list, lmbridge.ChatResult]:  # type: ignore[type-arg]
    route = server.post(CHAT).mock(return_value=sse_response(body))
    async with bridge.stream(MODEL, "hi") as stream:
        events = [event async for event in stream]
        result = await stream.result()
    sent = json.loads(route.calls.last.request.content)
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    return events, result


async def test_text_stream_with_usage_chunk_with_empty_choices(
    bridge: Bridge, server: respx.MockRouter
) -> None:
    body = sse(
        chunk({"role": "assistant", "content": None}),
        chunk({"content": "Hel"}),
        chunk({"content": "lo"}),
        chunk(finish="stop"),
        USAGE,
    )
    events, result = await collect(bridge, server, body)
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo"]
    usage = [e for e in events if isinstance(e, UsageReport)]
    assert len(usage) == 1 and usage[0].usage.total_tokens == 5
    assert (
        result.text == "Hello" and result.finish_reason == "stop" and result.usage == usage[0].usage
    )
    assert result.raw is not None and result.raw.choices[0].message.content == "Hello"


async def test_stream_without_usage_is_tolerated(bridge: Bridge, server: respx.MockRouter) -> None:
    _events, result = await collect(
        bridge, server, sse(chunk({"content": "x"}), chunk(finish="stop"))
    )
    assert result.usage is None and result.text == "x"


@pytest.mark.parametrize(
    ("deltas", "reasoning", "text"),
    [
        ([{"reasoning_content": "a"}, {"reasoning_content": "b"}, {"content": "42"}], "ab", "42"),
        ([{"reasoning": "a"}, {"reasoning": "b"}, {"content": "42"}], "ab", "42"),
        (
            [
                {"content": "<th"},
                {"content": "ink>ab"},
                {"content": "c</thi"},
                {"content": "nk>\n\n4"},
                {"content": "2"},
            ],
            "abc",
            "42",
        ),
    ],
    ids=["reasoning_content", "reasoning", "inline-think-split-tags"],
)
async def test_reasoning_shapes_stream(
    bridge: Bridge,
    server: respx.MockRouter,
    deltas: list[dict[str, str]],
    reasoning: str,
    text: str,
) -> None:
    events, result = await collect(
        bridge, server, sse(*(chunk(d) for d in deltas), chunk(finish="stop"))
    )
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == reasoning
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == text
    assert (result.reasoning, result.text) == (reasoning, text)


async def test_split_tool_call_first_piece_carries_id_and_name(
    bridge: Bridge, server: respx.MockRouter
) -> None:
    body = sse(
        tool_piece(0, id="call_a", name="get_time", args="{"),
        tool_piece(0, args='"timez'),
        tool_piece(0, args='one": "UTC"'),
        tool_piece(0, args="}"),
        chunk(finish="tool_calls"),
        USAGE,
    )
    events, result = await collect(bridge, server, body)
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert deltas[0].name == "get_time" and all(d.name is None for d in deltas[1:])
    ready = [e.call for e in events if isinstance(e, ToolCallReady)]
    assert [(c.id, c.name, c.arguments) for c in ready] == [
        ("call_a", "get_time", {"timezone": "UTC"})
    ]
    assert result.tool_calls == ready and result.finish_reason == "tool_calls"


async def test_parallel_tool_calls_interleaved(bridge: Bridge, server: respx.MockRouter) -> None:
    body = sse(
        tool_piece(0, id="call_a", name="get_time", args='{"tz"'),
        tool_piece(1, id="call_b", name="convert", args='{"from"'),
        tool_piece(0, args=': "UTC"}'),
        tool_piece(1, args=': "A", "to": "B"}'),
        chunk(finish="tool_calls"),
    )
    _, result = await collect(bridge, server, body)
    assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == [
        ("call_a", "get_time", {"tz": "UTC"}),
        ("call_b", "convert", {"from": "A", "to": "B"}),
    ]


async def test_servers_repeating_id_and_name_in_every_piece(
    bridge: Bridge, server: respx.MockRouter
) -> None:
    body = sse(
        tool_piece(0, id="call_a", name="get_time", args='{"tz": '),
        tool_piece(0, id="call_a", name="get_time", args='"UTC"}'),
        chunk(finish="tool_calls"),
    )
    _, result = await collect(bridge, server, body)
    assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == [
        ("call_a", "get_time", {"tz": "UTC"})
    ]


async def test_old_builds_sending_empty_name_in_later_pieces(
    bridge: Bridge, server: respx.MockRouter
) -> None:
    body = sse(
        tool_piece(0, id="call_a", name="get_time", args='{"tz": '),
        tool_piece(0, name="", args='"UTC"}'),
        chunk(finish="tool_calls"),
    )
    _, result = await collect(bridge, server, body)
    assert [(c.name, c.arguments) for c in result.tool_calls] == [("get_time", {"tz": "UTC"})]


async def test_invalid_streamed_arguments_are_reported_not_raised(
    bridge: Bridge, server: respx.MockRouter
) -> None:
    body = sse(tool_piece(0, id="c", name="f", args='{"a": 1'), chunk(finish="tool_calls"))
    _, result = await collect(bridge, server, body)
    assert result.tool_calls[0].arguments_json == '{"a": 1' and not result.tool_calls[0].ok


async def test_missing_done_after_finish_reason_is_tolerated(
    bridge: Bridge, server: respx.MockRouter
) -> None:
    _, result = await collect(
        bridge, server, sse(chunk({"content": "x"}), chunk(finish="stop"), done=False)
    )
    assert result.text == "x"


async def test_missing_done_and_finish_reason_is_an_error(
    bridge: Bridge, server: respx.MockRouter
) -> None:
    server.post(CHAT).mock(return_value=sse_response(sse(chunk({"content": "par"}), done=False)))
    async with bridge.stream(MODEL, "hi") as stream:
        with pytest.raises(lmbridge.StreamError, match="before the reply was complete"):
            await stream.result()


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ({"message": "Model crashed", "type": "server_error"}, lmbridge.StreamError),
        ("No models loaded. Please load a model.", lmbridge.ModelNotLoadedError),
        (
            {"message": "context exceeded", "code": 400, "type": "exceed_context_size_error"},
            lmbridge.ContextLengthExceededError,
        ),
        ({"message": "overloaded", "code": 503}, lmbridge.ServerError),
    ],
)
async def test_in_stream_error_becomes_typed_error(
    bridge: Bridge,
    server: respx.MockRouter,
    error: object,
    expected: type[lmbridge.LMBridgeError],
) -> None:
    server.post(CHAT).mock(
        return_value=sse_response(sse(chunk({"content": "a"}), {"error": error}, done=False))
    )
    seen: list[TextDelta] = []
    async with bridge.stream(MODEL, "hi") as stream:
        with pytest.raises(expected) as caught:
            async for event in stream:
                assert isinstance(event, TextDelta)
                seen.append(event)
    assert caught.value.model == MODEL
    assert [e.text for e in seen] == ["a"]


async def test_garbage_chunk_is_invalid_response(bridge: Bridge, server: respx.MockRouter) -> None:
    server.post(CHAT).mock(return_value=sse_response(sse("{not json")))
    async with bridge.stream(MODEL, "hi") as stream:
        with pytest.raises(lmbridge.InvalidResponseError):
            await stream.result()


async def test_result_without_iterating_reads_the_stream(
    bridge: Bridge, server: respx.MockRouter
) -> None:
    server.post(CHAT).mock(
        return_value=sse_response(
            sse(chunk({"content": "a"}), chunk({"content": "b"}), chunk(finish="length"))
        )
    )
    async with bridge.stream(MODEL, "hi") as stream:
        result = await stream.result()
        assert await stream.result() is result
    assert result.text == "ab" and result.truncated


async def test_parallel_calls_all_at_index_zero_are_told_apart_by_id(
    bridge: Bridge, server: respx.MockRouter
) -> None:
    body = sse(
        tool_piece(0, id="call_a", name="get_time", args='{"tz": "UTC"}'),
        tool_piece(0, id="call_b", name="get_time", args='{"tz": "CET"}'),
        chunk(finish="tool_calls"),
    )
    _, result = await collect(bridge, server, body)
    assert [(c.id, c.arguments) for c in result.tool_calls] == [
        ("call_a", {"tz": "UTC"}),
        ("call_b", {"tz": "CET"}),
    ]


async def test_result_after_an_in_stream_error_raises_it_again(
    bridge: Bridge, server: respx.MockRouter
) -> None:
    body = sse(chunk({"content": "Hello wo"}), {"error": {"message": "Model crashed"}}, done=False)
    server.post(CHAT).mock(return_value=sse_response(body))
    async with bridge.stream(MODEL, "hi") as stream:
        with pytest.raises(lmbridge.StreamError):
            async for _ in stream:
                pass
        with pytest.raises(lmbridge.StreamError, match="Model crashed"):
            await stream.result()


async def test_result_of_a_truncated_stream_raises_every_time(
    bridge: Bridge, server: respx.MockRouter
) -> None:
    server.post(CHAT).mock(
        return_value=sse_response(sse(chunk({"content": "Hello wo"}), done=False))
    )
    async with bridge.stream(MODEL, "hi") as stream:
        with pytest.raises(lmbridge.StreamError):
            async for _ in stream:
                pass
        with pytest.raises(lmbridge.StreamError, match="before the reply was complete"):
            await stream.result()


async def test_result_after_leaving_the_block_early_is_an_error_not_a_partial_reply(
    bridge: Bridge, server: respx.MockRouter
) -> None:
    pieces = [
        sse(chunk({"content": "a"}), done=False),
        sse(chunk({"content": "b"}), chunk(finish="stop")),
    ]
    server.post(CHAT).mock(
        return_value=httpx.Response(
            200, headers={"content-type": "text/event-stream"}, stream=_Pieces(pieces)
        )
    )
    async with bridge.stream(MODEL, "hi") as stream:
        async for _ in stream:
            break  # only the first network read has arrived
    with pytest.raises(lmbridge.StreamError, match="closed before the reply was complete"):
        await stream.result()


class _Pieces(httpx.AsyncByteStream):
    """A body arriving in separate network reads."""

    def __init__(self, pieces: list[bytes]) -> None:
        self._pieces = pieces

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._pieces:
            yield piece
