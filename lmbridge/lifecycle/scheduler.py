"""The swap scheduler: sharing too little memory between the models one Bridge uses at once.

A gather over several models that do not all fit used to fail (the third load ran out of memory),
or, with LM Studio's JIT auto-evict, made each request evict the previous model, even mid-reply.
The scheduler knows what the loaders do not: which models this Bridge loaded, how many of its
requests each one serves right now, and which requests wait. With that it:

- on an out-of-memory load, picks a *victim* among the instances this Bridge loaded (others only
  with ``evict_foreign=True``), *closes* it (its new requests wait instead of starting), waits
  until its requests in flight are done, unloads it and lets the load try again;
- before a JIT load (LM Studio's auto-evict keeps one JIT model and cuts off its replies), closes
  and drains the other JIT models this Bridge loaded the same way, so no reply is cut off.

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
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

import anyio

from lmbridge.errors import InsufficientMemoryError, ModelNotLoadedError
from lmbridge.events import EventEmitter, Swap
from lmbridge.lifecycle.types import LoadedInstance

if TYPE_CHECKING:
    from lmbridge.lifecycle.cache import StateCache
    from lmbridge.lifecycle.unloading import Unloader

__all__ = ["MemoryPolicy", "QueueEntry", "SwapScheduler", "SwapSettings", "logger"]

MemoryPolicy = Literal["swap", "raise"]
"""What a load that runs out of memory does: unload this Bridge's idle models (``"swap"``), or
raise :class:`~lmbridge.errors.InsufficientMemoryError` at once (``"raise"``)."""

logger = logging.getLogger("lmbridge.models")
"""Where the scheduler says what it does: waiting for memory and unloading (INFO), loaded (DEBUG)."""

# Every message the scheduler logs, in one place, so that each can become a typed event later
# (the kinds are the keys, passed as ``extra={"lmbridge_event": kind}``).
_MESSAGES = {
    "waiting": "waiting for memory: %s must finish %d request(s) before it is unloaded for %s",
    "swap": "unloading %s to make room for %s",
    "jit_wait": "waiting for %s to finish %d request(s): loading %s by JIT would evict it",
    "loaded": "loaded %s",
}


def _log(kind: str, *args: object) -> None:
    # A finished load is already an INFO record of the model events (lmbridge.events.logs):
    # the scheduler's own line about it is detail.
    level = logging.DEBUG if kind == "loaded" else logging.INFO
    logger.log(level, _MESSAGES[kind], *args, extra={"lmbridge_event": kind})


class SwapSettings(Protocol):
    """The settings the scheduler reads at every use (the model manager's attributes)."""

    on_insufficient_memory: MemoryPolicy
    """``"swap"`` or ``"raise"``."""
    evict_foreign: bool
    """Whether instances this Bridge did not load may be unloaded to make room."""
    load_timeout: float
    """The longest any wait of the scheduler lasts."""


@dataclass(frozen=True)
class QueueEntry:
    """This Bridge's requests for one loaded instance, as :meth:`SwapScheduler.queue` shows them.

    Attributes:
        running: requests sent and not answered yet.
        waiting: requests waiting for the model to be loaded (room being made), or to reopen.
        closed: whether the instance admits no new request now (it is being swapped out).
        loaded_here: whether this Bridge loaded it (only those are unloaded to make room).
    """

    running: int
    waiting: int
    closed: bool
    loaded_here: bool


@dataclass
class _Mine:
    key: str
    jit: bool


class SwapScheduler:
    """Counts this Bridge's requests per instance and makes room when a load runs out of memory.

    Args:
        settings: ``on_insufficient_memory``, ``evict_foreign`` and ``load_timeout``.
        cache: the listings victims are chosen from (fresh ones), and the confirmations to drop
            when a JIT load evicted models.
        unloader: unloads the victims.
    """

    def __init__(
        self,
        *,
        settings: SwapSettings,
        cache: StateCache,
        unloader: Unloader,
        events: EventEmitter | None = None,
    ) -> None:
        self._settings = settings
        self._events = events or EventEmitter()
        self._cache = cache
        self._unloader = unloader
        self._made_lock: anyio.Lock | None = None  # see _lock
        # Set and dropped at every change: a broadcast; made only when a task waits (#18).
        self._changed: anyio.Event | None = None
        self._running: dict[str, int] = {}
        self._waiting: dict[str, int] = {}
        self._closed: set[str] = set()
        self._mine: dict[str, _Mine] = {}
        # Keys whose load this Bridge started and then abandoned (cancelled): LM Studio may finish
        # such a load, and the instance it makes is this Bridge's to unload too.
        self._abandoned: set[str] = set()
        self._loading: dict[str, int] = {}  # model key -> loads of this Bridge running now
        self._ticks = itertools.count()
        self._used: dict[str, int] = {}  # identifier -> tick of its last use, for LRU
        self._swaps = 0  # swaps done: a load that failed before the last one may simply retry

    @property
    def _lock(self) -> anyio.Lock:
        """One swap (or JIT load) at a time, first come first served; made at first use (#18)."""
        if self._made_lock is None:
            self._made_lock = anyio.Lock()
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
                await self._until(lambda: name not in self._closed)
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
        self._mine[instance.identifier] = _Mine(key=instance.model_key, jit=jit)
        self._abandoned.discard(instance.model_key)
        self._used[instance.identifier] = next(self._ticks)
        _log("loaded", instance.identifier)

    async def make_room(self, key: str, error: InsufficientMemoryError) -> None:
        """After loading ``key`` ran out of memory: unload one instance so the load may be retried.

        Waits (up to ``load_timeout``) until the victim has no request of this Bridge running.
        Returns at once when another swap freed memory since, so the load is retried first.

        Raises:
            InsufficientMemoryError: ``error``, when the policy is ``"raise"`` or nothing may be
                unloaded (the model does not fit even beside the models this Bridge may not
                touch), or the wait took longer than ``load_timeout``.
        """
        if self._settings.on_insufficient_memory == "raise":
            raise error
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
                            raise _nothing_to_unload(key, error, self._settings.evict_foreign)
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
            _log("swap", victim, key)
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
        until the load is over; one JIT load at a time."""
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
        try:
            others = [name for name, mine in self._mine.items() if mine.jit and mine.key != key]
            self._close(others)
            try:
                try:
                    with anyio.fail_after(self._settings.load_timeout):
                        await self._drain(others, for_key=key, kind="jit_wait")
                except TimeoutError as exc:
                    raise ModelNotLoadedError(
                        f"Loading {key!r} by JIT waited longer than load_timeout="
                        f"{self._settings.load_timeout:g} s for {', '.join(others)} to finish "
                        "(auto-evict would cut their replies off).",
                        model=key,
                        hint="Raise Bridge(load_timeout=...), or run fewer models at once.",
                    ) from exc
                yield
                # Auto-evict unloaded them (or, with auto-evict off, they stay and may be used),
                # so their "loaded" confirmations must go before they reopen: a request sent to
                # an evicted model would make the server load it back at once.
                for name in others:
                    self._forget(name)
                if others:
                    self._cache.invalidate()
                    self._swaps += 1
            finally:
                self._reopen(others)
        finally:
            self._lock.release()

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
                name not in self._mine and _base_key(name) not in self._abandoned,
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
                _log(kind, name, self._running[name], for_key)
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
        self._abandoned.discard(mine.key if mine else _base_key(name))

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


def _base_key(identifier: str) -> str:
    """The model key an instance identifier names (``key:2`` -> ``key``)."""
    head, _, tail = identifier.rpartition(":")
    return head if head and tail.isdigit() else identifier


def _nothing_to_unload(
    key: str, error: InsufficientMemoryError, evict_foreign: bool
) -> InsufficientMemoryError:
    whose = "no loaded model" if evict_foreign else "no model this Bridge loaded"
    return InsufficientMemoryError(
        f"{error.message} ({whose} is left to unload for it)",
        required_gb=error.required_gb,
        model=key,
        hint=(
            "It does not fit beside what is loaded: load a smaller quantization or lower "
            "context_length"
            + (
                "."
                if evict_foreign
                else ", or pass Bridge(evict_foreign=True) to let lmbridge "
                "unload models it did not load."
            )
        ),
    )
