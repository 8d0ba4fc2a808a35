"""Knowing, before unloading anything, that a model cannot fit: the swap scheduler's check.

Unloading this Bridge's models to make room is pointless for a model that does not fit even
alone: it would cost every other model of the gather its place and still fail. LM Studio has no
"would it fit on an empty machine" answer (the verdict of ``lms load --estimate-only`` is judged
against the memory free now, see :mod:`~lmbridge.lifecycle.lms.estimate`), so lmbridge puts one
together from what it does know, and raises :class:`~lmbridge.errors.InsufficientMemoryError` at
once when:

1. **it learned so**: a load of this model, with the same settings (context length, GPU
   offload), already ran out of memory when nothing this Bridge may unload was loaded. The record
   holds while every instance it had to fit beside (models this Bridge may not unload) is still
   loaded; when one of them goes, or ``evict_foreign`` lets it be unloaded, the model is tried
   again. With nothing beside it, it did not fit alone, and that stays known for this Bridge
   until ``bridge.models.invalidate()`` (LM Studio judges against the memory free at the time,
   which other programs may have taken);
2. **the figures say so**: the machine's total memory (``lms runtime survey --json``) is smaller
   than what the model needs: the server's own figure from its out-of-memory message ("requires
   approximately N GB"), else the estimate of ``lms load --estimate-only``, else the file size the
   listing shows. The total comes from ``lms`` alone; without ``lms`` only the first rule applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from lmbridge.errors import InsufficientMemoryError, LMBridgeError
from lmbridge.lifecycle.types import LoadedInstance

if TYPE_CHECKING:
    from lmbridge.lifecycle.cache import StateCache
    from lmbridge.lifecycle.server import ServerAccess

__all__ = ["FitCheck", "LoadShape", "nothing_to_unload"]

_GB = 1e9  # LM Studio's "requires approximately N GB" is decimal
_SMALLER = "load a smaller quantization or lower context_length"


@dataclass(frozen=True)
class LoadShape:
    """What decides the memory one load needs: the model, and the load settings that size it.

    Attributes:
        key: the model key.
        context_length: the context length asked for (``None``: the server's default).
        gpu: the GPU offload asked for (``None``: the server's default).
    """

    key: str
    context_length: int | None = None
    gpu: str | float | None = None

    def __str__(self) -> str:
        settings = [f"context_length={self.context_length}"] if self.context_length else []
        settings += [f"gpu={self.gpu}"] if self.gpu is not None else []
        return f"{self.key!r}" + (f" ({', '.join(settings)})" if settings else "")


@dataclass(frozen=True)
class _Learned:
    error: InsufficientMemoryError
    beside: frozenset[str]  # identifiers of the instances it did not fit beside


class FitCheck:
    """What one Bridge knows about whether models fit on its server (see the module docs).

    Args:
        server: the server's ``lms`` (for the total memory and estimates) and URL.
        cache: the listings (for file sizes).
    """

    def __init__(self, *, server: ServerAccess, cache: StateCache) -> None:
        self._server = server
        self._cache = cache
        self._learned: dict[LoadShape, _Learned] = {}
        self._total: int | None = None
        self._total_asked = False
        self._asking = anyio.Lock()
        self._estimates: dict[LoadShape, int | None] = {}

    def learn(
        self, shape: LoadShape, error: InsufficientMemoryError, instances: list[LoadedInstance]
    ) -> None:
        """Loading ``shape`` ran out of memory with nothing left this Bridge may unload: it does
        not fit beside ``instances`` (all loaded, none of them unloadable), alone if none."""
        beside = frozenset(i.identifier for i in instances if i.model_key != shape.key)
        self._learned[shape] = _Learned(error=error, beside=beside)

    def forget(self) -> None:
        """Forget the failures learned (``bridge.models.invalidate()``): the machine may have
        more memory free now than LM Studio judged at the time."""
        self._learned.clear()

    def learned_any(self) -> bool:
        """Whether any failure is on record (so :meth:`learned` may need a listing)."""
        return bool(self._learned)

    def learned(
        self, shape: LoadShape, instances: list[LoadedInstance], *, evict_foreign: bool
    ) -> InsufficientMemoryError | None:
        """The error to raise at once for ``shape``, when a failure this Bridge saw still holds."""
        record = self._learned.get(shape)
        if record is None:
            return None
        listed = {instance.identifier for instance in instances}
        if record.beside and (evict_foreign or not record.beside <= listed):
            del self._learned[shape]  # what it did not fit beside is gone or may go: try again
            return None
        where = "even alone" if not record.beside else f"beside {', '.join(sorted(record.beside))}"
        return self._error(
            shape,
            f"{record.error.message} (lmbridge saw {shape} run out of memory {where} before, "
            "with nothing it may unload left, so it unloads nothing for it now)",
            required_gb=record.error.required_gb,
            hint=(
                f"It does not fit {where}: {_SMALLER}"
                + (
                    "."
                    if not record.beside
                    else ", unload those models, or pass Bridge(evict_foreign=True)."
                )
            ),
        )

    async def too_big(
        self, shape: LoadShape, error: InsufficientMemoryError
    ) -> InsufficientMemoryError | None:
        """The error to raise at once when the figures say ``shape`` cannot fit even on an empty
        machine; ``None`` when they do not (or are not known): unloading may help."""
        total = await self._total_memory()
        if total is None:
            return None
        need, source = await self._need(shape, error)
        if need is None or need <= total:
            return None
        return self._error(
            shape,
            f"{error.message} {shape} needs about {need / _GB:.2f} GB ({source}), more than the "
            f"{total / _GB:.2f} GB of memory LM Studio reports for the whole machine (`lms runtime "
            "survey`): it cannot fit even alone, so lmbridge unloads nothing for it.",
            required_gb=error.required_gb or round(need / _GB, 2),
            hint=f"It does not fit on this machine at all: {_SMALLER}.",
        )

    def _error(
        self, shape: LoadShape, message: str, *, required_gb: float | None, hint: str
    ) -> InsufficientMemoryError:
        return InsufficientMemoryError(
            message,
            required_gb=required_gb,
            model=shape.key,
            url=self._server.rest.base_url,
            hint=hint,
        )

    async def _total_memory(self) -> int | None:
        # Asked once per Bridge (the machine does not change while it runs); concurrent loads
        # that ran out of memory wait for that one answer rather than go on without it.
        async with self._asking:
            if not self._total_asked and await self._server.gate.usable():
                try:
                    self._total = await self._server.lms.total_memory()
                except LMBridgeError:
                    self._total = None  # an lms without `runtime survey`: figures stay unknown
                self._total_asked = True
        return self._total

    async def _need(
        self, shape: LoadShape, error: InsufficientMemoryError
    ) -> tuple[int | None, str]:
        """The memory ``shape`` needs, and where the figure comes from."""
        if error.required_gb:
            return round(error.required_gb * _GB), "LM Studio's figure in its error"
        if shape not in self._estimates:
            try:
                estimate = await self._server.lms.estimate(
                    shape.key, context_length=shape.context_length, gpu=shape.gpu
                )
                self._estimates[shape] = estimate.total_bytes
            except LMBridgeError:
                self._estimates[shape] = None  # an lms before 0.3.27 has no --estimate-only
        if self._estimates[shape] is not None:
            return self._estimates[shape], "`lms load --estimate-only`"
        for model in (await self._cache.listing()).models:
            if model.key == shape.key and model.size_bytes:
                return model.size_bytes, "its file size"
        return None, ""


def nothing_to_unload(
    key: str, error: InsufficientMemoryError, evict_foreign: bool
) -> InsufficientMemoryError:
    """The error for a load that ran out of memory with nothing left this Bridge may unload."""
    whose = "no loaded model" if evict_foreign else "no model this Bridge loaded"
    return InsufficientMemoryError(
        f"{error.message} ({whose} is left to unload for it)",
        required_gb=error.required_gb,
        model=key,
        url=error.url,
        hint=(
            f"It does not fit beside what is loaded: {_SMALLER}"
            + (
                "."
                if evict_foreign
                else ", or pass Bridge(evict_foreign=True) to let lmbridge "
                "unload models it did not load."
            )
        ),
    )
