"""The simulator answers in the shapes LM Studio documents (#10): the documented JSON examples
(tests/documented_examples.py, copied from lmstudio-ai/docs) against the simulator's answers."""

from __future__ import annotations

import json
from typing import Any

from lmbridge.testing import SimModel, SimulatedLMStudio
from tests.documented_examples import (
    LIST_MODELS,
    LOAD_RESPONSE,
    MODEL_LOAD_END_EVENT,
    MODEL_LOAD_PROGRESS_EVENT,
    MODEL_LOAD_START_EVENT,
    UNLOAD_RESPONSE,
)

OSS = "openai/gpt-oss-20b"  # multi-variant MoE reasoning model in the default catalogue
THINKING = "qwen/qwen3-4b-thinking-2507"
EMBED = "text-embedding-nomic-embed-text-v1.5"


def shape(value: Any) -> Any:
    """The structure of a JSON value: keys and value kinds, never the values themselves."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "null" if value is None else type(value).__name__


async def test_v1_model_rows_have_the_documented_shapes() -> None:
    sim = SimulatedLMStudio()
    sim.load(OSS)
    async with sim.client() as http:
        rows = {m["key"]: m for m in (await http.get("/api/v1/models")).json()["models"]}
    documented_multi_variant, documented_single, documented_embedding = LIST_MODELS["models"]
    assert shape(rows[OSS]) == shape(documented_multi_variant)
    assert shape(rows[THINKING]) == shape(documented_single)  # no variants, nothing loaded
    assert shape(rows[EMBED]) == shape(documented_embedding)  # no capabilities/architecture/...
    assert rows[OSS]["loaded_instances"][0]["config"]["num_experts"] == 4
    assert rows[THINKING]["capabilities"]["reasoning"] == {
        "allowed_options": ["off", "on"],
        "default": "on",
    }


async def test_a_model_without_a_reasoning_setting_lists_none() -> None:
    sim = SimulatedLMStudio(models=[SimModel(key="a/plain")])
    async with sim.client() as http:
        row = (await http.get("/api/v1/models")).json()["models"][0]
    assert "reasoning" not in row["capabilities"]
    assert "variants" not in row and "selected_variant" not in row
    assert "num_experts" not in str(row)


async def test_load_echoes_its_config_only_when_asked_and_unload_answers_as_documented() -> None:
    sim = SimulatedLMStudio()
    async with sim.client() as http:
        echoed = await http.post(
            "/api/v1/models/load",
            json={
                "model": OSS,
                "context_length": 16384,
                "flash_attention": True,
                "echo_load_config": True,
            },
        )
        quiet = await http.post("/api/v1/models/load", json={"model": OSS})
        unloaded = await http.post("/api/v1/models/unload", json={"instance_id": OSS})
    assert shape(echoed.json()) == shape(LOAD_RESPONSE)
    assert echoed.json()["load_config"]["context_length"] == 16384
    assert set(quiet.json()) == set(LOAD_RESPONSE) - {"load_config"}
    assert shape(unloaded.json()) == shape(UNLOAD_RESPONSE)


async def test_native_chat_load_events_have_the_documented_shapes() -> None:
    sim = SimulatedLMStudio()
    body = {"model": THINKING, "input": "Hi", "stream": True, "max_output_tokens": 1}
    async with sim.client() as http:
        text = (await http.post("/api/v1/chat", json=body)).text
    events: dict[str, list[Any]] = {}
    for block in text.strip().split("\n\n"):
        name_line, data_line = block.split("\n")
        events.setdefault(name_line.removeprefix("event: "), []).append(
            json.loads(data_line.removeprefix("data: "))
        )
    assert shape(events["model_load.start"][0]) == shape(MODEL_LOAD_START_EVENT)
    assert shape(events["model_load.progress"][0]) == shape(MODEL_LOAD_PROGRESS_EVENT)
    assert shape(events["model_load.end"][0]) == shape(MODEL_LOAD_END_EVENT)
    assert [e["progress"] for e in events["model_load.progress"]] == [0.25, 0.5, 0.75]
    names = list(events)
    assert (names[0], names[-1]) == ("chat.start", "chat.end")
