"""The ``lms`` CLI: :class:`LmsCli` runs one command per call and returns typed results.

The runner (:mod:`.runner`) sits on four parts with one job each: finding the executable
(:mod:`.locate`), running a command without leaving a process behind (:mod:`.process`), reading
what ``lms`` prints (:mod:`.output`, into :mod:`.types`) and naming what went wrong
(:mod:`.failures`). Nothing here imports the rest of :mod:`lmbridge.lifecycle`: the model manager
uses this package, never the reverse.
"""

from typing import TYPE_CHECKING, Any

from lmbridge.lifecycle.lms.runner import LmsCli, ProgressCallback

if TYPE_CHECKING:
    from lmbridge.lifecycle.lms.types import (
        LmsInstance,
        LmsLoadOutcome,
        LmsModel,
        LmsQuantization,
        LmsServerStatus,
    )

__all__ = [
    "LmsCli",
    "LmsInstance",
    "LmsLoadOutcome",
    "LmsModel",
    "LmsQuantization",
    "LmsServerStatus",
    "ProgressCallback",
]


def __getattr__(name: str) -> Any:
    # The typed views load with the first `lms` command, not with the package (#18).
    if name in __all__:
        from lmbridge.lifecycle.lms import types

        return getattr(types, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
