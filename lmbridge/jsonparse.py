"""Parsing JSON a server (or a model) sent: every failure is one ``ValueError``.

Untrusted JSON can fail in more ways than ``json.JSONDecodeError``: a value nested a few thousand
levels deep makes the standard library raise ``RecursionError``, which escapes every ``except
ValueError``. Every parse of server data goes through this module, so each caller maps one
exception (:class:`JSONParseError`) to its typed error or to the message fed back to the model.

Nesting is limited to :data:`MAX_DEPTH` levels everywhere (it is ``pydantic_core``'s own limit,
which also applies to the wire bodies pydantic validates), so a value that parsed here can always
be serialised again without exhausting the stack.
"""

from __future__ import annotations

import json
from typing import Any

import pydantic_core

__all__ = ["MAX_DEPTH", "JSONParseError", "decode_prefix", "parse_json"]

#: The deepest nesting accepted (``pydantic_core`` refuses deeper values at about this depth).
MAX_DEPTH = 200

_DECODER = json.JSONDecoder()
_TOO_DEEP = f"the value is nested more than {MAX_DEPTH} levels deep"


class JSONParseError(ValueError):
    """The text is not one JSON value, or nests deeper than :data:`MAX_DEPTH`.

    Attributes:
        msg: what is wrong, without the position.
        pos: the character offset where parsing stopped (``0`` when unknown).
    """

    def __init__(self, msg: str, pos: int = 0) -> None:
        self.msg = msg
        self.pos = pos
        super().__init__(f"{msg} at position {pos}")

    @property
    def too_deep(self) -> bool:
        """Whether the value nests past :data:`MAX_DEPTH` (rather than being broken)."""
        return self.msg == _TOO_DEEP

    def __reduce__(self) -> tuple[type[JSONParseError], tuple[str, int]]:
        return type(self), (self.msg, self.pos)


def parse_json(data: str | bytes | bytearray) -> Any:
    """The JSON value ``data`` holds.

    Raises:
        JSONParseError: invalid JSON, invalid UTF-8, trailing data, or nesting too deep.
    """
    try:
        return pydantic_core.from_json(data)
    except ValueError as exc:
        # pydantic_core says "<what> at line L column C": keep the what, report an offset.
        text = str(exc)
        msg = text.partition(" at line ")[0] or text
        if "recursion limit" in msg:
            msg = _TOO_DEEP
        raise JSONParseError(msg, _offset(data, text)) from None


def decode_prefix(text: str, index: int = 0) -> tuple[Any, int]:
    """The JSON value starting at ``text[index]``, and the index just after it.

    Like ``json.JSONDecoder.raw_decode``, for text where JSON is followed by prose.

    Raises:
        JSONParseError: no valid JSON value starts there, or it nests too deep.
    """
    try:
        _, end = _DECODER.raw_decode(text, index)
    except json.JSONDecodeError as exc:
        raise JSONParseError(exc.msg, exc.pos) from None
    except RecursionError:
        raise JSONParseError(_TOO_DEEP, index) from None
    # Parse again with the depth limit, so values from here are as bounded as parse_json's.
    return parse_json(text[index:end]), end


def _offset(data: str | bytes | bytearray, message: str) -> int:
    """Turn pydantic_core's "line L column C" into a character offset (best effort)."""
    try:
        where = message.rsplit(" at line ", 1)[1]
        line_text, _, column_text = where.partition(" column ")
        line, column = int(line_text), int(column_text)
    except (IndexError, ValueError):
        return 0
    text = data if isinstance(data, str) else bytes(data).decode("utf-8", errors="replace")
    lines = text.split("\n")
    return sum(len(part) + 1 for part in lines[: line - 1]) + max(column - 1, 0)
