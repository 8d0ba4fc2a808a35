"""The ``lms`` CLI: :class:`LmsCli` runs one command per call and returns typed results.

The runner (:mod:`.runner`) sits on four parts with one job each: finding the executable
(:mod:`.locate`), running a command without leaving a process behind (:mod:`.process`), reading
what ``lms`` prints (:mod:`.output`, into :mod:`.types`) and naming what went wrong
(:mod:`.failures`). Nothing here imports the rest of :mod:`lmbridge.lifecycle`: the model manager
uses this package, never the reverse.
"""

from lmbridge.lifecycle.lms.runner import LmsCli, ProgressCallback
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
