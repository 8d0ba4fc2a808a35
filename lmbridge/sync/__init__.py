"""A sync facade over the async :class:`~lmbridge.Bridge`: :class:`SyncBridge`.

Layered above ``bridge.py``: it runs a Bridge on an event loop in a thread of its own
(:mod:`~lmbridge.sync.runner`) and exposes its methods without ``await``, typed from the async
signatures (:mod:`~lmbridge.sync.blocking`); streams are read with a plain ``for``
(:mod:`~lmbridge.sync.stream`).
"""

from lmbridge.sync.bridge import SyncBridge, SyncModels
from lmbridge.sync.stream import SyncStream

__all__ = ["SyncBridge", "SyncModels", "SyncStream"]
