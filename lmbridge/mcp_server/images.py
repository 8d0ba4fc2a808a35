"""An image argument (a file path, an http(s) URL or a data URI) as an OpenAI ``image_url`` part.

Local servers cannot be assumed to fetch URLs or read the host's files, so every image is sent
inline as a data URI. Reading and fetching are capped: an image is a few megabytes, not a disk.
"""

from __future__ import annotations

import base64
import mimetypes
from typing import Any

import anyio
import httpx

from lmbridge.errors import LMBridgeError

__all__ = ["MAX_IMAGE_BYTES", "image_part"]

MAX_IMAGE_BYTES = 20 * 1024 * 1024
_FETCH_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
_HINT = "Pass a readable image file path, an http(s) URL or a data:image/...;base64,... URI."


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _too_large(source: str) -> LMBridgeError:
    return LMBridgeError(
        f"The image {source!r} is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB",
        hint="Resize or recompress it first.",
    )


def _mime_of(name: str, declared: str | None) -> str:
    if declared and declared.split(";")[0].strip().startswith("image/"):
        return declared.split(";")[0].strip()
    guessed, _ = mimetypes.guess_type(name)
    if guessed and guessed.startswith("image/"):
        return guessed
    raise LMBridgeError(
        f"{name!r} does not look like an image (type {declared or guessed})", hint=_HINT
    )


async def _fetch(url: str) -> str:
    """Download ``url``, stopping as soon as it exceeds the cap (a lying Content-Length too)."""
    try:
        async with (
            httpx.AsyncClient(timeout=_FETCH_TIMEOUT, follow_redirects=True) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise LMBridgeError(
                    f"Fetching the image {url!r} answered HTTP {response.status_code}",
                    hint=_HINT,
                    url=url,
                    status_code=response.status_code,
                )
            mime = _mime_of(url, response.headers.get("content-type"))
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_IMAGE_BYTES:
                    raise _too_large(url)
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise LMBridgeError(
            f"Could not fetch the image {url!r}: {type(exc).__name__}: {exc}", hint=_HINT, url=url
        ) from exc
    return _data_uri(b"".join(chunks), mime)


async def _read(path_text: str) -> str:
    try:
        path = await anyio.Path(path_text).expanduser()
        if (await path.stat()).st_size > MAX_IMAGE_BYTES:
            raise _too_large(path_text)
        mime = _mime_of(path_text, None)
        data = await path.read_bytes()
    except OSError as exc:
        raise LMBridgeError(
            f"Cannot read the image {path_text!r}: {exc.strerror or exc}", hint=_HINT
        ) from exc
    return _data_uri(data, mime)


async def image_part(image: str) -> dict[str, Any]:
    """The chat content part showing ``image``.

    Raises:
        LMBridgeError: unreadable, unfetchable, not an image, or too large.
    """
    image = image.strip()
    if image.startswith("data:"):
        if ";base64," not in image or not image[5:].startswith("image/"):
            raise LMBridgeError("The data URI is not a base64 image", hint=_HINT)
        uri = image
    elif image.startswith(("http://", "https://")):
        uri = await _fetch(image)
    else:
        uri = await _read(image)
    return {"type": "image_url", "image_url": {"url": uri}}
