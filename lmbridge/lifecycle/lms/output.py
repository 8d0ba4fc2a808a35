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
# The spinner draws "\r<text> <frame>", the text ending in " 45%" since lms 2026-05 (#569).
_PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s?%\s*\S?\s*$")
# lms formats the time with formatElapsedTime (src/formatElapsedTime.ts): "850.00ms", "6.88s",
# "1m 5.23s", "1h 0m 2.00s"; a load on another LM Link device says "loaded successfully on <device>
# in ..." (src/subcommands/load.ts).
_LOADED = re.compile(
    r"loaded successfully(?:\s+on\s+(?P<device>.+?))?\s+in\s+"
    r"(?P<time>(?:\d+h\s*)?(?:\d+m\s*)?\d+(?:\.\d+)?\s*(?:ms|s)\b)",
    re.I,
)
_TIME_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|h|m|s)")
_TIME_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
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
    """Read the success report of ``lms load`` (``Model loaded successfully in 6.88s.`` ...,
    ``... in 1m 5.23s.``, ``... in 850.00ms.``, ``... successfully on <device> in ...``).

    Args:
        texts: the outputs to search, most likely first (stderr, then stdout).
    """
    combined = "\n".join(strip_ansi(text) for text in texts)
    loaded = _LOADED.search(combined)
    size = _SIZE.search(combined)
    identifier = _IDENTIFIER.search(combined)
    seconds = None
    if loaded:
        parts = _TIME_PART.findall(loaded.group("time"))
        seconds = round(sum(float(value) * _TIME_UNITS[unit] for value, unit in parts), 6)
    return LmsLoadOutcome(
        identifier=identifier.group(1).strip() if identifier else None,
        load_seconds=seconds,
        size_text=" ".join(size.group(1).split()) if size else None,
        device=loaded.group("device").strip() if loaded and loaded.group("device") else None,
    )


class ProgressParser:
    """Turns the load spinner's output, fed in arbitrary chunks, into progress fractions.

    The spinner redraws ``Loading <key> 45% ⠋`` after ``\\r`` and ANSI line clears. Fractions come
    out in ``0..1``, strictly increasing: repeats and backwards steps are dropped. Only CLIs since
    2026-05 print the percentage; older ones draw ``Loading <key>`` alone, which yields nothing (the
    runner reports ``1.0`` at the end). A percentage is read only at the end of a ``Loading`` frame,
    so digits and ``%`` in a model key or device name are not taken for progress.
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
        text = strip_ansi(segment)
        start = text.find("Loading ")
        if start == -1:
            return []
        # The percentage ends the text, after the key (and " on <device>"), before the frame.
        matches = _PERCENT.findall(text[start:])
        if not matches:
            return []
        value = min(float(matches[-1]), 100.0) / 100.0
        if value <= self._last:
            return []
        self._last = value
        return [value]
