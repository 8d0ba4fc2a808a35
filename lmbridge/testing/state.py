"""Loaded instances and the load/unload rules of the simulated LM Studio (no I/O, no waiting)."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from lmbridge.testing.catalogue import SimModel, default_catalogue

__all__ = [
    "DEFAULT_JIT_TTL",
    "InstanceStatus",
    "LoadVia",
    "RequestActivity",
    "SimInstance",
    "SimLoadError",
    "SimState",
    "base_key",
    "sorted_for_ps",
]

InstanceStatus = Literal["idle", "processingPrompt", "generating", "computingEmbedding"]
"""The statuses ``lms ps --json`` reports; every one of them means "loaded"."""

LoadVia = Literal["lms", "jit", "rest"]
"""How an instance was loaded: ``lms load``, a JIT request, or ``POST /api/v1/models/load``."""

DEFAULT_JIT_TTL = 3600.0
"""Idle TTL in seconds of a JIT-loaded model whose request gave none (LM Studio: 60 minutes)."""

_BUSY_ORDER: tuple[InstanceStatus, ...] = ("generating", "processingPrompt", "computingEmbedding")
_INSTANCE_SUFFIX = re.compile(r":\d+$")


def base_key(name: str) -> str:
    """Strip an instance suffix (``:2``) and a variant suffix (``@q4_k_m``) from a model name."""
    name = name.split("@", 1)[0]
    return _INSTANCE_SUFFIX.sub("", name)


class SimLoadError(Exception):
    """A load failed.

    Attributes:
        kind: ``"not_found"`` (not downloaded), ``"out_of_memory"`` or ``"conflict"`` (identifier taken).
        required_gb: for ``out_of_memory``, the memory the load needed.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: Literal["not_found", "out_of_memory", "conflict"],
        required_gb: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.required_gb = required_gb


@dataclass(eq=False, repr=False)
class SimInstance:
    """A loaded instance of a model (one row of ``lms ps``).

    Attributes:
        identifier: the instance id requests use: the key, then ``key:2``, ``key:3``...
        model: the model this is an instance of.
        context_length: the loaded context length.
        ttl: idle time-to-live in seconds, ``None`` for none.
        via: how it was loaded.
        loaded: ``False`` once unloaded or evicted (a stream from it is cut off).
        last_used_ms: wall-clock time of the last request in ms since the epoch, ``None`` if never used.
        device: the LM Link device it runs on, ``None`` for this machine.
        config: extra load settings it was loaded with (REST v1 names: ``parallel``,
            ``flash_attention``, ``eval_batch_size``, ``num_experts``, ``offload_kv_cache_to_gpu``).
    """

    identifier: str
    model: SimModel
    context_length: int
    ttl: float | None
    via: LoadVia
    loaded: bool = True
    last_used_ms: int | None = None
    device: str | None = None
    config: dict[str, object] = field(default_factory=dict)
    last_active: float = 0.0
    pinned_status: InstanceStatus | None = None
    pinned_queued: int = 0
    _phases: dict[InstanceStatus, int] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return (
            f"SimInstance({self.identifier!r}, status={self.status!r}, queued={self.queued}, "
            f"via={self.via!r}, loaded={self.loaded})"
        )

    @property
    def key(self) -> str:
        """The model key this instance serves."""
        return self.model.key

    @property
    def in_flight(self) -> int:
        """Requests being served by this instance right now."""
        return sum(self._phases.values())

    @property
    def status(self) -> InstanceStatus:
        """The status ``lms ps`` would show: pinned by ``set_status``, else derived from live requests."""
        if self.pinned_status is not None:
            return self.pinned_status
        for phase in _BUSY_ORDER:
            if self._phases.get(phase):
                return phase
        return "idle"

    @property
    def queued(self) -> int:
        """Requests queued including the one running (as ``lms ps`` counts them)."""
        if self.pinned_status is not None:
            return self.pinned_queued
        return self.in_flight

    def track(self, phase: InstanceStatus, *, now: float) -> RequestActivity:
        """Count one request as in flight in ``phase`` until the returned activity is finished."""
        self.last_used_ms = int(time.time() * 1000)
        self.last_active = now
        return RequestActivity(self, phase, now=now)

    def _shift(self, old: InstanceStatus | None, new: InstanceStatus | None) -> None:
        if old is not None:
            self._phases[old] -= 1
        if new is not None:
            self._phases[new] = self._phases.get(new, 0) + 1


class RequestActivity:
    """One request's effect on its instance's status; ``finish()`` is idempotent."""

    def __init__(self, instance: SimInstance, phase: InstanceStatus, *, now: float) -> None:
        self.instance = instance
        self._phase: InstanceStatus | None = phase
        self._now = now
        instance._shift(None, phase)

    @property
    def phase(self) -> InstanceStatus | None:
        """The current phase, ``None`` once finished."""
        return self._phase

    def switch(self, phase: InstanceStatus) -> None:
        """Move the request to another phase (e.g. from ``processingPrompt`` to ``generating``)."""
        if self._phase is not None:
            self.instance._shift(self._phase, phase)
            self._phase = phase

    def finish(self, *, now: float | None = None) -> None:
        """The request ended (completed, failed or abandoned by the client)."""
        if self._phase is not None:
            self.instance._shift(self._phase, None)
            self._phase = None
            self.instance.last_used_ms = int(time.time() * 1000)
            self.instance.last_active = now if now is not None else self._now


class SimState:
    """Downloaded models, loaded instances and the rules that govern them.

    Everything here is immediate; waiting (``load_delay``) is the request handlers' job.

    Args:
        models: the downloaded models (defaults to :func:`default_catalogue`).
        auto_evict: loading a JIT model unloads earlier JIT-loaded instances (not lms/REST loads).
        memory_limit_bytes: if set, a load whose ``size_bytes`` exceeds the free memory fails.
        clock: monotonic clock in seconds, used for TTL expiry (injectable for tests).
    """

    def __init__(
        self,
        *,
        models: Iterable[SimModel] | None = None,
        auto_evict: bool = True,
        memory_limit_bytes: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        catalogue = list(default_catalogue() if models is None else models)
        self.models: dict[str, SimModel] = {}
        for model in catalogue:
            if model.key in self.models:
                raise ValueError(f"duplicate model key {model.key!r}")
            self.models[model.key] = model
        self.auto_evict = auto_evict
        self.memory_limit_bytes = memory_limit_bytes
        self.clock = clock
        self._instances: list[SimInstance] = []
        # Identifiers of instances unloaded (or evicted) while serving a request: each cut a reply.
        self.cut_off: list[str] = []
        # Loads whose requester went away: (when they complete, key, context_length, ttl, via).
        self._abandoned: list[tuple[float, str, int | None, float | None, LoadVia]] = []

    # --- queries ---------------------------------------------------------------------------

    @property
    def instances(self) -> list[SimInstance]:
        """Loaded instances in load order (idle instances past their TTL are unloaded first)."""
        self.settle()
        self.expire()
        return list(self._instances)

    # --- loads the requester abandoned -------------------------------------------------------

    def finish_later(
        self,
        key: str,
        *,
        at: float,
        context_length: int | None = None,
        ttl: float | None = None,
        via: LoadVia,
    ) -> None:
        """Complete a load at clock time ``at`` although its requester went away.

        LM Studio does this: a REST or JIT load whose HTTP client disconnects is not cancelled.
        """
        self._abandoned.append((at, key, context_length, ttl, via))

    def settle(self) -> None:
        """Complete the abandoned loads whose time has come (a failure is dropped, as LM Studio
        only logs it)."""
        now = self.clock()
        due = [entry for entry in self._abandoned if entry[0] <= now]
        self._abandoned = [entry for entry in self._abandoned if entry[0] > now]
        for _, key, context_length, ttl, via in sorted(due, key=lambda entry: entry[0]):
            with contextlib.suppress(SimLoadError):
                self.load(key, context_length=context_length, ttl=ttl, via=via)

    def instance(self, identifier: str) -> SimInstance | None:
        """The loaded instance with exactly this identifier."""
        for inst in self.instances:
            if inst.identifier == identifier:
                return inst
        return None

    def instances_of(self, key: str) -> list[SimInstance]:
        """Loaded instances of a model key, the plain ``key`` instance first."""
        found = [inst for inst in self.instances if inst.key == key]
        return sorted(found, key=lambda inst: inst.identifier != key)

    def used_bytes(self) -> int:
        """Memory taken by loaded instances."""
        return sum(inst.model.size_bytes for inst in self._instances)

    def find_model(self, name: str) -> SimModel | None:
        """The downloaded model a name refers to: a key, a key with ``@variant``, or an instance id."""
        if name in self.models:
            return self.models[name]
        if "@" in name:
            key, variant = name.split("@", 1)
            model = self.models.get(key)
            if model is not None and variant.lower() == model.quantization.lower():
                return model
        inst = self.instance(name)
        if inst is not None:
            return inst.model
        return self.models.get(base_key(name))

    def resolve_loaded(self, name: str) -> SimInstance | None:
        """The loaded instance that serves a requested name, if any (no loading)."""
        inst = self.instance(name)
        if inst is not None:
            return inst
        model = self.find_model(name)
        if model is None or _INSTANCE_SUFFIX.search(name.split("@", 1)[0]):
            # `key:3` that is not loaded is not served by `key`: LM Studio treats it as unloaded.
            return None
        candidates = self.instances_of(model.key)
        return candidates[0] if candidates else None

    # --- changes ---------------------------------------------------------------------------

    def load(
        self,
        key: str,
        *,
        identifier: str | None = None,
        context_length: int | None = None,
        ttl: float | None = None,
        via: LoadVia = "lms",
        device: str | None = None,
        config: dict[str, object] | None = None,
    ) -> SimInstance:
        """Load a NEW instance of ``key``, like ``lms load``: a second load of a key makes ``key:2``.

        Raises:
            SimLoadError: the key is not downloaded, the identifier is taken, or memory is short.
        """
        model = self.models.get(key)
        if model is None:
            raise SimLoadError(f'Model "{key}" not found.', kind="not_found")
        self.expire()
        taken = {inst.identifier for inst in self._instances}
        if identifier is not None and identifier in taken:
            raise SimLoadError(
                f'An instance with the identifier "{identifier}" is already loaded.',
                kind="conflict",
            )
        if via == "jit" and self.auto_evict:
            for inst in [i for i in self._instances if i.via == "jit"]:
                self._remove(inst)
        if self.memory_limit_bytes is not None:
            free = self.memory_limit_bytes - self.used_bytes()
            if model.size_bytes > free:
                required = model.size_bytes / 1e9
                # LM Studio's own wording (lms load, REST and JIT alike): no free figure in it.
                raise SimLoadError(
                    f'Failed to load model "{key}". Model loading aborted due to insufficient '
                    f"system resources: this model requires approximately {required:.2f} GB of "
                    "memory.",
                    kind="out_of_memory",
                    required_gb=round(required, 2),
                )
        if identifier is None:
            identifier = _next_identifier(key, taken)
        ctx = context_length if context_length is not None else model.default_context_length
        inst = SimInstance(
            identifier=identifier,
            model=model,
            context_length=min(ctx, model.max_context_length),
            ttl=ttl,
            via=via,
            device=device,
            config=dict(config or {}),
            last_active=self.clock(),
        )
        self._instances.append(inst)
        return inst

    def unload(self, identifier: str) -> bool:
        """Unload the instance with this identifier; ``False`` if there was none."""
        for inst in self._instances:
            if inst.identifier == identifier:
                self._remove(inst)
                return True
        return False

    def unload_all(self) -> list[str]:
        """Unload every instance; returns their identifiers."""
        gone = [inst.identifier for inst in self._instances]
        for inst in list(self._instances):
            self._remove(inst)
        return gone

    def evict(self, key_or_identifier: str) -> list[str]:
        """Unload behind the user's back: every instance of a model key, else one exact identifier."""
        if key_or_identifier in self.models:
            victims = [i for i in self._instances if i.key == key_or_identifier]
        else:
            victims = [i for i in self._instances if i.identifier == key_or_identifier]
        for inst in victims:
            self._remove(inst)
        return [inst.identifier for inst in victims]

    def expire(self) -> list[str]:
        """Unload idle instances whose TTL has run out; returns their identifiers."""
        now = self.clock()
        gone = [
            inst
            for inst in self._instances
            if inst.ttl is not None and inst.in_flight == 0 and now - inst.last_active >= inst.ttl
        ]
        for inst in gone:
            self._remove(inst)
        return [inst.identifier for inst in gone]

    def _remove(self, inst: SimInstance) -> None:
        if inst.in_flight:
            self.cut_off.append(inst.identifier)
        inst.loaded = False
        self._instances.remove(inst)


def _next_identifier(key: str, taken: set[str]) -> str:
    if key not in taken:
        return key
    n = 2
    while f"{key}:{n}" in taken:
        n += 1
    return f"{key}:{n}"


def sorted_for_ps(instances: Sequence[SimInstance]) -> list[SimInstance]:
    """Instances in ``lms ps`` order: LLMs, then embedding models."""
    return sorted(instances, key=lambda inst: inst.model.is_embedding)
