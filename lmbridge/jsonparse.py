"""Parsing JSON a server (or a model) sent: every failure is one ``ValueError``.

Untrusted JSON can fail in more ways than ``json.JSONDecodeError``: a value nested a few thousand
levels deep makes the standard library raise ``RecursionError``, which escapes every ``except
ValueError``. Every parse of server data goes through this module, so each caller maps one
exception (:class:`JSONParseError`) to its typed error or to the message fed back to the model.

The parser is ``pydantic_core``'s (the one that also validates wire bodies): it runs without
Python recursion and refuses values nested deeper than :data:`MAX_DEPTH`, so a value that parsed
here can always be serialised again without exhausting the stack. A value that does not parse
is described in the standard library's words ("Expecting ',' delimiter"), which models know.
"""

from __future__ import annotations

import json
from typing import Any

import pydantic_core

__all__ = ["MAX_DEPTH", "JSONParseError", "decode_prefix", "parse_json"]

#: The deepest nesting accepted (``pydantic_core``'s own limit).
MAX_DEPTH = 200

_TOO_DEEP = f"the value is nested more than {MAX_DEPTH} levels deep"
_TRAILING = "trailing characters"
_DECODER = json.JSONDecoder()


class JSONParseError(ValueError):
    """The text is not one JSON value, or nests deeper than :data:`MAX_DEPTH`.

    Attributes:
        msg: what is wrong, without the position.
        pos: the character offset where parsing stopped.
    """

    def __init__(self, msg: str, pos: int = 0) -> None:
        self.msg = msg
        self.pos = pos
        super().__init__(f"{msg} at position {pos}")

    def __reduce__(self) -> tuple[type[JSONParseError], tuple[str, int]]:
        return type(self), (self.msg, self.pos)

    @property
    def too_deep(self) -> bool:
        """Whether the value nests past :data:`MAX_DEPTH` (rather than being broken)."""
        return self.msg == _TOO_DEEP


def parse_json(data: str | bytes | bytearray) -> Any:
    """The JSON value ``data`` holds.

    Raises:
        JSONParseError: invalid JSON, invalid UTF-8, trailing data, or nesting too deep.
    """
    raw = _utf8(data)
    try:
        return pydantic_core.from_json(raw)
    except ValueError as exc:
        msg, end = _failure(raw, exc)
        failure = JSONParseError(msg, _chars(raw, end))
    if not failure.too_deep:
        try:
            json.loads(raw)
        except json.JSONDecodeError as exc:
            failure = JSONParseError(exc.msg, exc.pos)
        except (ValueError, RecursionError):  # invalid UTF-8; never deeper than pydantic got
            pass
    raise failure


def decode_prefix(text: str, index: int = 0) -> tuple[Any, int]:
    """The JSON value starting at ``text[index]``, and the index after it (and its whitespace).

    Like ``json.JSONDecoder.raw_decode``, for text where JSON is followed by prose.

    Raises:
        JSONParseError: no valid JSON value starts there, or it nests too deep.
    """
    raw = _utf8(text[index:])
    try:
        return pydantic_core.from_json(raw), len(text)
    except ValueError as exc:
        msg, end = _failure(raw, exc)
    if msg == _TRAILING and end > 0:
        # A valid value followed by something else: the value is everything before that.
        return parse_json(raw[:end]), index + _chars(raw, end)
    failure = JSONParseError(msg, index + _chars(raw, end))
    if not failure.too_deep:
        try:
            _DECODER.raw_decode(text, index)
        except json.JSONDecodeError as exc:
            failure = JSONParseError(exc.msg, exc.pos)
        except RecursionError:  # cannot happen below pydantic's depth; kept as a guard
            pass
    raise failure


def _utf8(data: str | bytes | bytearray) -> bytes:
    if isinstance(data, str):
        # Lone surrogates stay bytes that are not UTF-8: the parser rejects them as invalid.
        return data.encode("utf-8", errors="surrogatepass")
    return bytes(data)


def _failure(raw: bytes, exc: ValueError) -> tuple[str, int]:
    """pydantic_core's "<what> at line L column C" as ``(what, byte offset)``."""
    text = str(exc)
    msg, _, where = text.partition(" at line ")
    if "recursion limit" in msg:
        msg = _TOO_DEEP
    line_text, _, column_text = where.partition(" column ")
    try:
        line, column = int(line_text), int(column_text)
    except ValueError:
        return msg or text, 0
    start = 0
    for _ in range(line - 1):  # columns count bytes within the line
        start = raw.find(b"\n", start) + 1
    return msg, min(start + max(column - 1, 0), len(raw))


def _chars(raw: bytes, end: int) -> int:
    """The character offset of byte offset ``end``."""
    return len(raw[:end].decode("utf-8", errors="surrogatepass"))
