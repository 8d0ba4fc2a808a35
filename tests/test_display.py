"""How results look: compact reprs, escaped notebook HTML, the load-progress display."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest

from lmbridge import Bridge, EmbeddingResult, ModelInfo, progress_display
from lmbridge.testing import Reply, SimulatedLMStudio, ToolCallSpec

MODEL = "qwen/qwen3-4b"
EMBEDDER = "text-embedding-nomic-embed-text-v1.5"
HOSTILE = "<script>alert('x')</script> & <b>"


@pytest.fixture
def sim() -> SimulatedLMStudio:
    return SimulatedLMStudio(loaded=[MODEL], load_delay=0.05)


@pytest.fixture
async def bridge(sim: SimulatedLMStudio) -> AsyncIterator[Bridge]:
    async with Bridge(transport=sim.transport()) as bridge:
        yield bridge


async def test_a_chat_result_shows_its_reply_escaped(
    sim: SimulatedLMStudio, bridge: Bridge
) -> None:
    sim.script(MODEL, Reply(HOSTILE, reasoning="think <i>hard</i>"))
    result = await bridge.chat(MODEL, "hi")
    page = result._repr_html_()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;b&gt;" in page
    assert "think &lt;i&gt;hard&lt;/i&gt;" in page
    assert "<script>" not in page and "<i>hard" not in page
    assert "stop" in page  # the finish reason
    assert repr(result).startswith("ChatResult(text=")
    assert "raw=" not in repr(result)


async def test_tool_calls_show_in_a_chat_result(sim: SimulatedLMStudio, bridge: Bridge) -> None:
    sim.script(MODEL, Reply(tool_calls=[ToolCallSpec("get_time", {"zone": "<Asia/Tokyo>"})]))
    result = await bridge.chat(MODEL, "time?")
    page = result._repr_html_()
    assert "get_time" in page and "&lt;Asia/Tokyo&gt;" in page
    assert "tool_calls=['get_time']" in repr(result)


@pytest.mark.parametrize("count", [1, 3, 2000])
async def test_an_embedding_result_shows_its_shape_never_every_float(
    bridge: Bridge, count: int
) -> None:
    result = await bridge.embed(EMBEDDER, ["text"] * count)
    dims = len(result[0])
    text = repr(result)
    assert len(text) < 300
    assert f"{count} vectors × {dims} dims" in text
    assert str(result[0][1]) not in text
    page = result._repr_html_()
    assert f"{count} × {dims}" in page and len(page) < 5000


def test_an_embedding_repr_stays_short_with_a_long_model_name() -> None:
    result = EmbeddingResult(
        vectors=[[0.5] * 4096] * 10, model="m" * 500, sent_model="s" * 500, usage=None
    )
    assert len(repr(result)) < 300


async def test_models_show_as_a_table_and_short_lines(bridge: Bridge) -> None:
    models = await bridge.models.list()
    assert isinstance(models, list)
    page = models._repr_html_()
    assert page.count("<tr>") == len(models) + 1  # a header, then one row per model
    assert MODEL in page and "2.5 GB" in page
    lines = repr(models).splitlines()
    assert len(lines) == len(models) + 2
    assert all(len(line) < 200 for line in lines)
    assert "capabilities" not in repr(models)  # not the pydantic dump
    instances = await bridge.models.loaded()
    assert MODEL in instances._repr_html_()
    assert instances[0]._repr_html_().count("<tr>") == 2


def test_a_model_info_escapes_what_the_server_said() -> None:
    info = ModelInfo(key="evil/<img src=x>", display_name=HOSTILE)
    page = info._repr_html_()
    assert "<img" not in page and "<script>" not in page
    assert "&lt;img src=x&gt;" in page
    assert repr(info) == "ModelInfo(key='evil/<img src=x>', state='unknown')"


async def test_an_agent_result_shows_the_transcript(sim: SimulatedLMStudio, bridge: Bridge) -> None:
    sim.script(MODEL, Reply(tool_calls=[ToolCallSpec("lookup", {"q": "<tokyo>"})]))
    sim.script(MODEL, Reply("It is <late>."))

    def lookup(q: str) -> str:
        """Look something up."""
        return f"found {q} & more"

    result = await bridge.run_agent(MODEL, "What <time>?", tools=[lookup])
    page = result._repr_html_()
    assert "completed" in page and "rounds" in page
    assert "lookup" in page and "found &lt;tokyo&gt; &amp; more" in page  # the tool's output
    assert "What &lt;time&gt;?" in page  # the user's message, in the transcript
    assert "It is &lt;late&gt;." in page  # the final answer
    assert "<late>" not in page and "<tokyo>" not in page
    assert "tool_calls=['lookup']" in repr(result)


async def test_a_text_progress_display_shows_a_load_without_lms_from_its_start(
    bridge: Bridge,
) -> None:
    out = io.StringIO()
    display = progress_display(style="text", file=out)
    await bridge.models.ensure_loaded("google/gemma-3-4b", on_progress=display)
    lines = out.getvalue().splitlines()
    assert lines[0] == "loading google/gemma-3-4b via the native chat…"
    assert lines[-1].startswith("loaded google/gemma-3-4b in ")
    # LM Studio's native chat streams the load's steps (the simulator: four).
    assert display.fractions == [0.25, 0.5, 0.75, 1.0]


async def test_a_tqdm_progress_display_draws_a_bar(bridge: Bridge) -> None:
    pytest.importorskip("tqdm")
    out = io.StringIO()
    display = progress_display(style="tqdm", file=out)
    await bridge.models.ensure_loaded("google/gemma-3-4b", on_progress=display)
    assert "100%" in out.getvalue() and "google/gemma-3-4b" in out.getvalue()


async def test_auto_progress_shows_nothing_when_no_load_is_needed(
    bridge: Bridge, capsys: pytest.CaptureFixture[str]
) -> None:
    await bridge.models.ensure_loaded(MODEL, on_progress="auto")
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


async def test_auto_progress_shows_a_load(
    bridge: Bridge, capsys: pytest.CaptureFixture[str]
) -> None:
    await bridge.models.ensure_loaded("google/gemma-3-4b", on_progress="auto")
    captured = capsys.readouterr()
    assert "google/gemma-3-4b" in captured.out + captured.err


async def test_a_rich_progress_display_drives_a_rich_bar(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    import types

    calls: list[tuple[str, object]] = []

    class Progress:  # the part of rich.progress.Progress the display uses
        def __init__(self, *, transient: bool) -> None:
            calls.append(("new", transient))

        def start(self) -> None:
            calls.append(("start", None))

        def add_task(self, description: str, *, total: int) -> int:
            calls.append(("task", description))
            return 7

        def update(self, task: int, *, completed: int) -> None:
            calls.append(("update", (task, completed)))

        def stop(self) -> None:
            calls.append(("stop", None))

    module = types.ModuleType("rich.progress")
    module.Progress = Progress  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rich", types.ModuleType("rich"))
    monkeypatch.setitem(sys.modules, "rich.progress", module)

    display = progress_display(style="rich")
    await bridge.models.ensure_loaded("google/gemma-3-4b", on_progress=display)
    assert calls == [
        ("new", False),
        ("start", None),
        ("task", "loading google/gemma-3-4b via the native chat"),
        ("update", (7, 25)),  # the native chat's model_load.progress steps
        ("update", (7, 50)),
        ("update", (7, 75)),
        ("update", (7, 100)),
        ("stop", None),
    ]
