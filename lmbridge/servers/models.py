"""``bridge.models``: the model lifecycle over every server of a Bridge.

Each server has its own :class:`~lmbridge.ModelManager` (its listing cache, ``lms`` gate and
single-flight loads). This is the view over all of them: listings cover every server (each row
says its ``server``), and a load goes where a request for the model would go. With one server,
every call is that server's manager's, unchanged.
"""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, TypeVar

import anyio

from lmbridge import errors
from lmbridge.lifecycle.lms import ProgressCallback
from lmbridge.lifecycle.models import ModelManager
from lmbridge.lifecycle.scheduler import MemoryPolicy, SwapScheduler
from lmbridge.lifecycle.types import (
    InstanceList,
    ListingSource,
    LoadedInstance,
    ModelInfo,
    ModelList,
)
from lmbridge.servers.routing import Router
from lmbridge.servers.server import Server

__all__ = ["BridgeModels"]

T = TypeVar("T")


def _setting(name: str, doc: str) -> Any:
    """A setting read from the first server's manager and written to every server's."""

    def get(self: BridgeModels) -> Any:
        return getattr(self._servers[0].models, name)

    def set_(self: BridgeModels, value: Any) -> None:
        for server in self._servers:
            setattr(server.models, name, value)

    return property(get, set_, doc=doc)


class BridgeModels:
    """``bridge.models``: list, find, load and unload models on the Bridge's servers.

    With one server, each method is :class:`~lmbridge.ModelManager`'s. With several:
    :meth:`list` and :meth:`loaded` cover every server that answers (each row's ``server`` says
    where; servers that cannot be reached are left out, and ``bridge.servers`` shows them
    ``"down"``; if none answers, the first one's error is raised); :meth:`get`,
    :meth:`ensure_loaded` and :meth:`prepare` go where a request for the model would go (or to
    ``server=``); :meth:`unload` unloads from every server that has the instance (or ``server=``);
    :meth:`download` downloads to the first server (or ``server=``). Settings
    (``auto_load``, ``listing_ttl``, ...) apply to every server.
    """

    auto_load: bool = _setting("auto_load", "Whether requests load what they need.")
    listing_ttl: float = _setting("listing_ttl", "Seconds a listing is reused.")
    confirm_ttl: float = _setting("confirm_ttl", "Seconds a loaded-check is reused.")
    load_timeout: float = _setting("load_timeout", "The budget in seconds for one load.")
    default_ttl: int | None = _setting("default_ttl", "Idle seconds until LM Studio unloads.")
    on_insufficient_memory: MemoryPolicy = _setting(
        "on_insufficient_memory", "``swap`` or ``raise`` when a load runs out of memory."
    )
    evict_foreign: bool = _setting("evict_foreign", "Whether swapping may unload others' models.")

    def __init__(self, router: Router) -> None:
        self._router = router
        self._servers = router.servers

    def on(self, server: str) -> ModelManager:
        """The model manager of one server (its URL as ``bridge.servers`` shows it).

        Raises:
            ValueError: no server of this Bridge has that URL.
        """
        return self._server(server).models

    @property
    def source(self) -> ListingSource | None:
        """The first server's listing source (see :attr:`ModelManager.source`)."""
        return self._servers[0].models.source

    @property
    def scheduler(self) -> SwapScheduler:
        """The first server's swap scheduler (``on(url).scheduler`` for another's)."""
        return self._servers[0].models.scheduler

    def cached_models(self) -> tuple[ModelInfo, ...]:
        """Every server's models from its last listing read, without asking (no I/O)."""
        return tuple(m for s in self._servers for m in s.models.cached_models())

    async def list(self) -> ModelList:
        """The downloaded models of every server (see :meth:`ModelManager.list`)."""
        listings = await self._each(lambda manager: manager.list())
        return ModelList(model for listing in listings for model in listing)

    async def loaded(self) -> InstanceList:
        """The loaded instances of every server (see :meth:`ModelManager.loaded`)."""
        listings = await self._each(lambda manager: manager.loaded())
        return InstanceList(instance for listing in listings for instance in listing)

    async def get(self, name: str, *, server: str | None = None) -> ModelInfo:
        """The model ``name`` means, on the server a request for it would go to (see
        :meth:`ModelManager.get`)."""
        return (await self._routed(name, server, lambda manager: manager.get(name)))[1]

    async def ensure_loaded(
        self,
        name: str,
        *,
        ttl: int | None = None,
        context_length: int | None = None,
        gpu: str | float | None = None,
        identifier: str | None = None,
        on_progress: ProgressCallback | Literal["auto"] | None = None,
        download: bool = False,
        flash_attention: bool | None = None,
        eval_batch_size: int | None = None,
        num_experts: int | None = None,
        offload_kv_cache_to_gpu: bool | None = None,
        parallel: int | None = None,
        server: str | None = None,
    ) -> LoadedInstance:
        """Return a loaded instance of ``name``, loading it where a request for it would go
        (or on ``server``); the options are :meth:`ModelManager.ensure_loaded`'s."""

        async def load(manager: ModelManager) -> LoadedInstance:
            return await manager.ensure_loaded(
                name,
                ttl=ttl,
                context_length=context_length,
                gpu=gpu,
                identifier=identifier,
                on_progress=on_progress,
                download=download,
                flash_attention=flash_attention,
                eval_batch_size=eval_batch_size,
                num_experts=num_experts,
                offload_kv_cache_to_gpu=offload_kv_cache_to_gpu,
                parallel=parallel,
            )

        url, instance = await self._routed(name, server, load)
        return instance if instance.server else instance.model_copy(update={"server": url})

    async def download(
        self,
        key: str,
        *,
        quantization: str | None = None,
        on_progress: ProgressCallback | Literal["auto"] | None = None,
        server: str | None = None,
    ) -> ModelInfo:
        """Download a model to ``server`` (default: the first; see
        :meth:`ModelManager.download`)."""
        target = self._server(server) if server is not None else self._servers[0]
        return await target.models.download(key, quantization=quantization, on_progress=on_progress)

    async def unload(
        self, identifier: str, *, all_instances: bool = False, server: str | None = None
    ) -> builtins.list[str]:
        """Unload ``identifier`` from every server that has it loaded (or from ``server``).
        Servers that cannot be reached are left out, as in :meth:`list`.

        Raises:
            ModelNotLoadedError: no server has it loaded.
            APIConnectionError: nothing was unloaded and a server could not be reached.
            (and see :meth:`ModelManager.unload`)
        """
        if server is not None or len(self._servers) == 1:
            target = self._server(server) if server is not None else self._servers[0]
            return await target.models.unload(identifier, all_instances=all_instances)
        unloaded: builtins.list[str] = []
        missing: errors.ModelNotLoadedError | None = None
        down: builtins.list[errors.APIConnectionError] = []
        for each in self._servers:
            try:
                unloaded += await each.models.unload(identifier, all_instances=all_instances)
            except errors.APIConnectionError as exc:
                # Left out like a server list() cannot reach (bridge.servers shows it down),
                # so that what was unloaded elsewhere is still returned.
                exc.server = exc.server or each.url
                down.append(exc)
            except (errors.ModelNotLoadedError, errors.ModelNotFoundError) as exc:
                missing = missing or errors.ModelNotLoadedError(
                    f"no server has {identifier!r} loaded "
                    f"(checked: {', '.join(s.url for s in self._servers)})",
                    model=identifier,
                )
                missing.__cause__ = exc
        if not unloaded and down:
            raise down[0]  # it may be loaded there: "not loaded" would be a guess
        if not unloaded and missing is not None:
            raise missing
        return unloaded

    async def prepare(self, model: str, *, kind: Literal["llm", "embedding"]) -> str:
        """Make sure a request for ``model`` can be served on the server it would go to; the
        name to send (see :meth:`ModelManager.prepare`)."""
        return await self._router.run(model, lambda s: s.models.prepare(model, kind=kind))

    async def lms_status(self) -> tuple[bool, str | None]:
        """Whether ``lms`` drives the first server (see :meth:`ModelManager.lms_status`)."""
        return await self._servers[0].models.lms_status()

    def invalidate(self) -> None:
        """Forget every server's cached listings and confirmations."""
        for server in self._servers:
            server.models.invalidate()

    def forget(self, model: str) -> None:
        """Drop every server's "loaded" confirmation of ``model``."""
        for server in self._servers:
            server.models.forget(model)

    # --- helpers ----------------------------------------------------------------------------

    def _server(self, url: str) -> Server:
        wanted = url.rstrip("/").removesuffix("/v1")
        for server in self._servers:
            if server.url == wanted:
                return server
        known = ", ".join(s.url for s in self._servers)
        raise ValueError(f"this Bridge has no server {url!r} (its servers: {known})")

    async def _routed(
        self, name: str, server: str | None, call: Callable[[ModelManager], Awaitable[T]]
    ) -> tuple[str, T]:
        if server is not None:
            target = self._server(server)
            return target.url, await call(target.models)

        async def on(target: Server) -> tuple[str, T]:
            return target.url, await call(target.models)

        return await self._router.run(name, on)

    async def _each(self, call: Callable[[ModelManager], Awaitable[T]]) -> Sequence[T]:
        """``call`` on every server at once; those that cannot be reached are left out, unless
        none can: then the first one's error is raised."""
        if len(self._servers) == 1:
            return [await call(self._servers[0].models)]
        answers: dict[int, T] = {}
        failures: dict[int, errors.APIConnectionError] = {}
        others: builtins.list[BaseException] = []

        async def one(index: int, server: Server) -> None:
            try:
                answers[index] = await call(server.models)
            except errors.APIConnectionError as exc:
                exc.server = exc.server or server.url
                failures[index] = exc
            except Exception as exc:  # raised below as itself, not in an ExceptionGroup
                others.append(exc)

        async with anyio.create_task_group() as group:
            for index, server in enumerate(self._servers):
                group.start_soon(one, index, server)
        if others:
            raise others[0]
        if not answers:
            raise failures[min(failures)]
        return [answers[i] for i in sorted(answers)]
