"""Writing for a person at a terminal: colour only when it lands on one, and replies printed with
the reasoning set apart from the answer. The command line and the demo share it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TextIO

__all__ = ["ReplyPrinter", "Style", "is_terminal", "wants_color"]


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal (not a pipe, a file or a closed stream)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def wants_color(stream: TextIO) -> bool:
    """Whether to colour what goes to ``stream``: only a terminal, and never under ``NO_COLOR``.

    ``NO_COLOR`` counts when set to anything but the empty string (https://no-color.org).
    """
    return not os.environ.get("NO_COLOR") and is_terminal(stream)


class Style:
    """ANSI styles that turn into plain text when colour is off.

    Args:
        color: whether to emit escapes (see :func:`wants_color`).
    """

    def __init__(self, *, color: bool) -> None:
        self.color = color

    def _wrap(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color and text else text

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def red(self, text: str) -> str:
        return self._wrap("31", text)

    def green(self, text: str) -> str:
        return self._wrap("32", text)

    def yellow(self, text: str) -> str:
        return self._wrap("33", text)


class ReplyPrinter:
    """Prints a streamed reply as it arrives, its reasoning visibly apart from its answer.

    The reasoning goes to ``thoughts`` under a "Thinking" label (dimmed when ``thoughts`` is a
    terminal); the answer goes to ``out``, after a blank line and an "Answer" label when reasoning
    came first, so the two never run together even without colour. The command line sends the
    reasoning to stderr, so that a pipe receives the answer alone; the demo sends both to stdout.

    Args:
        out: where the answer goes.
        thoughts: where the reasoning goes (may be ``out``).
        indent: put before each label and each line of the reply (the demo indents its
            sections).
        label_answer: print the "Answer" label after reasoning (the command line leaves it out
            when the answer goes to a pipe, which should hold the answer alone).
    """

    def __init__(
        self, *, out: TextIO, thoughts: TextIO, indent: str = "", label_answer: bool = True
    ) -> None:
        self._out = out
        self._thoughts = thoughts
        self._indent = indent
        self._label_answer = label_answer
        self._out_style = Style(color=wants_color(out))
        self._thought_style = Style(color=wants_color(thoughts))
        self._state = "start"  # start -> thinking -> answering
        self._line_start: dict[int, bool] = {id(out): True, id(thoughts): True}

    def _write(self, stream: TextIO, text: str, paint: Callable[[str], str] = str) -> None:
        """Write ``text`` with the indent at the start of each line it begins."""
        if self._indent:
            lines = text.split("\n")
            if self._line_start[id(stream)] and lines[0]:
                lines[0] = self._indent + lines[0]
            lines[1:] = [self._indent + line if line else line for line in lines[1:]]
            text = "\n".join(lines)
        stream.write(paint(text))
        stream.flush()
        self._line_start[id(stream)] = text.endswith("\n")

    def reasoning(self, text: str) -> None:
        """Print a piece of reasoning."""
        if not text:
            return
        if self._state == "start":
            self._write(self._thoughts, "Thinking:\n", self._thought_style.dim)
            self._state = "thinking"
        if self._state == "thinking":
            self._write(self._thoughts, text, self._thought_style.dim)
        # Reasoning after the answer began (rare) is dropped from the display: interleaving it
        # would garble the answer. It stays in the result's ``reasoning``.

    def text(self, text: str) -> None:
        """Print a piece of the answer."""
        if not text:
            return
        if self._state == "thinking":
            self._end_line(self._thoughts)
            if self._label_answer:
                self._write(self._out, "\n")
                self._write(self._out, "Answer:\n", self._out_style.bold)
        self._state = "answering"
        self._write(self._out, text)

    def finish(self) -> None:
        """End the reply on a fresh line."""
        self._end_line(self._thoughts)
        self._end_line(self._out)
        self._state = "start"

    def _end_line(self, stream: TextIO) -> None:
        if not self._line_start[id(stream)]:
            self._write(stream, "\n")
