"""Writing for a person: colour only on a terminal and never under NO_COLOR; a streamed reply
with its reasoning set apart from its answer."""

from __future__ import annotations

import io

import pytest

from lmbridge.terminal import ReplyPrinter, Style, wants_color


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_and_not_under_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert wants_color(FakeTerminal()) is True
    assert wants_color(io.StringIO()) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert wants_color(FakeTerminal()) is False
    monkeypatch.setenv("NO_COLOR", "")  # set but empty does not count (no-color.org)
    assert wants_color(FakeTerminal()) is True
    assert Style(color=False).bold("x") == "x"
    assert Style(color=True).bold("x") == "\033[1mx\033[0m"


def test_reasoning_and_answer_are_apart_on_one_stream() -> None:
    out = io.StringIO()
    printer = ReplyPrinter(out=out, thoughts=out, indent="  ")
    for piece in ("Two plus", " two.\nDone"):
        printer.reasoning(piece)
    printer.text("Fo")
    printer.text("ur.")
    printer.finish()
    assert out.getvalue() == "  Thinking:\n  Two plus two.\n  Done\n\n  Answer:\n  Four.\n"


def test_reasoning_to_its_own_stream_leaves_the_answer_alone() -> None:
    out, thoughts = io.StringIO(), io.StringIO()
    printer = ReplyPrinter(out=out, thoughts=thoughts, label_answer=False)
    printer.reasoning("hmm")
    printer.text("Yes")
    printer.finish()
    assert out.getvalue() == "Yes\n"
    assert thoughts.getvalue() == "Thinking:\nhmm\n"
