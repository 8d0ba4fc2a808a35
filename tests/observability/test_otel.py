"""``Bridge(instrument=True)``: GenAI spans and metrics, read with the SDK's in-memory exporters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lmbridge import Bridge
from lmbridge.testing import Reply, SimError, SimulatedLMStudio, ToolCallSpec
from tests.observability.support import NOMIC, QWEN, SECRET, no_lms

_EXPORTER = InMemorySpanExporter()
_READER = InMemoryMetricReader(preferred_temporality={Histogram: AggregationTemporality.DELTA})


@pytest.fixture(scope="module", autouse=True)
def providers() -> None:
    # The global providers can be set once per process; every test shares these two.
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        trace.set_tracer_provider(provider)
        metrics.set_meter_provider(MeterProvider(metric_readers=[_READER]))


@pytest.fixture
def spans() -> InMemorySpanExporter:
    _EXPORTER.clear()
    _READER.get_metrics_data()  # deltas: this drops what earlier tests recorded
    return _EXPORTER


def _metric_points() -> dict[str, list[Any]]:
    """The points recorded since the last read, by metric name (one read: deltas)."""
    data = _READER.get_metrics_data()
    points: dict[str, list[Any]] = {}
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                points.setdefault(metric.name, []).extend(metric.data.data_points)
    return points


def _by_name(finished: tuple[ReadableSpan, ...], name: str) -> ReadableSpan:
    found = [s for s in finished if s.name == name]
    assert len(found) == 1, [s.name for s in finished]
    return found[0]


async def test_a_chat_is_a_client_span_with_the_genai_attributes(
    spans: InMemorySpanExporter,
) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    sim.script(QWEN, Reply(f"answer {SECRET}"))
    async with sim.serve() as url, Bridge(url, instrument=True) as bridge:
        result = await bridge.chat(QWEN, SECRET, temperature=0.2, max_tokens=50)
    span = _by_name(spans.get_finished_spans(), f"chat {QWEN}")
    assert span.kind == trace.SpanKind.CLIENT
    attributes = dict(span.attributes or {})
    port = int(url.rsplit(":", 1)[1])
    assert result.usage is not None
    assert attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "lm_studio",
        "gen_ai.request.model": QWEN,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.max_tokens": 50,
        "gen_ai.response.model": result.model,
        "gen_ai.usage.input_tokens": result.usage.prompt_tokens,
        "gen_ai.usage.output_tokens": result.usage.completion_tokens,
        "gen_ai.response.finish_reasons": ("stop",),
        "server.address": "127.0.0.1",
        "server.port": port,
    }
    assert not any("zebra" in str(v) for v in attributes.values()), "no content by default"


async def test_errors_stream_and_embeddings_spans(spans: InMemorySpanExporter) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN, NOMIC])
    sim.fail_next(QWEN, SimError(400, {"error": "bad"}))
    async with Bridge(transport=sim.transport(), instrument=True, max_retries=0) as bridge:
        with pytest.raises(Exception, match="bad"):
            await bridge.chat(QWEN, "hi")
        async with bridge.stream(QWEN, "hi") as stream:
            reply = await stream.result()
        await bridge.embed(NOMIC, "text")
    finished = spans.get_finished_spans()
    assert [s.name for s in finished] == [f"chat {QWEN}", f"chat {QWEN}", f"embeddings {NOMIC}"]
    failed, streamed, embedded = finished
    assert failed.attributes is not None and failed.attributes["error.type"] == "BadRequestError"
    assert failed.status.status_code == trace.StatusCode.ERROR
    assert streamed.attributes is not None
    assert reply.usage is not None
    assert streamed.attributes["gen_ai.usage.output_tokens"] == reply.usage.completion_tokens
    assert embedded.attributes is not None
    assert embedded.attributes["gen_ai.operation.name"] == "embeddings"


async def test_an_agent_span_holds_its_chat_and_tool_spans(spans: InMemorySpanExporter) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    sim.script(QWEN, Reply(tool_calls=[ToolCallSpec("add", {"a": 1, "b": 2})]), Reply("3"))

    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    async with Bridge(transport=sim.transport(), instrument=True) as bridge:
        await bridge.run_agent(QWEN, "add", tools=[add])
    finished = spans.get_finished_spans()
    agent = _by_name(finished, "invoke_agent")
    tool = _by_name(finished, "execute_tool add")
    chats = [s for s in finished if s.name == f"chat {QWEN}"]
    assert len(chats) == 2
    assert agent.context is not None and agent.parent is None
    for child in (*chats, tool):
        assert child.parent is not None and child.parent.span_id == agent.context.span_id
        assert child.context is not None and child.context.trace_id == agent.context.trace_id
    assert tool.attributes is not None
    assert tool.attributes["gen_ai.tool.name"] == "add"
    assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
    assert (
        agent.attributes is not None and agent.attributes["gen_ai.operation.name"] == "invoke_agent"
    )


async def test_a_load_is_its_own_span_inside_the_call_that_needed_it(
    spans: InMemorySpanExporter, tmp_path: Path
) -> None:
    sim = SimulatedLMStudio(jit=False)
    async with Bridge(transport=sim.transport(), lms_path=no_lms(tmp_path), instrument=True) as b:
        await b.chat(QWEN, "hi")
    finished = spans.get_finished_spans()
    load = _by_name(finished, f"load_model {QWEN}")
    chat = _by_name(finished, f"chat {QWEN}")
    assert load.parent is not None and chat.context is not None
    assert load.parent.span_id == chat.context.span_id
    assert load.attributes is not None and load.attributes["lmbridge.load.via"] == "rest"


async def test_duration_token_and_first_chunk_metrics(spans: InMemorySpanExporter) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    async with Bridge(transport=sim.transport(), instrument=True) as bridge:
        result = await bridge.chat(QWEN, "hi")
        async with bridge.stream(QWEN, "hi") as stream:
            await stream.result()
    points = _metric_points()
    durations = points["gen_ai.client.operation.duration"]
    assert sum(p.count for p in durations) == 2
    assert all(p.attributes["gen_ai.request.model"] == QWEN for p in durations)
    tokens = {p.attributes["gen_ai.token.type"]: p for p in points["gen_ai.client.token.usage"]}
    assert set(tokens) == {"input", "output"}
    assert result.usage is not None and tokens["input"].count == 2
    first_chunk = points["gen_ai.client.operation.time_to_first_chunk"]
    assert sum(p.count for p in first_chunk) == 1, "streams only, as the conventions say"


async def test_log_content_puts_messages_on_the_span(spans: InMemorySpanExporter) -> None:
    sim = SimulatedLMStudio(loaded=[QWEN])
    async with Bridge(transport=sim.transport(), instrument=True, log_content=True) as bridge:
        await bridge.chat(QWEN, SECRET)
    span = _by_name(spans.get_finished_spans(), f"chat {QWEN}")
    assert span.attributes is not None and SECRET in str(span.attributes["gen_ai.input.messages"])


def test_import_lmbridge_and_an_uninstrumented_bridge_import_no_opentelemetry() -> None:
    code = (
        "import sys, lmbridge; lmbridge.Bridge('http://127.0.0.1:9'); "
        "print(any(m.startswith('opentelemetry') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
