"""Several servers behind one Bridge (#12): where each request goes, and what lists cover."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import anyio
import pytest

from lmbridge import Bridge, ModelNotFoundError
from lmbridge.testing import Reply, SimulatedLMStudio
from tests.servers.support import A, B, C, Hosts, bridge, chats_to, no_lms

QWEN = "qwen/qwen3-4b"
GEMMA = "google/gemma-3-4b"
NOMIC = "text-embedding-nomic-embed-text-v1.5"


def answering(sim: SimulatedLMStudio, name: str, *, delay: float = 0.0) -> None:
    def reply(body: object) -> Reply:
        return Reply(f"from {name}", delay=delay)

    for model in (QWEN, GEMMA):
        sim.responder(model, reply)


async def test_a_request_goes_to_the_server_where_its_model_is_loaded(tmp_path: Path) -> None:
    a, b = SimulatedLMStudio(loaded=[QWEN]), SimulatedLMStudio(loaded=[GEMMA])
    answering(a, "a")
    answering(b, "b")
    async with bridge(Hosts({A: a, B: b}), [A, B], tmp_path) as client:
        to_gemma = await client.chat(GEMMA, "hi")
        to_qwen = await client.chat(QWEN, "hi")
    assert (to_gemma.text, to_gemma.server) == ("from b", B)
    assert (to_qwen.text, to_qwen.server) == ("from a", A)
    assert len(chats_to(a)) == 1
    assert len(chats_to(b)) == 1
    assert not [r for r in a.requests + b.requests if r.path == "/api/v1/models/load"]


async def test_gathered_requests_spread_over_the_servers_that_have_the_model(
    tmp_path: Path,
) -> None:
    a, b = SimulatedLMStudio(loaded=[QWEN]), SimulatedLMStudio(loaded=[QWEN])
    answering(a, "a", delay=0.005)
    answering(b, "b", delay=0.005)
    async with bridge(Hosts({A: a, B: b}), [A, B], tmp_path) as client:
        servers: list[str | None] = []

        async def one() -> None:
            servers.append((await client.chat(QWEN, "hi")).server)

        async with anyio.create_task_group() as group:
            for _ in range(100):
                group.start_soon(one)
        assert [s.in_flight for s in client.servers] == [0, 0]
    counts = Counter(servers)
    assert sum(counts.values()) == 100
    assert 35 <= counts[A] <= 65, counts
    assert len(chats_to(a)) + len(chats_to(b)) == 100


async def test_ties_go_to_the_first_server_given(tmp_path: Path) -> None:
    a, b = SimulatedLMStudio(loaded=[QWEN]), SimulatedLMStudio(loaded=[QWEN])
    async with bridge(Hosts({A: a, B: b}), [B, A], tmp_path) as client:
        assert (await client.chat(QWEN, "hi")).server == B
        assert (await client.chat(QWEN, "hi")).server == B


async def test_a_model_loaded_nowhere_is_loaded_on_the_first_server_that_has_it(
    tmp_path: Path,
) -> None:
    from lmbridge.testing.catalogue import SimModel

    only_gemma = [SimModel(key=GEMMA)]
    a = SimulatedLMStudio(models=only_gemma, jit=False)
    b, c = SimulatedLMStudio(jit=False), SimulatedLMStudio(jit=False)
    async with bridge(Hosts({A: a, B: b, C: c}), [A, B, C], tmp_path) as client:
        results = []

        async def one() -> None:
            results.append(await client.chat(QWEN, "hi"))

        async with anyio.create_task_group() as group:
            for _ in range(5):
                group.start_soon(one)
    assert {r.server for r in results} == {B}
    assert [i.identifier for i in b.loaded] == [QWEN]  # one load: single-flight on B
    assert not c.loaded
    assert not a.loaded


async def test_a_model_no_server_has_names_every_server_checked(tmp_path: Path) -> None:
    a, b = SimulatedLMStudio(), SimulatedLMStudio()
    async with bridge(Hosts({A: a, B: b}), [A, B], tmp_path) as client:
        with pytest.raises(ModelNotFoundError) as caught:
            await client.chat("qwen/qwen3-4c", "hi")
    assert A in caught.value.message
    assert B in caught.value.message
    assert QWEN in caught.value.suggestions
    assert not chats_to(a) + chats_to(b)


async def test_listings_cover_every_server_and_say_which(tmp_path: Path) -> None:
    a, b = SimulatedLMStudio(loaded=[QWEN]), SimulatedLMStudio(loaded=[GEMMA])
    async with bridge(Hosts({A: a, B: b}), [A, B], tmp_path) as client:
        models = await client.models.list()
        loaded = await client.models.loaded()
        servers = client.servers
    assert {(m.key, m.server) for m in models} >= {(QWEN, A), (QWEN, B), (GEMMA, B)}
    assert {(i.identifier, i.server) for i in loaded} == {(QWEN, A), (GEMMA, B)}
    assert [(s.url, s.state, s.loaded) for s in servers] == [
        (A, "up", (QWEN,)),
        (B, "up", (GEMMA,)),
    ]


async def test_ensure_loaded_and_unload_go_where_the_model_is(tmp_path: Path) -> None:
    a, b = SimulatedLMStudio(loaded=[QWEN]), SimulatedLMStudio(loaded=[GEMMA])
    async with bridge(Hosts({A: a, B: b}), [A, B], tmp_path) as client:
        instance = await client.models.ensure_loaded(GEMMA)
        assert instance.server == B
        explicit = await client.models.ensure_loaded(GEMMA, server=A)
        assert explicit.server == A
        assert sorted(await client.models.unload(GEMMA)) == [GEMMA, GEMMA]
        with pytest.raises(ValueError, match="no server"):
            client.models.on("http://elsewhere:1")
    assert not a.instance(GEMMA)
    assert not b.instance(GEMMA)


async def test_embeddings_and_completions_say_which_server_answered(tmp_path: Path) -> None:
    a, b = SimulatedLMStudio(loaded=[QWEN]), SimulatedLMStudio(loaded=[NOMIC])
    async with bridge(Hosts({A: a, B: b}), [A, B], tmp_path) as client:
        vectors = await client.embed(NOMIC, ["one", "two", "three"], batch_size=1)
        completion = await client.complete(QWEN, "Once")
        async with client.stream(QWEN, "hi") as stream:
            streamed = await stream.result()
        async with client.stream_complete(QWEN, "Once") as text_stream:
            streamed_text = await text_stream.result()
        response = await client.respond(QWEN, "hi")
    assert vectors.server == B
    assert completion.server == A
    assert streamed.server == A
    assert streamed_text.server == A
    assert response.server == A


async def test_one_server_is_one_server_as_before(tmp_path: Path) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    async with Bridge(
        SimulatedLMStudio.base_url, transport=sim.transport(), lms_path=no_lms(tmp_path)
    ) as client:
        result = await client.chat(QWEN, "hi")
        assert repr(client) == f"Bridge({client.base_url!r})"
        assert [s.url for s in client.servers] == [client.base_url]
    assert result.server == client.base_url
    # Nothing asked before the request beyond what one server always asked.
    assert [r.path for r in sim.requests][-1] == "/v1/chat/completions"


def test_the_urls_come_from_a_list_or_a_comma_separated_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LMBRIDGE_BASE_URL", "http://one:1234/v1, two:5678")
    assert [s.url for s in Bridge().servers] == ["http://one:1234", "http://two:5678"]
    assert Bridge(["http://x:1", "http://x:1/"]).base_url == "http://x:1"
    with pytest.raises(ValueError, match="empty"):
        Bridge([])
    with pytest.raises(ValueError, match="does not have"):
        Bridge(["http://x:1"], api_token={"http://y:1": "secret-token"})
    with pytest.raises(TypeError):
        Bridge(["http://x:1"], circuit_breaker="yes")  # type: ignore[arg-type]


async def test_each_server_gets_its_own_token(tmp_path: Path) -> None:
    a = SimulatedLMStudio(loaded=[QWEN], auth_token="token-for-a")
    b = SimulatedLMStudio(loaded=[GEMMA], auth_token="token-for-b")
    tokens = {A: "token-for-a", B + "/v1": "token-for-b"}
    async with bridge(Hosts({A: a, B: b}), [A, B], tmp_path, api_token=tokens) as client:
        assert (await client.chat(QWEN, "hi")).server == A
        assert (await client.chat(GEMMA, "hi")).server == B
        assert "token-for" not in repr(client)


async def test_a_follow_up_goes_to_the_server_that_stores_the_conversation(
    tmp_path: Path,
) -> None:
    a, b = SimulatedLMStudio(loaded=[QWEN]), SimulatedLMStudio(loaded=[QWEN])
    answering(a, "a", delay=0.01)
    answering(b, "b", delay=0.01)
    async with bridge(Hosts({A: a, B: b}), [A, B], tmp_path) as client:
        firsts = []

        async def one() -> None:
            firsts.append(await client.respond(QWEN, "hi", temperature=0.0))

        async with anyio.create_task_group() as group:
            for _ in range(6):
                group.start_soon(one)
        assert {r.server for r in firsts} == {A, B}
        for first in firsts:
            follow_up = await client.respond(QWEN, "again", previous_response_id=first.id)
            assert follow_up.server == first.server
            async with client.stream_respond(
                QWEN, "and again", previous_response_id=follow_up.id
            ) as stream:
                streamed = await stream.result()
            assert streamed.server == first.server
            third = await client.respond(QWEN, "more", previous_response_id=streamed.id)
            assert third.server == first.server


async def test_a_server_that_never_answers_does_not_hold_up_the_others(tmp_path: Path) -> None:
    a, b = SimulatedLMStudio(loaded=[QWEN]), SimulatedLMStudio(loaded=[QWEN])
    hosts = Hosts({A: a, B: b})
    hosts.hanging.add("server-a:1234")
    async with bridge(hosts, [A, B], tmp_path) as client:
        # Without the grace, routing would wait for A's listing (here: for ever).
        with anyio.fail_after(30):
            results = [await client.chat(QWEN, "hi") for _ in range(3)]
    assert {r.server for r in results} == {B}


async def test_unload_leaves_out_a_server_that_cannot_be_reached(tmp_path: Path) -> None:
    from lmbridge import APIConnectionError

    a, b = SimulatedLMStudio(loaded=[QWEN]), SimulatedLMStudio(loaded=[QWEN])
    hosts = Hosts({A: a, B: b})
    async with bridge(hosts, [A, B], tmp_path, max_retries=0) as client:
        hosts.refuse(B)
        assert await client.models.unload(QWEN) == [QWEN]
        assert not a.loaded
        with pytest.raises(APIConnectionError) as caught:
            await client.models.unload(QWEN)  # only B may still have it
    assert caught.value.server == B
    assert b.loaded
