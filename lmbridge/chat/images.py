"""Images for vision models: paths, bytes, ``data:`` and ``http(s)`` URLs, PIL images.

An :class:`Image` is a description of where the pixels are; nothing is read until the request is
built (:meth:`Image.to_part`, awaited by the Bridge), and then without blocking the event loop:
files through ``anyio.Path``, PIL encoding and resizing in a worker thread. Every image is sent
as an OpenAI ``image_url`` content part holding a ``data:`` URI, because LM Studio does not fetch
URLs itself.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import io
import mimetypes
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import anyio
import httpx

from lmbridge.errors import ImageError

T = TypeVar("T")

__all__ = [
    "DEFAULT_MAX_IMAGE_BYTES",
    "ContentPart",
    "Image",
    "ImageInput",
    "attach_images",
    "has_image_parts",
    "resolve_images",
]

DEFAULT_MAX_IMAGE_BYTES = 20 * 1024 * 1024
"""The most bytes lmbridge downloads for one ``http(s)`` image (20 MiB)."""

_FETCH_TIMEOUT = httpx.Timeout(30.0, connect=10.0)

# The formats vision models' image loaders (llama.cpp's stb_image, MLX's PIL) read, by magic bytes.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
)

Kind = Literal["path", "bytes", "url", "data_url", "pil"]


def _sniff(data: bytes) -> str | None:
    """The image type the bytes start with, or ``None``."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    return None


def _is_pil(value: object) -> bool:
    # Checked by module name, so PIL is never imported when the user did not import it.
    module = type(value).__module__
    return module.startswith("PIL.") and hasattr(value, "save") and hasattr(value, "size")


@dataclass(frozen=True, eq=False)
class Image:
    """An image for a vision model, placed in a user message's content list or in ``images=``.

    Build one with :meth:`from_path`, :meth:`from_bytes`, :meth:`from_url` or :meth:`from_pil`;
    ``images=[...]`` also takes the raw values (a path, ``bytes``, a ``data:`` or ``http(s)`` URL,
    a PIL image) and wraps them the same way.

    Images are sent as they are. ``max_side`` asks for a smaller copy: an image whose longer side
    is over ``max_side`` pixels is scaled down to it (keeping its aspect ratio) and re-encoded;
    that needs PIL (``pip install pillow``).
    """

    kind: Kind
    source: Any
    mime: str | None = None
    max_side: int | None = None
    fetch: bool = True
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES

    @classmethod
    def from_path(
        cls, path: str | os.PathLike[str], *, mime: str | None = None, max_side: int | None = None
    ) -> Image:
        """An image file; it is read (without blocking the event loop) when the request is built."""
        return cls("path", os.fspath(path), mime=mime, max_side=_side(max_side))

    @classmethod
    def from_bytes(
        cls, data: bytes, *, mime: str | None = None, max_side: int | None = None
    ) -> Image:
        """Encoded image bytes (PNG, JPEG, GIF, WebP, BMP); the type is read from the bytes when
        ``mime`` is not given."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"from_bytes() takes bytes, not {type(data).__name__}")
        return cls("bytes", bytes(data), mime=mime, max_side=_side(max_side))

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        fetch: bool = True,
        max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
        max_side: int | None = None,
    ) -> Image:
        """A ``data:`` URL (sent as is) or an ``http(s)`` URL.

        Args:
            url: the URL.
            fetch: download an ``http(s)`` image and send it as a ``data:`` URI (the default:
                LM Studio and llama.cpp do not fetch URLs). ``False`` sends the URL itself, for
                servers that fetch images.
            max_bytes: refuse a download larger than this (default 20 MiB).
            max_side: see the class docstring.
        """
        if url.startswith("data:"):
            return cls("data_url", url, max_side=_side(max_side))
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"from_url() takes a data: or http(s) URL, not {url[:40]!r}")
        return cls("url", url, fetch=fetch, max_bytes=max_bytes, max_side=_side(max_side))

    @classmethod
    def from_pil(cls, image: Any, *, max_side: int | None = None) -> Image:
        """A PIL image (encoded as PNG when the request is built)."""
        if not _is_pil(image):
            raise TypeError(f"from_pil() takes a PIL image, not {type(image).__name__}")
        return cls("pil", image, mime="image/png", max_side=_side(max_side))

    @classmethod
    def coerce(cls, value: ImageInput) -> Image:
        """An :class:`Image` from any value ``images=[...]`` accepts."""
        if isinstance(value, Image):
            return value
        if isinstance(value, (bytes, bytearray, memoryview)):
            return cls.from_bytes(bytes(value))
        if isinstance(value, str) and value.startswith(("data:", "http://", "https://")):
            return cls.from_url(value)
        if isinstance(value, (str, os.PathLike)):
            return cls.from_path(value)
        if _is_pil(value):
            return cls.from_pil(value)
        raise TypeError(
            "an image must be a path, bytes, a data: or http(s) URL, a PIL image or an "
            f"lmbridge.Image, not {type(value).__name__}"
        )

    def __repr__(self) -> str:
        if self.kind in ("bytes", "pil"):
            shown = f"<{len(self.source)} bytes>" if self.kind == "bytes" else "<PIL image>"
        elif self.kind == "data_url":
            shown = self.source[:30] + "…"
        else:
            shown = repr(self.source)
        return f"Image.{'from_' + self.kind.replace('data_url', 'url')}({shown})"

    async def to_part(self, *, client: httpx.AsyncClient | None = None) -> dict[str, Any]:
        """The OpenAI ``image_url`` content part, with a ``data:`` URI (or, for an ``http(s)``
        image with ``fetch=False``, the URL).

        Raises:
            FileNotFoundError: no such file.
            ImageError: the bytes are not an image lmbridge recognises, a download failed, was
                not an image, or was larger than ``max_bytes``.
        """
        if self.kind == "url" and not self.fetch:
            return _part(self.source)
        if self.kind == "data_url" and self.max_side is None:
            return _part(self.source)
        data, mime = await self._load(client)
        if self.max_side is not None:
            data, mime = await _to_thread(_shrink, data, mime, self.max_side)
        return _part(f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}")

    async def _load(self, client: httpx.AsyncClient | None) -> tuple[bytes, str]:
        if self.kind == "path":
            data = await anyio.Path(self.source).read_bytes()
            guessed = mimetypes.guess_type(self.source)[0]
            return data, self._mime_of(data, guessed, where=self.source)
        if self.kind == "bytes":
            return self.source, self._mime_of(self.source, None, where="the bytes given")
        if self.kind == "pil":
            return await _to_thread(_encode_pil, self.source), "image/png"
        if self.kind == "data_url":
            return _decode_data_url(self.source)
        return await _download(self.source, self.max_bytes, client)

    def _mime_of(self, data: bytes, guessed: str | None, *, where: str) -> str:
        mime = self.mime or _sniff(data) or guessed
        if mime is None or not mime.startswith("image/"):
            raise ImageError(
                f"{where} does not hold an image lmbridge recognises (PNG, JPEG, GIF, WebP, BMP)",
                hint="Pass mime='image/...' to Image.from_bytes()/from_path() if it is one.",
            )
        return mime


ImageInput = Image | str | os.PathLike[str] | bytes | Any
"""What ``images=[...]`` accepts: an :class:`Image`, a path, ``bytes``, a ``data:`` or ``http(s)``
URL, or a PIL image."""

ContentPart = Mapping[str, Any] | Image
"""One part of a message's content list: an OpenAI content-part dict, or an :class:`Image`."""


def _side(max_side: int | None) -> int | None:
    if max_side is not None and (isinstance(max_side, bool) or max_side < 1):
        raise ValueError("max_side must be a positive number of pixels")
    return max_side


def _part(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def _decode_data_url(url: str) -> tuple[bytes, str]:
    header, _, payload = url.partition(",")
    mime = header[5:].split(";", 1)[0] or "image/png"
    try:
        return base64.b64decode(payload, validate=True), mime
    except (binascii.Error, ValueError) as exc:
        raise ImageError("the data: URL does not hold valid base64") from exc


async def _download(
    url: str, max_bytes: int, client: httpx.AsyncClient | None
) -> tuple[bytes, str]:
    """Fetch an image with a size cap and a content-type check.

    A client of its own (not the Bridge's) so that the server's API token is never sent to the
    image's host.
    """
    own = client is None
    http = client or httpx.AsyncClient(timeout=_FETCH_TIMEOUT, follow_redirects=True)
    try:
        async with http.stream("GET", url) as response:
            if response.status_code >= 400:
                raise ImageError(
                    f"fetching the image failed with HTTP {response.status_code}: {url}"
                )
            mime = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if not mime.startswith("image/"):
                raise ImageError(
                    f"{url} is not an image (Content-Type {mime or 'missing'!r})",
                    hint="Check the URL; a page that shows an image is not the image itself.",
                )
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise _too_big(url, max_bytes)
            buffer = bytearray()
            async for piece in response.aiter_bytes():
                buffer += piece
                if len(buffer) > max_bytes:
                    raise _too_big(url, max_bytes)
            return bytes(buffer), mime
    except httpx.HTTPError as exc:
        raise ImageError(f"fetching the image failed: {url}: {exc}") from exc
    finally:
        if own:
            await http.aclose()


def _too_big(url: str, max_bytes: int) -> ImageError:
    return ImageError(
        f"the image at {url} is larger than max_bytes={max_bytes}",
        hint="Pass Image.from_url(url, max_bytes=...) to allow it, or use a smaller image.",
    )


def _encode_pil(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _shrink(data: bytes, mime: str, max_side: int) -> tuple[bytes, str]:
    """Scale an image down so its longer side is at most ``max_side`` (a worker thread's job)."""
    try:
        # Imported by name: PIL is optional, and not a dependency type checkers can see.
        pil: Any = importlib.import_module("PIL.Image")
    except ImportError as exc:
        raise ImageError(
            "resizing an image (max_side=...) needs PIL", hint="pip install pillow"
        ) from exc
    with pil.open(io.BytesIO(data)) as opened:
        if max(opened.size) <= max_side:
            return data, mime
        copy = opened.copy()
    copy.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    fmt = "JPEG" if mime == "image/jpeg" else "PNG"
    copy.save(buffer, format=fmt)
    return buffer.getvalue(), "image/jpeg" if fmt == "JPEG" else "image/png"


# --- messages ---------------------------------------------------------------------------------


def _has_image_objects(messages: Sequence[Mapping[str, Any]]) -> bool:
    for message in messages:
        content = message.get("content")
        if isinstance(content, list) and any(isinstance(part, Image) for part in content):
            return True
    return False


def has_image_parts(messages: Sequence[Mapping[str, Any]]) -> bool:
    """Whether any message holds an image (an :class:`Image` or an ``image_url`` part)."""
    for message in messages:
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for part in content:
            if isinstance(part, Image):
                return True
            if isinstance(part, Mapping) and part.get("type") == "image_url":
                return True
    return False


def attach_images(
    messages: list[dict[str, Any]], images: Sequence[ImageInput] | None
) -> tuple[list[dict[str, Any]], bool]:
    """``images`` appended to the last user message's content (as :class:`Image` objects).

    Returns the messages and whether any :class:`Image` now stands in them (the caller then
    checks that the model can see, and resolves them with :func:`resolve_images`).

    Raises:
        ValueError: ``images`` given but no user message to put them in.
        TypeError: a value that is not an image.
    """
    if images is not None and not isinstance(images, (list, tuple)):
        raise TypeError("images must be a list of images (paths, bytes, URLs, lmbridge.Image)")
    extra = [Image.coerce(image) for image in images or ()]
    if extra:
        last = next((m for m in reversed(messages) if m.get("role") == "user"), None)
        if last is None:
            raise ValueError("images=[...] needs a user message to attach the images to")
        content = last.get("content")
        parts: list[Any]
        if isinstance(content, str):
            parts = [{"type": "text", "text": content}] if content else []
        else:
            parts = list(content or [])
        last["content"] = [*parts, *extra]
    return messages, bool(extra) or _has_image_objects(messages)


async def resolve_images(
    messages: list[dict[str, Any]], *, client: httpx.AsyncClient | None = None
) -> list[dict[str, Any]]:
    """The messages with every :class:`Image` replaced by its ``image_url`` part (concurrently)."""
    slots: list[tuple[list[Any], int, Image]] = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list) and any(isinstance(part, Image) for part in content):
            parts = list(content)
            message["content"] = parts
            slots.extend(
                (parts, i, part) for i, part in enumerate(parts) if isinstance(part, Image)
            )

    failures: list[Exception] = []

    async def one(parts: list[Any], index: int, image: Image) -> None:
        try:
            parts[index] = await image.to_part(client=client)
        except Exception as exc:  # raised below as itself, not wrapped in an ExceptionGroup
            failures.append(exc)

    async with anyio.create_task_group() as group:
        for parts, index, image in slots:
            group.start_soon(one, parts, index, image)
    if failures:
        raise failures[0]
    return messages


async def _to_thread(function: Callable[..., T], *args: object) -> T:
    """``anyio.to_thread.run_sync``, imported with the first image that needs it (#18)."""
    import anyio.to_thread

    return await anyio.to_thread.run_sync(function, *args)
