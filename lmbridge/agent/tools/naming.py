"""Model-facing tool names: valid for every chat API, unique, and stable across runs.

OpenAI-compatible servers accept function names matching ``^[a-zA-Z0-9_-]{1,64}$``. Other characters
become ``_``; a name longer than 64 characters keeps its first 55 and gets ``_`` plus 8 hex digits of
its SHA-256; names that collide are namespaced ``<source>__<tool>`` (and if they still collide, get
a hash suffix).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence

__all__ = ["MAX_NAME_LENGTH", "assign_names", "sanitize_name", "shorten_name"]

MAX_NAME_LENGTH = 64
_KEEP = MAX_NAME_LENGTH - 9  # room for "_" and 8 hex digits
_INVALID = re.compile(r"[^a-zA-Z0-9_-]")


def _hash8(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def sanitize_name(name: str) -> str:
    """Replace every character outside ``[a-zA-Z0-9_-]`` with ``_`` (an empty name becomes ``tool``)."""
    return _INVALID.sub("_", name) or "tool"


def shorten_name(name: str) -> str:
    """``name`` itself if short enough, else its first 55 characters, ``_`` and a stable hash."""
    if len(name) <= MAX_NAME_LENGTH:
        return name
    return f"{name[:_KEEP]}_{_hash8(name)}"


def assign_names(entries: Sequence[tuple[str, str]]) -> list[str]:
    """Unique, valid model-facing names for ``(source_label, tool_name)`` pairs, in order.

    A tool keeps its (sanitised) name unless another tool has the same one; then every tool
    sharing it becomes ``<source>__<tool>``.
    """
    plain = [shorten_name(sanitize_name(tool)) for _, tool in entries]
    counts = Counter(plain)
    names = [
        name
        if counts[name] == 1
        else shorten_name(f"{sanitize_name(label)}__{sanitize_name(tool)}")
        for name, (label, tool) in zip(plain, entries, strict=True)
    ]
    # Still colliding (same source and sanitised name, or a namespaced name equal to a plain one):
    # a hash of the pair (and its occurrence) tells them apart, stably.
    seen: Counter[str] = Counter()
    counts = Counter(names)
    for index, ((label, tool), name) in enumerate(zip(entries, names, strict=True)):
        if counts[name] > 1:
            seen[name] += 1
            key = f"{label}\0{tool}\0{seen[name]}"
            candidate = f"{name[:_KEEP]}_{_hash8(key)}"
            while candidate in counts:
                key += "\0"
                candidate = f"{name[:_KEEP]}_{_hash8(key)}"
            names[index] = candidate
            counts[candidate] += 1
    return names
