"""The retry policy: what is retried, how long it waits, and what never is."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest
import respx

import lmbridge
from lmbridge import Bridge, RetryPolicy
from tests.transport.conftest import SleepRecorder
from tests.transport.helpers import MODEL, chunk, completion, sse, sse_response

CHAT = "/v1/chat/completions"
OK = httpx.Response(200, json=completion({"content": "hi"}))


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
async def test_retryable_statuses_are_retried(
    bridge: Bridge, server: respx.MockRouter, sleeps: SleepRecorder, status: int
) -> None:
    route = server.post(CHAT).mock(side_effect=[httpx.Response(status, json={"error": "busy"}), OK])
    result = await bridge.chat(MODEL, "hi")
    assert result.text == "hi"
    assert route.call_count == 2
    assert len(sleeps.waits) == 1
    assert 0 <= sleeps.waits[0] <= 0.5  # first backoff step, full jitter


@pytest.mark.parametrize("status", [400, 401, 404, 422])
async def test_client_errors_are_not_retried(
    bridge: Bridge, server: respx.MockRouter, sleeps: SleepRecorder, status: int
) -> None:
    route = server.post(CHAT).respond(status, json={"error": "no"})
    with pytest.raises(lmbridge.APIStatusError):
        await bridge.http.post_json(CHAT, {"model": MODEL}, model=MODEL)
    assert route.call_count == 1
    assert sleeps.waits == []


async def test_gives_up_after_max_retries_with_the_last_error(
    bridge: Bridge, server: respx.MockRouter, sleeps: SleepRecorder
) -> None:
    route = server.post(CHAT).respond(503, json={"error": "overloaded"})
    with pytest.raises(lmbridge.ServerError) as caught:
        await bridge.chat(MODEL, "hi")
    assert route.call_count == 3
    assert len(sleeps.waits) == 2
    assert caught.value.status_code == 503


async def test_per_call_max_retries(bridge: Bridge, server: respx.MockRouter) -> None:
    route = server.post(CHAT).respond(503, json={"error": "overloaded"})
    with pytest.raises(lmbridge.ServerError):
        await bridge.chat(MODEL, "hi", max_retries=0)
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),
        ({"Retry-After": "3600"}, 60.0),  # capped
    ],
)
async def test_retry_after_is_honoured(
    bridge: Bridge,
    server: respx.MockRouter,
    sleeps: SleepRecorder,
    headers: dict[str, str],
    expected: float,
) -> None:
    server.post(CHAT).mock(
        side_effect=[httpx.Response(429, json={"error": "slow"}, headers=headers), OK]
    )
    await bridge.chat(MODEL, "hi")
    assert sleeps.waits == [pytest.approx(expected)]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "soon"])
async def test_unusable_retry_after_falls_back_to_backoff(
    bridge: Bridge, server: respx.MockRouter, sleeps: SleepRecorder, value: str
) -> None:
    server.post(CHAT).mock(
        side_effect=[
            httpx.Response(503, headers={"Retry-After": value, "retry-after-ms": value}),
            OK,
        ]
    )
    await bridge.chat(MODEL, "hi")
    assert len(sleeps.waits) == 1 and 0 <= sleeps.waits[0] <= 0.5


async def test_negative_retry_after_means_now(
    bridge: Bridge, server: respx.MockRouter, sleeps: SleepRecorder
) -> None:
    server.post(CHAT).mock(side_effect=[httpx.Response(429, headers={"Retry-After": "-5"}), OK])
    await bridge.chat(MODEL, "hi")
    assert sleeps.waits == [0.0]


async def test_retry_after_http_date(
    bridge: Bridge, server: respx.MockRouter, sleeps: SleepRecorder
) -> None:
    when = email.utils.formatdate(time.time() + 20, usegmt=True)
    server.post(CHAT).mock(side_effect=[httpx.Response(503, headers={"Retry-After": when}), OK])
    await bridge.chat(MODEL, "hi")
    assert 15 <= sleeps.waits[0] <= 21


async def test_connection_errors_are_retried(
    bridge: Bridge, server: respx.MockRouter, sleeps: SleepRecorder
) -> None:
    route = server.post(CHAT).mock(
        side_effect=[httpx.ConnectError("refused"), httpx.ConnectError("refused"), OK]
    )
    assert (await bridge.chat(MODEL, "hi")).text == "hi"
    assert route.call_count == 3
    assert len(sleeps.waits) == 2
    assert sleeps.waits[1] <= 1.0  # second step of the exponential backoff


async def test_connect_timeout_is_retried_then_typed(
    bridge: Bridge, server: respx.MockRouter
) -> None:
    route = server.post(CHAT).mock(side_effect=httpx.ConnectTimeout("slow"))
    with pytest.raises(lmbridge.ConnectTimeoutError):
        await bridge.chat(MODEL, "hi")
    assert route.call_count == 3


async def test_read_timeout_is_never_retried(
    bridge: Bridge, server: respx.MockRouter, sleeps: SleepRecorder
) -> None:
    route = server.post(CHAT).mock(side_effect=httpx.ReadTimeout("generation too slow"))
    with pytest.raises(lmbridge.ReadTimeoutError) as caught:
        await bridge.chat(MODEL, "hi")
    assert route.call_count == 1
    assert sleeps.waits == []
    assert "read timeout" in (caught.value.hint or "")


async def test_stream_retried_before_first_byte(bridge: Bridge, server: respx.MockRouter) -> None:
    body = sse(chunk({"content": "ok"}), chunk(finish="stop"))
    route = server.post(CHAT).mock(side_effect=[httpx.Response(503), sse_response(body)])
    async with bridge.stream(MODEL, "hi") as stream:
        result = await stream.result()
    assert result.text == "ok"
    assert route.call_count == 2


class _BreaksAfterFirstChunk(httpx.AsyncByteStream):
    async def __aiter__(self):  # type: ignore[no-untyped-def]
        yield sse(chunk({"content": "partial"}), done=False)
        raise httpx.ReadError("connection reset")


async def test_stream_not_retried_after_first_byte(
    bridge: Bridge, server: respx.MockRouter, sleeps: SleepRecorder
) -> None:
    route = server.post(CHAT).mock(
        return_value=httpx.Response(
            200, headers={"content-type": "text/event-stream"}, stream=_BreaksAfterFirstChunk()
        )
    )
    seen = []
    with pytest.raises(lmbridge.StreamError):
        async with bridge.stream(MODEL, "hi") as stream:
            async for event in stream:
                seen.append(event)
    assert route.call_count == 1
    assert sleeps.waits == []
    assert [e.text for e in seen if isinstance(e, lmbridge.TextDelta)] == ["partial"]


def test_policy_rejects_negative_retries() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_retries=-1)


async def test_a_generation_cut_off_without_an_answer_is_not_sent_again(
    bridge: Bridge, server: respx.MockRouter, sleeps: SleepRecorder
) -> None:
    route = server.post(CHAT).mock(
        side_effect=httpx.RemoteProtocolError("Server disconnected without sending a response.")
    )
    with pytest.raises(
        lmbridge.APIConnectionError, match="closed the connection without answering"
    ) as caught:
        await bridge.chat(MODEL, "hi")
    assert route.call_count == 1 and sleeps.waits == []
    assert "not sent again" in (caught.value.hint or "")


async def test_a_listing_cut_off_without_an_answer_is_read_again(
    bridge: Bridge, server: respx.MockRouter
) -> None:
    route = server.get("/lms-status").mock(
        side_effect=[
            httpx.RemoteProtocolError("Server disconnected"),
            httpx.Response(200, json={"version": "0.4.8"}),
        ]
    )
    assert await bridge.http.get_json("/lms-status") == {"version": "0.4.8"}
    assert route.call_count == 2


class _BodyBreaks(httpx.AsyncByteStream):
    async def __aiter__(self):  # type: ignore[no-untyped-def]
        yield b'{"id": "chatcmpl-1", "choices": ['
        raise httpx.ReadError("peer closed connection without sending complete message body")


async def test_an_answer_broken_part_way_is_typed_and_not_retried(
    bridge: Bridge, server: respx.MockRouter, sleeps: SleepRecorder
) -> None:
    route = server.post(CHAT).mock(return_value=httpx.Response(200, stream=_BodyBreaks()))
    with pytest.raises(lmbridge.APIConnectionError, match="broke while reading the answer"):
        await bridge.chat(MODEL, "hi")
    assert route.call_count == 1 and sleeps.waits == []


async def test_a_stream_error_body_that_breaks_is_typed(
    bridge: Bridge, server: respx.MockRouter
) -> None:
    server.post(CHAT).mock(return_value=httpx.Response(500, stream=_BodyBreaks()))
    with pytest.raises(lmbridge.APIConnectionError):
        async with bridge.stream(MODEL, "hi"):
            pass


async def test_pool_timeout_is_typed_with_its_own_hint(
    bridge: Bridge, server: respx.MockRouter
) -> None:
    server.post(CHAT).mock(side_effect=httpx.PoolTimeout("no connection"))
    with pytest.raises(lmbridge.APITimeoutError) as caught:
        await bridge.chat(MODEL, "hi")
    assert not isinstance(caught.value, lmbridge.ReadTimeoutError)
    assert "pool" in (caught.value.hint or "")
