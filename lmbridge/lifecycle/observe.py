"""A model load as observers see it: started, progress and finished events, a ``load_model`` span."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, Protocol, TypeVar, cast

import anyio

from lmbridge.display.progress import announce_load
from lmbridge.events import EventEmitter, ModelLoadFinished, ModelLoadProgress, ModelLoadStarted
from lmbridge.lifecycle.lms.runner import ProgressCallback, report_progress
from lmbridge.lifecycle.types import LoadedInstance, ModelInfo

__all__ = ["Via", "watched_load"]

Via = Literal["lms", "rest", "chat", "jit"]


class _Options(Protocol):
    # The loaders' LoadOptions (a dataclass), known by shape: that module imports this one.
    @property
    def on_progress(self) -> ProgressCallback | None: ...


Opts = TypeVar("Opts", bound=_Options)

# What the progress display says of each method (the loaders' own announce_load wording).
_SHOWN: dict[Via, str] = {
    "lms": "lms load",
    "rest": "the REST API",
    "chat": "the native chat",
    "jit": "JIT",
}


async def watched_load(
    events: EventEmitter,
    load: Callable[[ModelInfo, Opts], Awaitable[LoadedInstance]],
    model: ModelInfo,
    options: Opts,
    *,
    via: Via,
) -> LoadedInstance:
    """Run ``load(model, options)``, reporting it to ``events`` (and its progress to both)."""
    key = model.key
    shown = options.on_progress
    # The wrapper below is no LoadWatcher, so the display hears of the load from here instead.
    announce_load(shown, key, _SHOWN[via])

    async def progress(fraction: float) -> None:
        await events.emit(ModelLoadProgress(model=key, progress=fraction))
        await report_progress(shown, fraction)

    began = time.perf_counter()
    await events.emit(ModelLoadStarted(model=key, via=via))
    with events.span(
        f"load_model {key}",
        attributes={"gen_ai.request.model": key, "lmbridge.load.via": via},
    ):
        try:
            watched = cast(Opts, dataclasses.replace(cast(Any, options), on_progress=progress))
            instance = await load(model, watched)
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await events.emit(
                    ModelLoadFinished(
                        model=key,
                        via=via,
                        duration=time.perf_counter() - began,
                        error=type(exc).__qualname__,
                    )
                )
            raise
    await events.emit(ModelLoadFinished(model=key, via=via, duration=time.perf_counter() - began))
    return instance
