"""A model evicted during an agent run is loaded again and the round retried (simulated model).

JIT loading is off in these tests, so nothing but lmbridge's own healing can bring the model back.
"""

from __future__ import annotations

import pytest

from lmbridge import ModelNotLoadedError
from lmbridge.agent.events import AgentEvent, RoundRetried, RunTextDelta
from lmbridge.testing import Reply, SimError
from tests.agent.loop_support import MODEL, assert_valid_transcript, call, new_bridge, new_sim


async def test_a_model_evicted_between_rounds_is_reloaded_and_the_run_completes() -> None:
    sim = new_sim(jit=False)

    def evict_model() -> str:
        """Free some memory (evicts the model behind the client's back)."""
        assert sim.evict(MODEL) == [MODEL]
        return "memory freed"

    sim.script(MODEL, Reply(tool_calls=[call("evict_model")]), Reply("Done."))
    async with new_bridge(sim) as bridge:
        result = await bridge.run_agent(MODEL, "Free memory.", tools=[evict_model])

    assert result.stop_reason == "completed"
    assert result.output == "Done."
    assert result.rounds == 2
    chats = [r for r in sim.requests if r.path == "/v1/chat/completions"]
    assert [r.status for r in chats] == [200, 400, 200]  # round 2 failed, then ran again...
    assert chats[1].body["messages"] == chats[2].body["messages"]  # ...with the same history
    assert chats[2].body["messages"][-1]["content"] == "memory freed"
    loads = [r for r in sim.requests if r.path == "/api/v1/models/load"]
    assert len(loads) == 1, (
        "one eviction costs one load (the Bridge heals; the loop does not again)"
    )
    assert [i.identifier for i in sim.loaded] == [MODEL]
    assert_valid_transcript(result.messages)


async def test_a_model_evicted_while_generating_is_reloaded_and_the_round_rerun() -> None:
    sim = new_sim(jit=False)
    sim.script(
        MODEL,
        Reply(tool_calls=[call("noop")]),
        Reply("This answer is cut off when the model goes away. " * 20, chunk_delay=0.01),
        Reply("Recovered."),
    )

    def noop() -> str:
        """Do nothing."""
        return "ok"

    events: list[AgentEvent] = []
    evicted: list[str] = []
    async with new_bridge(sim) as bridge, bridge.stream_agent(MODEL, "Go.", tools=[noop]) as run:
        async for event in run:
            events.append(event)
            if isinstance(event, RunTextDelta) and event.round == 2 and not evicted:
                # LM Studio can unload a model mid-generation (lmstudio-bug-tracker #671).
                evicted.extend(sim.evict(MODEL))
        result = await run.result()

    assert evicted == [MODEL]
    (retried,) = [e for e in events if isinstance(e, RoundRetried)]
    assert retried.round == 2
    assert result.stop_reason == "completed"
    assert result.rounds == 2
    assert result.output == "Recovered."
    assert result.messages[-1] == {"role": "assistant", "content": "Recovered."}
    assert [i.identifier for i in sim.loaded] == [MODEL]
    chats = [r for r in sim.requests if r.path == "/v1/chat/completions"]
    assert len(chats) == 3
    assert chats[1].body["messages"] == chats[2].body["messages"]
    assert len([r for r in sim.requests if r.path == "/api/v1/models/load"]) == 1
    assert_valid_transcript(result.messages)


async def test_a_model_that_stays_unavailable_ends_the_run_after_one_healing_retry() -> None:
    sim = new_sim(jit=False)
    sim.fail_next(MODEL, SimError.no_models_loaded(), times=5)
    async with new_bridge(sim) as bridge:
        with pytest.raises(ModelNotLoadedError):
            await bridge.run_agent(MODEL, "Go.")
    chats = [r for r in sim.requests if r.path == "/v1/chat/completions"]
    assert len(chats) == 2, "the request is healed and retried once, not again by the loop"
