"""Reading what ``lms`` prints: JSON among log text, the load spinner, the success lines.

``lms`` mixes machine output with human output: older builds print log lines before the JSON, the
load spinner redraws one line with ``\\r`` and ANSI escape codes, and the success report is prose.
Nothing here parses the human tables.
"""

from __future__ import annotations

import re
from typing import Literal

from lmbridge.jsonparse import JSONParseError, decode_prefix
from lmbridge.lifecycle.lms.types import LmsLoadOutcome

__all__ = [
    "ProgressParser",
    "find_json",
    "parse_load_outcome",
    "strip_ansi",
]

# CSI sequences (colours, cursor moves, line clears), OSC sequences (titles, links), and the
# two-byte escapes; the spinner uses the first kind.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s?%")
_LOAD_SECONDS = re.compile(r"loaded successfully in\s+(\d+(?:\.\d+)?)\s*s", re.I)
_SIZE = re.compile(r"\(\s*(\d+(?:\.\d+)?\s*[KMGT]i?B)\s*\)")
_IDENTIFIER = re.compile(r"use the identifier\s+[\"'`“]([^\"'`”\r\n]+)[\"'`”]", re.I)
_PENDING_LIMIT = 4096


def strip_ansi(text: str) -> str:
    """Remove ANSI escape sequences."""
    return _ANSI.sub("", text)


def find_json(text: str, kind: Literal["array", "object"]) -> str | None:
    """Find the JSON document in ``lms`` output that may have log text before it.

    Tries every ``[`` (or ``{``) in turn; one whose JSON runs to the end of the output wins, else
    the first that parses at all (log lines like ``[INFO]`` never parse).

    Args:
        text: the command's stdout.
        kind: ``"array"`` for ``ls``/``ps``, ``"object"`` for ``server status``.

    Returns:
        The JSON text, or ``None`` if there is none.
    """
    clean = strip_ansi(text)
    opener = "[" if kind == "array" else "{"
    first: str | None = None
    start = clean.find(opener)
    while start != -1:
        try:
            _, end = decode_prefix(clean, start)
        except JSONParseError:  # a log line, broken JSON, or nesting too deep
            pass
        else:
            candidate = clean[start:end]
            if not clean[end:].strip():
                return candidate
            if first is None:
                first = candidate
        start = clean.find(opener, start + 1)
    return first


def parse_load_outcome(*texts: str) -> LmsLoadOutcome:
    """Read the success report of ``lms load`` (``Model loaded successfully in 6.88s.`` ...).

    Args:
        texts: the outputs to search, most likely first (stderr, then stdout).
    """
    combined = "\n".join(strip_ansi(text) for text in texts)
    seconds = _LOAD_SECONDS.search(combined)
    size = _SIZE.search(combined)
    identifier = _IDENTIFIER.search(combined)
    return LmsLoadOutcome(
        identifier=identifier.group(1).strip() if identifier else None,
        load_seconds=float(seconds.group(1)) if seconds else None,
        size_text=" ".join(size.group(1).split()) if size else None,
    )


class ProgressParser:
    """Turns the load spinner's output, fed in arbitrary chunks, into progress fractions.

    The spinner redraws ``Loading <key> 45% ⠋`` after ``\\r`` and ANSI line clears. Fractions come
    out in ``0..1``, strictly increasing: repeats and backwards steps are dropped.
    """

    def __init__(self) -> None:
        self._pending = ""
        self._last = 0.0

    @property
    def last(self) -> float:
        """The highest fraction reported so far (``0.0`` before any)."""
        return self._last

    def feed(self, chunk: str) -> list[float]:
        """Take the next piece of stdout; return the new fractions it completes, in order."""
        self._pending += chunk
        *complete, self._pending = re.split(r"[\r\n]", self._pending)
        self._pending = self._pending[-_PENDING_LIMIT:]
        # The unfinished frame is read too: a percentage is complete once its "%" arrived, and the
        # last frame may only be finished by the process exiting.
        return [value for segment in [*complete, self._pending] for value in self._read(segment)]

    def _read(self, segment: str) -> list[float]:
        matches = _PERCENT.findall(strip_ansi(segment))
        if not matches:
            return []
        value = min(float(matches[-1]), 100.0) / 100.0
        if value <= self._last:
            return []
        self._last = value
        return [value]
