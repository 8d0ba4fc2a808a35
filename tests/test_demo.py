"""``python -m lmbridge demo`` on the simulator, as a newcomer runs it with no LM Studio."""

from __future__ import annotations

import re

import pytest

from lmbridge.__main__ import main


def test_demo_runs_on_the_simulator_when_nothing_answers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--base-url", "http://127.0.0.1:9"]) == 0
    out = capsys.readouterr().out
    assert "running on lmbridge's built-in simulator" in out
    assert "3 models answering at once" in out
    assert "parsed: City(" in out
    assert "reloaded it and retried once" in out and "':2'" in out
    assert "tool get_time(" in out and "stop_reason=completed" in out
    # Sections numbered without gaps, and the reasoning set apart from the answer.
    assert re.findall(r"^(\d+)\. ", out, re.M) == ["1", "2", "3", "4", "5"]
    thinking = out.index("Thinking:\n   Three short reasons, then stop.")
    assert thinking < out.index("Answer:\n   Local models keep your data")
    # It ends saying where to go next: the tour, the docs, the simulator for tests.
    steps = out[out.index("Next steps") :].splitlines()[1:]
    assert len(steps) == 3
    assert "README" in steps[0] and "docs" in steps[1] and "lmbridge.testing" in steps[2]


def test_no_colour_when_piped(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--base-url", "http://127.0.0.1:9"]) == 0
    assert "\033[" not in capsys.readouterr().out
