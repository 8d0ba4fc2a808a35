"""Can this model see? Checked from the listing before images are sent.

A model without vision sent images gets a :class:`~lmbridge.WrongModelTypeError` naming the vision
models that could take them, instead of whatever the server makes of it (LM Studio and
llama.cpp answer with errors that do not mention vision at all, or the model ignores the image
and makes something up). A listing that does not say (``/v1/models``: llama.cpp, vLLM) lets the
server answer; :func:`vision_error_from_server` then turns llama.cpp's answer into the same error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from lmbridge.errors import APIStatusError, LMBridgeError, WrongModelTypeError
from lmbridge.lifecycle.types import ModelInfo

__all__ = ["Listings", "check_vision", "sees", "vision_error_from_server"]


class Listings(Protocol):
    """What the check reads: one server's model manager, or ``bridge.models`` over several."""

    async def get(self, name: str) -> ModelInfo:
        """The model ``name`` means."""
        ...

    async def list(self) -> Sequence[ModelInfo]:
        """The downloaded models."""
        ...


# What llama-server says when a model without a projector (mmproj) is sent an image (HTTP 500):
# "image input is not supported - hint: if this is unexpected, you may need to provide the mmproj".
_NO_PROJECTOR = ("image input is not supported", "mmproj")


def sees(model: ModelInfo) -> bool | None:
    """Whether ``model`` accepts images: ``None`` when the listing does not say."""
    if model.type == "vlm" or model.capabilities.vision:
        return True
    if model.capabilities.vision is False or model.type in ("llm", "embedding"):
        return False
    return None


async def check_vision(models: Listings, model: str) -> None:
    """Raise :class:`WrongModelTypeError` if the listing says ``model`` cannot see.

    A model the listing does not know, or a listing that does not say, passes: the request path
    reports an unknown model with suggestions, and a server without capabilities answers itself.
    """
    try:
        info = await models.get(model)
    except LMBridgeError:  # unknown name, server down: the request itself reports it
        return
    if sees(info) is not False:
        return
    listing = await models.list()
    seeing = [m for m in listing if sees(m)]
    loaded = [i.identifier for m in seeing for i in m.instances]
    candidates = loaded or [m.key for m in seeing]
    if loaded:
        tip = "Loaded vision models: " + ", ".join(loaded) + "."
    elif candidates:
        tip = "No vision model is loaded; downloaded ones: " + ", ".join(candidates) + "."
    else:
        tip = "No vision model is downloaded: get one, e.g. `lms get google/gemma-3-4b`."
    raise WrongModelTypeError(
        f"{info.key!r} cannot see images (the listing gives it no vision capability).",
        model=model,
        vision_models=candidates,
        hint=f"Send images to a vision model (type vlm). {tip}",
    )


def vision_error_from_server(error: APIStatusError, model: str) -> WrongModelTypeError | None:
    """The clear error for a server's "this model takes no images" answer, else ``None``."""
    text = f"{error.message} {error.body or ''}".lower()
    if not any(marker in text for marker in _NO_PROJECTOR):
        return None
    return WrongModelTypeError(
        f"the server refused the image: {model!r} has no vision projector loaded.",
        model=model,
        url=error.url,
        status_code=error.status_code,
        body=error.body,
        hint=(
            "Use a vision model; llama-server needs the model's projector too "
            "(`--mmproj FILE`, or `-hf` for a model that ships one)."
        ),
    )
