"""The Bridge's calls beyond chat, and what all calls share.

Part of the facade: :class:`~lmbridge.Bridge` inherits :class:`EndpointCalls`, so these are
Bridge methods (``embed``, ``complete``, ``stream_complete``, ``respond``, ``stream_respond``,
``check_vision``); they run through the same routing, model guard and transport as ``chat()``.
Kept apart from ``bridge.py`` so that each module stays readable.
"""

from lmbridge.endpoints.completions import CompletionCalls
from lmbridge.endpoints.embeddings import EMBED_CONCURRENCY, EmbeddingCalls
from lmbridge.endpoints.responses import ResponseCalls

__all__ = ["EMBED_CONCURRENCY", "EndpointCalls"]


class EndpointCalls(EmbeddingCalls, CompletionCalls, ResponseCalls):
    """Embeddings, completions, the Responses API, and the wiring shared with chat."""
