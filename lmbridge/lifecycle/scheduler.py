"""The swap scheduler: sharing too little memory between the models one Bridge uses at once.

Without it, a gather over models that do not all fit fails, or thrashes under JIT auto-evict. It
knows which models this Bridge loaded, the requests each serves now, and which wait. With that it:

- on an out-of-memory load, picks a *victim* among the instances this Bridge loaded (others only
  with ``evict_foreign=True``), *closes* it (its new requests wait instead of starting), waits
  until its requests in flight are done, unloads it and lets the load try again;
- before a JIT load (LM Studio's auto-evict keeps one JIT model and cuts off its replies), closes
  and drains the other JIT models this Bridge loaded the same way, so no reply is cut off. A JIT
  load whose caller gave up goes on in LM Studio: it holds the JIT slot (those models stay
  closed, no other JIT load starts) until a listing shows it ended, or its time is up.

Requests that find their model closed wait for it to reopen, and then prepare it again (loading it
back if it was unloaded): requests are served in batches per model, not one swap per request.

Fairness: one swap at a time, in the order the loads asked (``anyio.Lock`` wakes waiters first in,
first out); a victim admits nothing new from the moment it is chosen, so each swap waits only for
requests that were already running. A model waiting for room is therefore served after at most
one swap per model ahead of it, however many requests for resident models keep arriving.

Every wait is in the waiting request's own task (no background task) and ends, with its queue
entry, when that task is cancelled; the victim reopens on every exit path.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING

import anyio

from lmbridge.errors import InsufficientMemoryError, ModelNotLoadedError
from lmbridge.events import EventEmitter, Swap
from lmbridge.lifecycle.fit import FitCheck, LoadShape, nothing_to_unload
from lmbridge.lifecycle.swap_terms import (
    MemoryPolicy,
    Mine,
    QueueEntry,
    SwapSettings,
    base_key,
    log,
    logger,
)
from lmbridge.lifecycle.types import LoadedInstance

if TYPE_CHECKING:
    from lmbridge.lifecycle.cache import StateCache
    from lmbridge.lifecycle.unloading import Unloader

__all__ = ["MemoryPolicy", "QueueEntry", "SwapScheduler", "SwapSettings", "logger"]

# Seconds between listings while an abandoned JIT load may still end, doubling (as the loader).
_FIRST_POLL = 0.05
_LONGEST_POLL = 1.0


class SwapScheduler:
    """Counts this Bridge's requests per instance and makes room when a load runs out of memory.

    Args:
        settings: ``on_insufficient_memory``, ``evict_foreign`` and ``load_timeout``.
        cache: the listings victims are chosen from (fresh ones), and the confirmations to drop
            when a JIT load evicted models.
        unloader: unloads the victims.
        fit: what is known of whether a model fits: a model known not to fit is refused before
            any of this Bridge's models is unloaded for it.
    """

    def __init__(
        self,
        *,
        settings: SwapSettings,
        cache: StateCache,
        unloader: Unloader,
        fit: FitCheck,
        events: EventEmitter | None = None,
    ) -> None:
        self._settings = settings
        self._fit = fit
        self._events = events or EventEmitter()
        self._cache = cache
        self._unloader = unloader
        self._made_lock: anyio.Lock | None = None  # see _lock
        self._changed: anyio.Event | None = None  # a broadcast, made when a task waits (#18)
        self._running: dict[str, int] = {}
        self._waiting: dict[str, int] = {}
        self._closed: set[str] = set()
        self._mine: dict[str, Mine] = {}
        # Keys whose load this Bridge started and then abandoned (cancelled): LM Studio may finish
        # such a load, and the instance it makes is this Bridge's to unload too.
        self._abandoned: set[str] = set()
        self._loading: dict[str, int] = {}  # model key -> loads of this Bridge running now
        # Model key of a JIT load this Bridge abandoned while LM Studio goes on with it -> this
        # Bridge's JIT models its auto-evict will unload when it ends: they stay closed till then.
        self._pending_jit: dict[str, list[str]] = {}
        self._ticks = itertools.count()
        self._used: dict[str, int] = {}  # identifier -> tick of its last use, for LRU
        self._swaps = 0  # swaps done: a load that failed before the last one may simply retry

    @property
    def _lock(self) -> anyio.Lock:
        """One swap (or JIT load) at a time, first come first served; made at first use (#18)."""
        self._made_lock = self._made_lock or anyio.Lock()
        return self._made_lock

    # --- the request path -----------------------------------------------------------------

    def admit(self, name: str) -> bool:
        """Count a request for ``name`` as running, unless ``name`` is closed (``False``: wait with
        :meth:`wait_open`, then prepare the model again). Never awaits, so a name just prepared
        cannot be closed and unloaded in between."""
        if name in self._closed:
            return False
        self._running[name] = self._running.get(name, 0) + 1
        self._used[name] = next(self._ticks)
        return True

    def release(self, name: str) -> None:
        """The request admitted for ``name`` ended (answered, failed or cancelled)."""
        left = self._running.get(name, 0) - 1
        if left > 0:
            self._running[name] = left
        else:
            self._running.pop(name, None)
        self._used[name] = next(self._ticks)
        self._notify()

    async def wait_open(self, name: str) -> None:
        """Wait, queued, until ``name`` is open again (swapped out and free to come back).

        Raises:
            ModelNotLoadedError: it stayed closed longer than ``load_timeout``.
        """
        try:
            with self.queued(name), anyio.fail_after(self._settings.load_timeout):
                while name in self._closed:
                    if any(name in others for others in self._pending_jit.values()):
                        # Closed for a JIT load LM Studio may still finish: nobody else watches
                        # the server for it (no background task), so this waiter does.
                        async with self._lock:
                            await self._settle_abandoned_jit()
                    else:
                        self._changed = self._changed or anyio.Event()
                        await self._changed.wait()
        except TimeoutError as exc:
            raise ModelNotLoadedError(
                f"A request for {name!r} waited longer than load_timeout="
                f"{self._settings.load_timeout:g} s while the model was swapped out.",
                model=name,
                hint="Raise Bridge(load_timeout=...), or run fewer models at once.",
            ) from exc

    @contextmanager
    def queued(self, name: str) -> Iterator[None]:
        """Count a request for ``name`` as waiting (for its model to be loaded, or to reopen)
        while the block runs; :meth:`queue` shows it."""
        self._waiting[name] = self._waiting.get(name, 0) + 1
        try:
            yield
        finally:
            left = self._waiting[name] - 1
            if left:
                self._waiting[name] = left
            else:
                del self._waiting[name]

    def queue(self) -> dict[str, QueueEntry]:
        """This Bridge's requests per model: running, waiting, closed, whose. Keyed by instance
        identifier, except requests still waiting for their model's load, which are counted
        under the name they gave (usually the same: the key)."""
        names = sorted({*self._running, *self._waiting, *self._closed, *self._mine})
        return {
            name: QueueEntry(
                running=self._running.get(name, 0),
                waiting=self._waiting.get(name, 0),
                closed=name in self._closed,
                loaded_here=name in self._mine,
            )
            for name in names
        }

    def describe(self) -> str:
        """The queue in one sentence, for error hints (empty when nothing is queued or loaded)."""
        parts = [
            f"{name}: {entry.running} running, {entry.waiting} waiting"
            + (" (being swapped out)" if entry.closed else "")
            for name, entry in self.queue().items()
        ]
        return f"This Bridge's requests per model: {'; '.join(parts)}." if parts else ""

    # --- the loaders' side ------------------------------------------------------------------

    def loaded(self, instance: LoadedInstance, *, jit: bool) -> None:
        """The loaders loaded ``instance`` for this Bridge: it may be unloaded to make room."""
        self._mine[instance.identifier] = Mine(key=instance.model_key, jit=jit)
        self._abandoned.discard(instance.model_key)
        self._used[instance.identifier] = next(self._ticks)
        log("loaded", instance.identifier)

    async def check_fits(self, shape: LoadShape) -> None:
        """Before loading ``shape``: raise at once if a failure this Bridge saw says it does not
        fit (:meth:`~lmbridge.lifecycle.fit.FitCheck.learned`), instead of unloading for it again.

        Raises:
            InsufficientMemoryError: it ran out of memory before with nothing left to unload.
        """
        if self._fit.learned_any():  # no listing read otherwise: the common case costs nothing
            self._cache.drop_listings()  # fresh: a model gone since may have made room
            instances = await self._cache.instances()
            known = self._fit.learned(shape, instances, evict_foreign=self._settings.evict_foreign)
            if known is not None:
                raise known

    async def make_room(
        self, key: str, error: InsufficientMemoryError, *, shape: LoadShape | None = None
    ) -> None:
        """After loading ``key`` (with the settings of ``shape``) ran out of memory: unload one
        instance so the load may be retried.

        Waits (up to ``load_timeout``) until the victim has no request of this Bridge running.
        Returns at once when another swap freed memory since, so the load is retried first.

        Raises:
            InsufficientMemoryError: ``error``, when the policy is ``"raise"`` or nothing may be
                unloaded (the model does not fit even beside the models this Bridge may not
                touch: remembered, see :meth:`check_fits`), or the wait took longer than
                ``load_timeout``; a new one when the model cannot fit even alone
                (:meth:`~lmbridge.lifecycle.fit.FitCheck.too_big`), before anything is unloaded.
        """
        if self._settings.on_insufficient_memory == "raise":
            raise error
        shape = shape or LoadShape(key)
        too_big = await self._fit.too_big(shape, error)
        if too_big is not None:
            raise too_big from error
        swaps_before = self._swaps
        try:
            with anyio.fail_after(self._settings.load_timeout):
                while True:
                    async with self._lock:
                        if self._swaps != swaps_before:
                            return  # memory was freed while this load queued: try it again
                        self._cache.drop_listings()
                        instances = await self._cache.instances()
                        self._prune(instances)
                        victim = self._victim(key, instances)
                        if victim is not None:
                            await self._swap_out(victim, key)
                            return
                        pending = self._other_loads(key)
                        if not pending:
                            self._fit.learn(shape, error, instances)
                            raise nothing_to_unload(key, error, self._settings.evict_foreign)
                    # Loads of this Bridge still running may make victims (or fail and free
                    # memory): wait for one to end, without the lock (a JIT load needs it).
                    await self._until(self._loads_changed(key, pending))
        except TimeoutError as exc:
            raise InsufficientMemoryError(
                f"{error.message} lmbridge waited longer than load_timeout="
                f"{self._settings.load_timeout:g} s for a model to be free to unload.",
                required_gb=error.required_gb,
                model=key,
                hint="Raise Bridge(load_timeout=...), or run fewer models at once.",
            ) from exc

    @contextmanager
    def loading(self, key: str) -> Iterator[None]:
        """Around one load of ``key`` by this Bridge. A cancelled load is remembered: LM Studio
        may finish it, and the instance it makes is this Bridge's to unload too."""
        self._loading[key] = self._loading.get(key, 0) + 1
        try:
            yield
        except anyio.get_cancelled_exc_class():
            self._abandoned.add(key)
            raise
        finally:
            left = self._loading[key] - 1
            if left:
                self._loading[key] = left
            else:
                del self._loading[key]
            self._notify()

    async def _swap_out(self, victim: str, key: str) -> None:
        # Within make_room's deadline; the victim reopens on every exit, unloaded or not.
        self._close([victim])
        try:
            await self._drain([victim], for_key=key, kind="waiting")
            log("swap", victim, key)
            await self._unloader.unload(victim, all_instances=False)
            self._forget(victim)
            self._swaps += 1
            await self._events.emit(Swap(model=key, previous=victim, reason="out of memory"))
        finally:
            self._reopen([victim])

    def _loads_changed(self, key: str, seen: frozenset[str]) -> Callable[[], bool]:
        return lambda: self._other_loads(key) != seen

    def _other_loads(self, key: str) -> frozenset[str]:
        return frozenset(loading for loading in self._loading if loading != key)

    @asynccontextmanager
    async def jit_load(self, key: str) -> AsyncIterator[None]:
        """Around a JIT load of ``key``: the other JIT models this Bridge loaded are closed and
        drained first (auto-evict would unload them, cutting off their replies), and stay closed
        until the load is over; one JIT load at a time. A load abandoned while LM Studio goes on
        with it is over only once it ended there (:meth:`_settle_abandoned_jit`)."""
        try:
            with anyio.fail_after(self._settings.load_timeout):
                await self._lock.acquire()
        except TimeoutError as exc:
            raise ModelNotLoadedError(
                f"Loading {key!r} by JIT waited longer than load_timeout="
                f"{self._settings.load_timeout:g} s for another JIT load or swap to finish.",
                model=key,
                hint="Raise Bridge(load_timeout=...), or run fewer models at once.",
            ) from exc
        others: list[str] = []
        try:
            try:
                with anyio.fail_after(self._settings.load_timeout):
                    # An abandoned JIT load still holds the slot: its end would evict this one.
                    await self._settle_abandoned_jit()
                    others = [n for n, mine in self._mine.items() if mine.jit and mine.key != key]
                    self._close(others)
                    await self._drain(others, for_key=key, kind="jit_wait")
            except TimeoutError as exc:
                raise ModelNotLoadedError(
                    f"Loading {key!r} by JIT waited longer than load_timeout="
                    f"{self._settings.load_timeout:g} s for another JIT load to end or for "
                    f"{', '.join(others) or 'the models it evicts'} to finish (auto-evict would "
                    "cut their replies off).",
                    model=key,
                    hint="Raise Bridge(load_timeout=...), or run fewer models at once.",
                ) from exc
            try:
                yield
            except BaseException:
                if self._cache.abandoned(key) is not None:
                    # Cancelled or timed out, but LM Studio goes on loading, and its auto-evict
                    # will unload `others` when it is done: they stay closed until then.
                    self._pending_jit[key] = others
                    self._abandoned.add(key)
                    others = []
                raise
            self._evicted(others)
        finally:
            self._reopen(others)  # on every exit, but for the models an abandoned load holds
            self._lock.release()

    def _evicted(self, names: list[str]) -> None:
        """A JIT load ended, and auto-evict unloaded ``names`` (or, with auto-evict off, they stay
        and may be used): their "loaded" confirmations must go before they reopen, since a request
        sent to an evicted model would make the server load it back at once."""
        for name in names:
            self._forget(name)
        if names:
            self._cache.invalidate()
            self._swaps += 1

    async def _settle_abandoned_jit(self) -> None:
        """Wait (holding the lock) until every abandoned JIT load has ended on the server: its
        instance is listed, or its time is up (it failed). Then reopen the models it kept closed,
        forgetting those it evicted; the instance it made is this Bridge's, loaded by JIT."""
        wait = _FIRST_POLL
        while self._pending_jit:
            self._cache.drop_listings()
            instances = await self._cache.instances()  # a listing showing it ends its record
            for key in [key for key in self._pending_jit if self._cache.abandoned(key) is None]:
                others = self._pending_jit.pop(key)
                listed = {instance.identifier for instance in instances}
                for instance in instances:
                    if instance.model_key == key and instance.identifier not in self._mine:
                        self._mine[instance.identifier] = Mine(key=key, jit=True)
                self._evicted([name for name in others if name not in listed])
                self._reopen(others)
            if self._pending_jit:
                await anyio.sleep(wait)
                wait = min(wait * 2, _LONGEST_POLL)

    # --- inside ----------------------------------------------------------------------------

    def _victim(self, key: str, instances: list[LoadedInstance]) -> str | None:
        """The instance to unload for ``key``: this Bridge's own first, then (with
        ``evict_foreign``) others; among them the ones nobody waits for, then idle ones, then the
        least recently used."""
        allowed = [
            instance.identifier
            for instance in instances
            if instance.model_key != key
            and (self._is_mine(instance) or self._settings.evict_foreign)
        ]
        if not allowed:
            return None
        return min(
            allowed,
            key=lambda name: (
                name not in self._mine and base_key(name) not in self._abandoned,
                self._waiting.get(name, 0) > 0,
                self._running.get(name, 0) > 0,
                self._used.get(name, -1),
            ),
        )

    def _close(self, names: list[str]) -> None:
        """New requests for ``names`` wait (:meth:`wait_open`) until :meth:`_reopen`."""
        self._closed.update(names)
        self._notify()

    def _reopen(self, names: list[str]) -> None:
        self._closed.difference_update(names)
        self._notify()

    async def _drain(self, names: list[str], *, for_key: str, kind: str) -> None:
        """Wait until none of this Bridge's requests for ``names`` (closed) is running."""
        for name in names:
            if self._running.get(name):
                log(kind, name, self._running[name], for_key)
            await self._until(self._idle(name))

    def _prune(self, instances: list[LoadedInstance]) -> None:
        """Forget what this Bridge loaded and is gone since (evicted, expired, unloaded by hand),
        so that :meth:`queue` does not show it as loaded here."""
        listed = {instance.identifier for instance in instances}
        for name in [name for name in self._mine if name not in listed]:
            del self._mine[name]

    def _is_mine(self, instance: LoadedInstance) -> bool:
        return instance.identifier in self._mine or instance.model_key in self._abandoned

    def _forget(self, name: str) -> None:
        mine = self._mine.pop(name, None)
        self._abandoned.discard(mine.key if mine else base_key(name))

    def _idle(self, name: str) -> Callable[[], bool]:
        return lambda: not self._running.get(name)

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def _until(self, ready: Callable[[], bool]) -> None:
        while not ready():
            self._changed = self._changed or anyio.Event()
            await self._changed.wait()
