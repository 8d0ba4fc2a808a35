"""The model guard around every request: prepare, admit, send; heal one "not loaded", send again.

The Bridge runs each request through :func:`guarded`. Between preparing the model and sending,
the request is *admitted* by the swap scheduler (counted as running on that instance, so it is not
unloaded under it); a request whose model is being swapped out waits and prepares it again. The
data flows down once: the Bridge hands over the call, the guard hands back its result.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, TypeVar

from lmbridge.errors import LMBridgeError, ModelNotFoundError, ModelNotLoadedError

if TYPE_CHECKING:
    from lmbridge.lifecycle.models import ModelManager
    from lmbridge.lifecycle.types import RequestKind

__all__ = ["guarded"]

T = TypeVar("T")

_HEALABLE = (ModelNotLoadedError, ModelNotFoundError)


async def guarded(
    models: ModelManager,
    model: str,
    kind: RequestKind,
    call: Callable[[str], Awaitable[T]],
    *,
    hold: AsyncExitStack | None = None,
) -> T:
    """Run ``call(name)`` with ``model`` loaded; heal one "not loaded" answer and retry once.

    ``name`` is the identifier to send (a partial name resolved). The request counts as running
    on that instance until ``call`` returns, or, with ``hold``, until ``hold`` closes (a stream
    keeps its model busy while it is read). The slot is given back before healing, so a heal that
    must wait for a swap never waits for itself.

    Raises:
        ModelNotLoadedError: the retry failed too (the error :meth:`ModelManager.diagnose` built).
    """
    scheduler = models.scheduler
    failed: LMBridgeError | None = None
    while True:
        name = None if failed is None else await models.heal(model, failed, kind=kind)
        name = await _admitted(models, model, kind, name)
        kept = False
        try:
            result = await call(name)
            if hold is not None:
                hold.callback(scheduler.release, name)
                kept = True
            return result
        except _HEALABLE as exc:
            if exc.status_code is None:
                raise  # not the server's answer (e.g. raised while preparing): nothing to heal
            if failed is not None:
                raise await models.diagnose(model, exc) from exc
            failed = exc
        finally:
            if not kept:
                scheduler.release(name)


async def _admitted(models: ModelManager, model: str, kind: RequestKind, name: str | None) -> str:
    """The name to send, once the scheduler admitted the request (preparing again after a wait)."""
    if name is None:
        with models.scheduler.queued(model):  # shown as waiting while its model is loaded
            name = await models.prepare(model, kind=kind)
    while not models.scheduler.admit(name):
        await models.scheduler.wait_open(name)
        name = await models.prepare(model, kind=kind)
    return name
