"""Images for vision models: encoding, fetching, the vision check, and servers that refuse."""

from __future__ import annotations

import base64
import importlib.util
import pickle
from pathlib import Path
from typing import Any

import anyio
import pytest
import respx

import lmbridge
from lmbridge import Bridge, Image, Message
from lmbridge.testing import Reply, SimulatedLMStudio

VISION = "google/gemma-3-4b"
TEXT_ONLY = "qwen/qwen3-4b"
CHAT = "/v1/chat/completions"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
PNG_URI = "data:image/png;base64," + base64.b64encode(PNG).decode()


@pytest.fixture
def sim() -> SimulatedLMStudio:
    return SimulatedLMStudio(loaded=[VISION, TEXT_ONLY])


def last_messages(sim: SimulatedLMStudio) -> list[dict[str, Any]]:
    bodies = [r.body for r in sim.requests if r.path == CHAT]
    assert bodies, "no chat request was sent"
    return bodies[-1]["messages"]  # type: ignore[no-any-return]


def image_url(part: dict[str, Any]) -> str:
    assert part["type"] == "image_url"
    return part["image_url"]["url"]  # type: ignore[no-any-return]


async def test_images_from_a_path_go_as_data_uris_after_the_text(
    sim: SimulatedLMStudio, tmp_path: Path
) -> None:
    picture = tmp_path / "cat.png"
    picture.write_bytes(PNG)
    async with Bridge(transport=sim.transport()) as bridge:
        result = await bridge.chat(VISION, "What is this?", images=[str(picture), JPEG])
    assert result.text
    (message,) = last_messages(sim)
    text, first, second = message["content"]
    assert text == {"type": "text", "text": "What is this?"}
    assert image_url(first) == PNG_URI
    assert image_url(second).startswith("data:image/jpeg;base64,")
    assert base64.b64decode(image_url(second).split(",", 1)[1]) == JPEG


async def test_image_objects_stand_in_a_content_list_beside_text(
    sim: SimulatedLMStudio, tmp_path: Path
) -> None:
    (tmp_path / "a.png").write_bytes(PNG)
    message = Message.user(
        [
            {"type": "text", "text": "Compare"},
            Image.from_path(tmp_path / "a.png"),
            Image.from_bytes(JPEG),
            Image.from_url(PNG_URI),
        ]
    )
    async with (
        Bridge(transport=sim.transport()) as bridge,
        bridge.stream(VISION, [Message.system("be brief"), message]) as stream,
    ):
        await stream.result()
    system, user = last_messages(sim)
    assert system == {"role": "system", "content": "be brief"}
    assert user["content"][0] == {"type": "text", "text": "Compare"}
    urls = [image_url(part) for part in user["content"][1:]]
    assert urls[0] == PNG_URI and urls[2] == PNG_URI
    assert urls[1].startswith("data:image/jpeg;base64,")


async def test_a_model_that_cannot_see_gets_a_typed_error_naming_vision_models(
    sim: SimulatedLMStudio,
) -> None:
    async with Bridge(transport=sim.transport()) as bridge:
        with pytest.raises(lmbridge.WrongModelTypeError) as caught:
            await bridge.chat(TEXT_ONLY, "What is this?", images=[PNG])
        with pytest.raises(lmbridge.WrongModelTypeError):
            async with bridge.stream(TEXT_ONLY, "What is this?", images=[PNG]):
                pass
    assert caught.value.vision_models == [VISION]
    assert VISION in str(caught.value) and "cannot see" in caught.value.message
    assert pickle.loads(pickle.dumps(caught.value)).vision_models == [VISION]
    assert not [r for r in sim.requests if r.path == CHAT], "nothing was sent"


async def test_with_no_vision_model_loaded_the_downloaded_ones_are_named() -> None:
    sim = SimulatedLMStudio(loaded=[TEXT_ONLY])
    async with Bridge(transport=sim.transport()) as bridge:
        with pytest.raises(lmbridge.WrongModelTypeError) as caught:
            await bridge.chat(TEXT_ONLY, "What is this?", images=[PNG])
    assert caught.value.vision_models == [VISION]
    assert "No vision model is loaded" in (caught.value.hint or "")


async def test_an_agent_run_sends_the_images_once_resolved(sim: SimulatedLMStudio) -> None:
    sim.script(VISION, Reply("a cat"))
    async with Bridge(transport=sim.transport()) as bridge:
        result = await bridge.run_agent(VISION, "What is this?", images=[PNG])
        with pytest.raises(lmbridge.WrongModelTypeError):
            await bridge.run_agent(TEXT_ONLY, "What is this?", images=[PNG])
        async with bridge.stream_agent(VISION, "And this?", images=[JPEG]) as run:
            streamed = await run.result()
    assert result.output == "a cat" and streamed.output
    assert image_url(result.messages[0]["content"][1]) == PNG_URI
    user = last_messages(sim)[0]
    assert image_url(user["content"][1]).startswith("data:image/jpeg")


async def test_bad_image_values_fail_before_sending(sim: SimulatedLMStudio, tmp_path: Path) -> None:
    async with Bridge(transport=sim.transport()) as bridge:
        with pytest.raises(lmbridge.ImageError, match="does not hold an image"):
            await bridge.chat(VISION, "?", images=[b"plain text, not an image"])
        with pytest.raises(FileNotFoundError):
            await bridge.chat(VISION, "?", images=[tmp_path / "missing.png"])
        with pytest.raises(TypeError, match="an image must be"):
            await bridge.chat(VISION, "?", images=[42])
        with pytest.raises(ValueError, match="user message"):
            await bridge.chat(VISION, [Message.system("only a system message")], images=[PNG])
    assert not [r for r in sim.requests if r.path == CHAT]


async def test_http_images_are_fetched_without_the_api_token(sim: SimulatedLMStudio) -> None:
    with respx.mock(assert_all_called=True) as web:
        route = web.get("https://img.test/cat.png").respond(
            200, content=PNG, headers={"content-type": "image/png"}
        )
        async with Bridge(transport=sim.transport(), api_token="sk-secret") as bridge:
            await bridge.chat(VISION, "What is this?", images=["https://img.test/cat.png"])
    assert image_url(last_messages(sim)[0]["content"][1]) == PNG_URI
    assert "authorization" not in route.calls.last.request.headers


async def test_http_images_are_checked_for_type_and_size(sim: SimulatedLMStudio) -> None:
    with respx.mock() as web:
        web.get("https://img.test/page").respond(
            200, text="<html>", headers={"content-type": "text/html"}
        )
        web.get("https://img.test/big.png").respond(
            200, content=PNG * 10, headers={"content-type": "image/png"}
        )
        web.get("https://img.test/gone.png").respond(404)
        async with Bridge(transport=sim.transport()) as bridge:
            with pytest.raises(lmbridge.ImageError, match="not an image"):
                await bridge.chat(VISION, "?", images=["https://img.test/page"])
            big = Image.from_url("https://img.test/big.png", max_bytes=100)
            with pytest.raises(lmbridge.ImageError, match="larger than max_bytes=100"):
                await bridge.chat(VISION, "?", images=[big])
            with pytest.raises(lmbridge.ImageError, match="404"):
                await bridge.chat(VISION, "?", images=["https://img.test/gone.png"])
    assert not [r for r in sim.requests if r.path == CHAT]


async def test_an_http_image_can_be_sent_as_a_url_for_servers_that_fetch(
    sim: SimulatedLMStudio,
) -> None:
    async with Bridge(transport=sim.transport()) as bridge:
        await bridge.chat(
            VISION, "?", images=[Image.from_url("https://img.test/a.png", fetch=False)]
        )
    assert image_url(last_messages(sim)[0]["content"][1]) == "https://img.test/a.png"


def test_resizing_without_pil_says_so() -> None:
    if importlib.util.find_spec("PIL") is not None:
        pytest.skip("PIL is installed: the error does not arise")
    image = Image.from_bytes(PNG, max_side=10)
    with pytest.raises(lmbridge.ImageError, match="needs PIL"):
        anyio.run(image.to_part)


async def test_a_server_without_a_projector_is_reported_clearly() -> None:
    # llama-server's answer to an image for a model loaded without --mmproj (seen on 2026 builds).
    refusal = {
        "error": {
            "code": 500,
            "message": "image input is not supported - hint: if this is unexpected, you may "
            "need to provide the mmproj",
            "type": "server_error",
        }
    }
    with respx.mock(base_url="http://llama.test") as server:
        server.get("/api/v1/models").respond(404)
        server.get("/api/v0/models").respond(404)
        server.get("/v1/models").respond(200, json={"data": [{"id": "gemma-3-270m"}]})
        server.post(CHAT).respond(500, json=refusal)
        async with Bridge("http://llama.test", max_retries=0) as bridge:
            with pytest.raises(lmbridge.WrongModelTypeError) as caught:
                await bridge.chat("gemma-3-270m", "What is this?", images=[PNG])
            with pytest.raises(lmbridge.ServerError):
                await bridge.chat("gemma-3-270m", "no image here")
    assert "projector" in caught.value.message and "mmproj" in (caught.value.hint or "")
    assert caught.value.status_code == 500


class StandInPILImage:
    """Enough of a PIL image for lmbridge: it is recognised by its module and saved as PNG."""

    __module__ = "PIL.PngImagePlugin"
    size = (1, 1)

    def __init__(self) -> None:
        self.formats: list[str] = []

    def save(self, fp: Any, format: str) -> None:
        self.formats.append(format)
        fp.write(PNG)


async def test_a_pil_image_is_encoded_as_png(sim: SimulatedLMStudio) -> None:
    picture = StandInPILImage()
    async with Bridge(transport=sim.transport()) as bridge:
        await bridge.chat(VISION, "What is this?", images=[picture])
    assert picture.formats == ["PNG"]
    assert image_url(last_messages(sim)[0]["content"][1]) == PNG_URI
