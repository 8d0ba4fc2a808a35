"""``python -m lmbridge demo`` on the simulator, as a newcomer runs it with no LM Studio."""

from __future__ import annotations

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
