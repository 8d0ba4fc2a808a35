"""Parsing what `lms` prints: JSON among log text, the spinner in pieces, the success lines."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given, strategies as st

from lmbridge.lifecycle.lms.output import (
    ProgressParser,
    find_json,
    parse_load_outcome,
    strip_ansi,
)
from lmbridge.lifecycle.lms.types import LmsLoadOutcome

SPINNER = (
    "".join(
        f"\r\x1b[2K\x1b[36m⠋\x1b[0m Loading qwen/qwen3-4b {pct}% {frame}"
        for pct, frame in [(0, "⠋"), (12, "⠙"), (12, "⠹"), (45, "⠸"), (45.5, "⠼"), (100, "⠴")]
    )
    + "\r\x1b[2K\n"
)


def test_strip_ansi_removes_colours_line_clears_and_titles() -> None:
    text = "\x1b[2K\x1b[1;32mok\x1b[0m \x1b]0;title\x07done\x1b[?25l"
    assert strip_ansi(text) == "ok done"


@pytest.mark.parametrize(
    ("stdout", "kind", "expected"),
    [
        ('[{"a": 1}]', "array", [{"a": 1}]),
        ("[]\n", "array", []),
        (
            '[INFO] Waking up LM Studio service...\n[2025-01-01 10:00] ok\n[{"a": 1}]',
            "array",
            [{"a": 1}],
        ),
        (
            '\x1b[32m[LMStudioClient]\x1b[0m connecting\n\x1b[0m[{"a": [1, 2]}]\x1b[0m\n',
            "array",
            [{"a": [1, 2]}],
        ),
        (
            'log {not json} and then {"running": true, "port": 1234}\n',
            "object",
            {"running": True, "port": 1234},
        ),
        ('{"running":false}', "object", {"running": False}),
        # A log line that happens to be valid JSON loses to the document that ends the output.
        ('[1] starting\n[{"a": 1}]\n', "array", [{"a": 1}]),
    ],
)
def test_find_json_skips_log_text_and_ansi(stdout: str, kind: str, expected: object) -> None:
    found = find_json(stdout, kind)  # type: ignore[arg-type]
    assert found is not None
    assert json.loads(found) == expected


@pytest.mark.parametrize("stdout", ["", "No models are loaded.", "[INFO] nothing here\n"])
def test_find_json_returns_none_without_json(stdout: str) -> None:
    assert find_json(stdout, "array") is None


def test_progress_from_whole_spinner_is_increasing_and_deduplicated() -> None:
    parser = ProgressParser()
    assert parser.feed(SPINNER) == [0.12, 0.45, 0.455, 1.0]
    assert parser.last == 1.0


@given(st.lists(st.integers(min_value=0, max_value=len(SPINNER)), max_size=12))
def test_progress_is_the_same_whatever_the_chunking(cuts: list[int]) -> None:
    bounds = [0, *sorted(cuts), len(SPINNER)]
    parser = ProgressParser()
    seen: list[float] = []
    for start, end in itertools.pairwise(bounds):
        seen += parser.feed(SPINNER[start:end])
    assert seen == [0.12, 0.45, 0.455, 1.0]


def test_progress_ignores_backwards_steps_and_caps_at_one() -> None:
    parser = ProgressParser()
    assert parser.feed("\rLoading k 50%\rLoading k 30%\rLoading k 250%") == [0.5, 1.0]


def test_progress_reads_an_unfinished_frame_once_its_percent_sign_arrived() -> None:
    parser = ProgressParser()
    assert parser.feed("\r\x1b[2KLoading k 4") == []
    assert parser.feed("5") == []
    assert parser.feed("% ⠋") == [0.45]
    assert parser.feed(" ") == []


def test_load_outcome_from_success_lines() -> None:
    stderr = (
        "\x1b[32mModel loaded successfully in 6.88s.\x1b[0m\n"
        "(4.37 GiB)\n"
        'To use the model in the API/SDK, use the identifier "qwen/qwen3-4b:2".\n'
    )
    assert parse_load_outcome(stderr, "") == LmsLoadOutcome("qwen/qwen3-4b:2", 6.88, "4.37 GiB")


def test_load_outcome_from_stdout_and_missing_parts() -> None:
    assert parse_load_outcome("", "Model loaded successfully in 12s.") == LmsLoadOutcome(
        None, 12.0, None
    )
    assert parse_load_outcome("", "") == LmsLoadOutcome(None, None, None)
