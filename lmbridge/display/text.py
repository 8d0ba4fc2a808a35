"""Compact one-line reprs: what matters about a result, never a wall of floats or pydantic dumps."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["compact_repr", "short_repr"]


def short_repr(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters (an ellipsis marks a cut)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 2] + "…" + text[-1]


def compact_repr(name: str, fields: Iterable[tuple[str, object]], *, limit: int = 60) -> str:
    """``Name(a=1, b='x…')``: each value's repr cut to ``limit``; ``None`` values left out."""
    shown = ", ".join(
        f"{key}={short_repr(value, limit)}" for key, value in fields if value is not None
    )
    return f"{name}({shown})"
