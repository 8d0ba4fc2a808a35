"""lmbridge's MCP server through a real MCP client over stdio, against the simulator."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from lmbridge.testing import Reply
from tests.mcp_server.conftest import Served
from tests.mcp_server.support import (
    GEMMA,
    NOMIC,
    QWEN,
    TOOL_NAMES,
    data_of,
    open_bridge_server,
    text_of,
    write_mcp_json,
)

# The smallest valid PNG (1x1, transparent).
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


async def test_lists_every_tool_with_its_schema(served: Served, tmp_path: Path) -> None:
    mcp_json = write_mcp_json(tmp_path / "mcp.json", {})
    async with open_bridge_server(served.url, mcp_json, env=served.env) as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
    assert set(tools) == TOOL_NAMES
    chat = tools["chat_completion"].input_schema
    assert set(chat["properties"]) == {
        "prompt",
        "messages",
        "model",
        "max_tokens",
        "temperature",
        "response_format",
    }
    assert chat.get("required", []) == []
    assert tools["load_model"].input_schema["required"] == ["model"]
    assert set(tools["load_model"].input_schema["properties"]) == {"model", "ttl", "context_length"}
    assert tools["generate_embeddings"].input_schema["required"] == ["texts", "model"]
    assert tools["analyze_image"].input_schema["required"] == ["image", "prompt"]
    agent = tools["autonomous_with_mcp"]
    assert agent.input_schema["required"] == ["mcp_name", "task"]
    assert set(agent.input_schema["properties"]) == {"mcp_name", "task", "model", "max_rounds"}
    assert "ctx" not in tools["autonomous_discover_and_execute"].input_schema["properties"]
    assert agent.output_schema is not None
    assert {"output", "stop_reason", "rounds", "tool_calls"} <= set(agent.output_schema["required"])
    for tool in tools.values():
        assert tool.description and len(tool.description) > 40, tool.name


async def test_model_tools(served: Served, tmp_path: Path) -> None:
    mcp_json = write_mcp_json(tmp_path / "mcp.json", {})
    reports: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reports.append((progress, total, message))

    async with open_bridge_server(served.url, mcp_json, env=served.env) as session:
        health = data_of(await session.call_tool("health_check", {}))
        assert health["reachable"] is True
        assert health["version"] == served.sim.version
        assert health["lms_path"] == served.env["LMS_PATH"]
        assert (health["lms_usable"], health["lms_problem"]) == (True, None)
        assert [m["identifier"] for m in health["loaded_models"]] == [QWEN]

        models = {row["key"]: row for row in data_of(await session.call_tool("list_models", {}))}
        assert set(models) == set(served.sim.models)
        assert models[QWEN]["state"] == "loaded"
        assert models[GEMMA]["state"] == "not-loaded"
        assert models[GEMMA]["vision"] is True

        loaded = await session.call_tool(
            "load_model",
            {"model": GEMMA, "context_length": 4096, "ttl": 600},
            progress_callback=on_progress,
        )
        assert data_of(loaded)["instance"]["identifier"] == GEMMA
        assert served.sim.instance(GEMMA) is not None
        assert reports and reports[-1] == (1.0, 1.0, f"loading {GEMMA}")

        rows = data_of(await session.call_tool("list_loaded_models", {}))
        assert {row["identifier"] for row in rows} == {QWEN, GEMMA}

        unloaded = data_of(await session.call_tool("unload_model", {"identifier": GEMMA}))
        assert unloaded == {"unloaded": [GEMMA]}
        assert served.sim.instance(GEMMA) is None


async def test_health_check_reports_an_unreachable_server(served: Served, tmp_path: Path) -> None:
    # The simulated `lms` manages the simulator's port, not this one: found, but not used.
    mcp_json = write_mcp_json(tmp_path / "mcp.json", {})
    async with open_bridge_server("http://127.0.0.1:9", mcp_json, env=served.env) as session:
        health = data_of(await session.call_tool("health_check", {}))
    assert health["reachable"] is False
    assert health["base_url"] == "http://127.0.0.1:9"
    assert health["lms_path"] == served.env["LMS_PATH"]
    assert health["lms_usable"] is False
    assert "not on port 9" in health["lms_problem"]


async def test_chat_tools(served: Served, tmp_path: Path) -> None:
    sim = served.sim
    mcp_json = write_mcp_json(tmp_path / "mcp.json", {})
    image = tmp_path / "dot.png"
    image.write_bytes(PNG)
    async with open_bridge_server(served.url, mcp_json, env=served.env) as session:
        sim.script(QWEN, "Hello from qwen")
        reply = data_of(await session.call_tool("chat_completion", {"prompt": "Hi"}))
        assert reply["text"] == "Hello from qwen"
        assert reply["model"] == QWEN
        assert sim.requests[-1].body["messages"] == [{"role": "user", "content": "Hi"}]

        sim.script(QWEN, Reply('{"city": "Paris"}'))
        schema = {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        }
        reply = data_of(
            await session.call_tool(
                "chat_completion",
                {
                    "messages": [
                        {"role": "system", "content": "Be terse."},
                        {"role": "user", "content": "Capital of France?"},
                    ],
                    "model": QWEN,
                    "max_tokens": 50,
                    "temperature": 0.2,
                    "response_format": schema,
                },
            )
        )
        assert reply["parsed"] == {"city": "Paris"}
        body = sim.requests[-1].body
        assert (body["max_tokens"], body["temperature"]) == (50, 0.2)
        assert body["response_format"]["type"] == "json_schema"

        sim.script(QWEN, " world")
        text = data_of(await session.call_tool("text_completion", {"prompt": "Hello"}))
        assert text["text"] == " world"
        assert sim.requests[-1].path == "/v1/completions"

        sim.script(QWEN, "first", "second")
        first = data_of(await session.call_tool("create_response", {"input": "One"}))
        second = data_of(
            await session.call_tool(
                "create_response", {"input": "Two", "previous_response_id": first["id"]}
            )
        )
        assert (first["text"], second["text"]) == ("first", "second")
        assert sim.requests[-1].body["previous_response_id"] == first["id"]

        vectors = data_of(
            await session.call_tool("generate_embeddings", {"texts": ["a", "b"], "model": NOMIC})
        )
        assert len(vectors["embeddings"]) == 2
        assert vectors["dimensions"] == len(vectors["embeddings"][0]) > 0

        data_uri = "data:image/png;base64," + base64.b64encode(PNG).decode()
        for given in (str(image), data_uri):
            sim.script(GEMMA, "A transparent dot.")
            seen = data_of(
                await session.call_tool(
                    "analyze_image", {"image": given, "prompt": "What is it?", "model": GEMMA}
                )
            )
            assert seen["text"] == "A transparent dot."
            content = sim.requests[-1].body["messages"][0]["content"]
            assert content == [
                {"type": "text", "text": "What is it?"},
                {"type": "image_url", "image_url": {"url": data_uri}},
            ]


async def test_bad_calls_are_tool_errors_and_the_server_carries_on(
    served: Served, tmp_path: Path
) -> None:
    sim = served.sim
    mcp_json = write_mcp_json(tmp_path / "mcp.json", {})
    async with open_bridge_server(served.url, mcp_json, env=served.env) as session:
        typo = await session.call_tool(
            "chat_completion", {"prompt": "Hi", "model": "qwen/qwen3-4bb"}
        )
        assert typo.is_error
        assert "qwen/qwen3-4bb" in text_of(typo)
        assert "Hint: Did you mean 'qwen/qwen3-4b'" in text_of(typo)

        both = await session.call_tool("chat_completion", {"prompt": "Hi", "messages": []})
        assert both.is_error and "exactly one of `prompt` and `messages`" in text_of(both)

        missing = await session.call_tool(
            "analyze_image", {"image": str(tmp_path / "nope.png"), "prompt": "?"}
        )
        assert missing.is_error and "Cannot read the image" in text_of(missing)

        not_image = tmp_path / "notes.txt"
        not_image.write_text("hello")
        wrong = await session.call_tool("analyze_image", {"image": str(not_image), "prompt": "?"})
        assert wrong.is_error and "does not look like an image" in text_of(wrong)

        bad_args = await session.call_tool("load_model", {"model": QWEN, "ttl": 0})
        assert bad_args.is_error

        sim.load(GEMMA)
        ambiguous = await session.call_tool("chat_completion", {"prompt": "Hi"})
        assert ambiguous.is_error
        assert "Several models are loaded" in text_of(ambiguous)
        assert QWEN in text_of(ambiguous) and GEMMA in text_of(ambiguous)

        for identifier in (QWEN, GEMMA):
            assert not (
                await session.call_tool("unload_model", {"identifier": identifier})
            ).is_error
        none = await session.call_tool("text_completion", {"prompt": "Hi"})
        assert none.is_error and "No model is loaded" in text_of(none)

        no_config = await session.call_tool(
            "autonomous_with_mcp", {"mcp_name": "time", "task": "What time is it?", "model": QWEN}
        )
        assert no_config.is_error and "No MCP server named 'time'" in text_of(no_config)

        # Still serving after every failure above.
        sim.script(QWEN, "still here")
        alive = data_of(await session.call_tool("chat_completion", {"prompt": "Hi", "model": QWEN}))
        assert alive["text"] == "still here"
    assert json.loads(mcp_json.read_text()) == {"mcpServers": {}}
