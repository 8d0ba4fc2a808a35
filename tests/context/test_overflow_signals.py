"""Every way a server says "the prompt does not fit" becomes one ContextLengthExceededError."""

from __future__ import annotations

import json
import pickle

import pytest

from lmbridge import Bridge, ContextLengthExceededError, StreamError
from lmbridge.testing import Reply, SimulatedLMStudio
from lmbridge.transport.classify import error_from_ok_answer, error_from_response, error_only

MODEL = "qwen/qwen3-4b"
LONG = "word " * 4000  # ~20 000 characters: ~5 000 simulated tokens, over a 2048 window


def _sim(style: str) -> SimulatedLMStudio:
    sim = SimulatedLMStudio()
    sim.load(MODEL, context_length=2048)
    sim.context_overflow = style  # type: ignore[assignment]
    return sim


@pytest.mark.parametrize("style", ["error", "error_object", "error_in_200"])
async def test_chat_overflow_in_every_lm_studio_shape(style: str) -> None:
    sim = _sim(style)
    async with Bridge(transport=sim.transport()) as bridge:
        with pytest.raises(ContextLengthExceededError) as caught:
            await bridge.chat(MODEL, LONG)
    error = caught.value
    assert error.context_length == 2048
    assert error.prompt_tokens is not None and error.prompt_tokens > 2048
    assert 'fit="trim"' in (error.hint or "") and "context_length" in (error.hint or "")


@pytest.mark.parametrize("style", ["error", "error_object", "error_in_200", "empty_stream"])
async def test_stream_overflow_in_every_lm_studio_shape(style: str) -> None:
    sim = _sim(style)
    async with Bridge(transport=sim.transport()) as bridge:
        with pytest.raises(ContextLengthExceededError) as caught:
            async with bridge.stream(MODEL, LONG) as stream:
                await stream.result()
    assert caught.value.context_length == 2048
    assert caught.value.prompt_tokens is not None


async def test_an_empty_stream_after_a_short_prompt_stays_a_stream_error() -> None:
    sim = _sim("error")
    sim.script(MODEL, Reply("never sent", stop_after_chunks=0, omit_done=True))
    async with Bridge(transport=sim.transport()) as bridge:
        with pytest.raises(StreamError) as caught:
            async with bridge.stream(MODEL, "Hi") as stream:
                await stream.result()
    assert not isinstance(caught.value, ContextLengthExceededError)


async def test_finish_reason_length_stays_a_normal_truncated_result() -> None:
    sim = _sim("error")
    sim.script(MODEL, Reply("cut off mid", finish_reason="length"))
    async with Bridge(transport=sim.transport()) as bridge:
        result = await bridge.chat(MODEL, "Tell me everything")
    assert result.truncated and result.text == "cut off mid"


LLAMA_400 = {
    "error": {
        "code": 400,
        "message": "the request exceeds the available context size, try increasing it",
        "type": "exceed_context_size_error",
        "n_prompt_tokens": 3012,
        "n_ctx": 2048,
    }
}


@pytest.mark.parametrize(
    ("status", "body", "prompt", "window"),
    [
        (400, LLAMA_400, 3012, 2048),
        (400, {"error": "n_keep >= n_ctx"}, None, None),
        (400, {"error": {"message": "n_keep: 2100 >= n_ctx: 2048", "type": "x"}}, None, 2048),
        (
            400,
            {
                "error": "Trying to keep the first 5000 tokens when context the overflows. However, "
                "the model is loaded with context length of only 4096 tokens, which is not enough."
            },
            5000,
            4096,
        ),
        (
            500,
            {
                "error": {
                    "message": "Reached context length of 4096 tokens with model (arch: gemma3)"
                }
            },
            None,
            4096,
        ),
        (
            400,
            {
                "error": {
                    "message": "This model's maximum context length is 8192 tokens. However, you "
                    "requested 9000 tokens.",
                    "type": "invalid_request_error",
                    "code": "context_length_exceeded",
                }
            },
            9000,
            8192,
        ),
        (
            400,
            "The number of tokens to keep from the initial prompt is greater than the context length",
            None,
            None,
        ),
    ],
)
def test_classify_reads_every_wording_and_its_figures(
    status: int, body: object, prompt: int | None, window: int | None
) -> None:
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    error = error_from_response(status, {}, raw, url="http://x/v1/chat/completions", model="m")
    assert isinstance(error, ContextLengthExceededError)
    assert (error.prompt_tokens, error.context_length) == (prompt, window)
    assert error.status_code == status


def test_other_errors_are_not_read_as_overflows() -> None:
    for body in ({"error": "Invalid API key"}, {"error": {"message": "max_tokens must be >= 1"}}):
        error = error_from_response(400, {}, json.dumps(body).encode(), url=None, model=None)
        assert not isinstance(error, ContextLengthExceededError)
    unexpected = b'{"error": "Unexpected endpoint or method."}'
    error = error_from_ok_answer(200, unexpected, error_only(unexpected), url=None, model=None)
    assert not isinstance(error, ContextLengthExceededError)


def test_the_error_is_picklable_and_shows_its_figures() -> None:
    error = ContextLengthExceededError(
        "too long", prompt_tokens=3000, context_length=2048, model="m", url="http://x"
    )
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.prompt_tokens, copy.context_length, copy.status_code) == (3000, 2048, 400)
    assert "3000" in str(copy) and "2048" in str(copy) and 'fit="trim"' in str(copy)
