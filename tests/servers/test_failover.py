"""Several servers (#12): failover, the circuit breaker, concurrency caps."""

from __future__ import annotations

import pickle
from pathlib import Path

import anyio
import pytest

from lmbridge import (
    APIConnectionError,
    CircuitBreaker,
    CircuitChanged,
    CircuitOpenError,
    Event,
    StreamError,
)
from lmbridge.testing import Reply, SimulatedLMStudio
from tests.servers.support import A, B, FakeClock, Hosts, bridge, chats_to

QWEN = "qwen/qwen3-4b"


def answering(sim: SimulatedLMStudio, name: str, *, delay: float = 0.0) -> None:
    sim.responder(QWEN, lambda body: Reply(f"from {name}", delay=delay))


async def test_requests_go_to_the_next_server_when_one_refuses_connections(
    tmp_path: Path,
) -> None:
    a, b = SimulatedLMStudio(loaded=[QWEN]), SimulatedLMStudio(loaded=[QWEN])
    answering(a, "a")
    answering(b, "b")
    hosts = Hosts({A: a, B: b})
    async with bridge(hosts, [A, B], tmp_path) as client:
        await client.models.list()  # both listings cached: A looks as good as B
        hosts.refuse(A)
        results = []

        async def one() -> None:
            results.append(await client.chat(QWEN, "hi"))

        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(one)
        assert client.servers[0].state == "down"
        assert client.servers[1].state == "up"
    assert {(r.text, r.server) for r in results} == {("from b", B)}
    assert len(chats_to(b)) == 20  # every request once, none twice
    assert not chats_to(a)


async def test_a_stream_fails_over_before_it_starts(tmp_path: Path) -> None:
    a, b = SimulatedLMStudio(loaded=[QWEN]), SimulatedLMStudio(loaded=[QWEN])
    hosts = Hosts({A: a, B: b})
    async with bridge(hosts, [A, B], tmp_path) as client:
        await client.models.list()
        hosts.refuse(A)
        async with client.stream(QWEN, "hi") as stream:
            result = await stream.result()
        assert [s.in_flight for s in client.servers] == [0, 0]
    assert result.server == B


async def test_a_stream_that_breaks_mid_way_is_an_error_and_never_sent_again(
    tmp_path: Path,
) -> None:
    a, b = SimulatedLMStudio(loaded=[QWEN]), SimulatedLMStudio(loaded=[QWEN])
    a.responder(
        QWEN,
        lambda body: Reply(
            "one two three four", chunk_size=4, stop_after_chunks=2, drop_connection=True
        ),
    )
    async with bridge(Hosts({A: a, B: b}), [A, B], tmp_path) as client:
        with pytest.raises(StreamError):
            async with client.stream(QWEN, "hi") as stream:
                await stream.result()
    assert len(chats_to(a)) == 1
    assert not chats_to(b)


async def test_with_nowhere_else_to_go_the_connection_error_is_raised(tmp_path: Path) -> None:
    a, b = SimulatedLMStudio(loaded=[QWEN]), SimulatedLMStudio(loaded=[QWEN])
    hosts = Hosts({A: a, B: b})
    hosts.refuse(A)
    hosts.refuse(B)
    async with bridge(hosts, [A, B], tmp_path) as client:
        with pytest.raises(APIConnectionError) as caught:
            await client.chat(QWEN, "hi")
    assert caught.value.sent is False
    assert caught.value.server in (A, B)


def breaker_events(events: list[Event]) -> list[tuple[str | None, str, str]]:
    return [(e.server, e.previous, e.state) for e in events if isinstance(e, CircuitChanged)]


async def test_the_breaker_opens_fails_at_once_probes_and_closes(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    hosts = Hosts({A: sim})
    clock = FakeClock()
    events: list[Event] = []
    breaker = CircuitBreaker(failures=3, cooldown=30.0, clock=clock)
    async with bridge(
        hosts, [A], tmp_path, circuit_breaker=breaker, event_hooks=[events.append]
    ) as client:
        hosts.refuse(A)
        with pytest.raises(APIConnectionError) as first:
            await client.chat(QWEN, "hi")  # 3 attempts: the third opens the breaker
        assert not isinstance(first.value, CircuitOpenError)
        assert hosts.attempts["server-a:1234"] == 3
        assert [s.state for s in client.servers] == ["down"]

        with pytest.raises(CircuitOpenError) as held:
            await client.chat(QWEN, "hi")
        assert hosts.attempts["server-a:1234"] == 3  # failed at once: nothing was tried
        error = held.value
        assert (error.server, error.failures, error.sent) == (A, 3, False)
        assert error.retry_at - error.opened_at == pytest.approx(30.0)
        assert A in str(error)
        assert pickle.loads(pickle.dumps(error)).retry_at == error.retry_at

        clock.now += 29.0
        with pytest.raises(CircuitOpenError):
            await client.chat(QWEN, "hi")

        clock.now += 1.0  # cooled down: the next request probes, and the server is back
        hosts.refuse(A, False)
        result = await client.chat(QWEN, "hi")
        assert result.server == A
        assert [s.state for s in client.servers] == ["up"]
    assert breaker_events(events) == [
        (A, "closed", "open"),
        (A, "open", "half_open"),
        (A, "half_open", "closed"),
    ]


async def test_a_failed_probe_opens_the_breaker_for_another_cooldown(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    hosts = Hosts({A: sim})
    clock = FakeClock()
    breaker = CircuitBreaker(failures=1, cooldown=10.0, clock=clock)
    async with bridge(hosts, [A], tmp_path, circuit_breaker=breaker, max_retries=0) as client:
        hosts.refuse(A)
        with pytest.raises(APIConnectionError):
            await client.chat(QWEN, "hi")
        clock.now += 10.0
        with pytest.raises(APIConnectionError) as probe:
            await client.chat(QWEN, "hi")  # the probe, refused
        assert not isinstance(probe.value, CircuitOpenError)
        with pytest.raises(CircuitOpenError):
            await client.chat(QWEN, "hi")
        assert hosts.attempts["server-a:1234"] == 2


async def test_breakers_can_be_turned_off(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    hosts = Hosts({A: sim})
    hosts.refuse(A)
    async with bridge(hosts, [A], tmp_path, circuit_breaker=False, max_retries=0) as client:
        for _ in range(10):
            with pytest.raises(APIConnectionError) as caught:
                await client.chat(QWEN, "hi")
            assert not isinstance(caught.value, CircuitOpenError)
        assert client.servers[0].state == "up"
    assert hosts.attempts["server-a:1234"] == 10


async def test_an_open_breaker_is_skipped_while_another_server_has_the_model(
    tmp_path: Path,
) -> None:
    a, b = SimulatedLMStudio(loaded=[QWEN]), SimulatedLMStudio(loaded=[QWEN])
    hosts = Hosts({A: a, B: b})
    clock = FakeClock()
    breaker = CircuitBreaker(failures=1, cooldown=60.0, clock=clock)
    async with bridge(hosts, [A, B], tmp_path, circuit_breaker=breaker) as client:
        await client.models.list()
        hosts.refuse(A)
        assert (await client.chat(QWEN, "hi")).server == B
        attempts = hosts.attempts["server-a:1234"]
        for _ in range(5):
            assert (await client.chat(QWEN, "hi")).server == B
        assert hosts.attempts["server-a:1234"] == attempts  # skipped, not tried
        hosts.refuse(A, False)
        clock.now += 60.0
        client.models.invalidate()
        await client.models.list()  # the cooled-down breaker lets the listing probe: A is back
        assert client.servers[0].state == "up"


@pytest.mark.parametrize("cap", [1, 3])
async def test_a_cap_holds_under_200_concurrent_requests(tmp_path: Path, cap: int) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    answering(sim, "a", delay=0.001)
    hosts = Hosts({A: sim})
    async with bridge(hosts, [A], tmp_path, max_concurrency=cap) as client:
        waiting_seen: list[int] = []

        async def one() -> None:
            waiting_seen.append(client.servers[0].waiting)
            await client.chat(QWEN, "hi")

        async with anyio.create_task_group() as group:
            for _ in range(200):
                group.start_soon(one)
        assert (client.servers[0].in_flight, client.servers[0].waiting) == (0, 0)
    assert hosts.most_in_flight["server-a:1234"] == cap
    assert len(chats_to(sim)) == 200


async def test_without_a_cap_the_server_sees_the_whole_burst(tmp_path: Path) -> None:
    """The control for the test above: the simulator does take requests in parallel."""
    sim = SimulatedLMStudio(loaded=[QWEN])
    answering(sim, "a", delay=0.001)
    hosts = Hosts({A: sim})
    async with bridge(hosts, [A], tmp_path) as client, anyio.create_task_group() as group:
        for _ in range(50):
            group.start_soon(client.chat, QWEN, "hi")
    assert hosts.most_in_flight["server-a:1234"] > 3


async def test_a_cap_per_server_and_streams_hold_their_place(tmp_path: Path) -> None:
    a, b = SimulatedLMStudio(loaded=[QWEN]), SimulatedLMStudio(loaded=[QWEN])
    hosts = Hosts({A: a, B: b})
    async with bridge(hosts, [A, B], tmp_path, max_concurrency={A: 1}) as client:
        async with client.stream(QWEN, "hi") as stream:
            assert client.servers[0].in_flight == 1
            await stream.result()
            # The body is read: the place is free though the block is still open.
            assert client.servers[0].in_flight == 0
        assert client.servers[1].waiting == 0


async def test_requests_cancelled_while_queued_leave_no_trace(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    sim.responder(QWEN, lambda body: Reply("done", delay=0.05))
    hosts = Hosts({A: sim})
    async with bridge(hosts, [A], tmp_path, max_concurrency=1) as client:
        await client.chat(QWEN, "warm")  # the listing and confirmation are in place
        before = len(chats_to(sim))
        async with anyio.create_task_group() as group:
            scopes = []
            for _ in range(6):
                scope = anyio.CancelScope()
                scopes.append(scope)

                async def one(scope: anyio.CancelScope = scope) -> None:
                    with scope:
                        await client.chat(QWEN, "hi")

                group.start_soon(one)
            while client.servers[0].waiting < 5:
                await anyio.sleep(0)
            for scope in scopes[2:5]:
                scope.cancel()
        assert (client.servers[0].in_flight, client.servers[0].waiting) == (0, 0)
        sent = len(chats_to(sim)) - before
    assert sent == 3  # the cancelled three never reached the server


async def test_when_the_only_server_with_the_model_is_held_back_it_fails_at_once(
    tmp_path: Path,
) -> None:
    from lmbridge.testing.catalogue import SimModel

    a = SimulatedLMStudio(loaded=[QWEN])
    b = SimulatedLMStudio(models=[SimModel(key="google/gemma-3-4b")])
    hosts = Hosts({A: a, B: b})
    clock = FakeClock()
    breaker = CircuitBreaker(failures=1, cooldown=60.0, clock=clock)
    async with bridge(hosts, [A, B], tmp_path, circuit_breaker=breaker, max_retries=0) as client:
        hosts.refuse(A)
        with pytest.raises(APIConnectionError):
            await client.chat(QWEN, "hi")  # A's listing fails: its breaker opens
        attempts = hosts.attempts["server-a:1234"]
        with pytest.raises(CircuitOpenError) as caught:
            await client.chat(QWEN, "hi")
        assert hosts.attempts["server-a:1234"] == attempts
    assert caught.value.server == A
    assert B in caught.value.message
    assert caught.value.retry_at - caught.value.opened_at == pytest.approx(60.0)
