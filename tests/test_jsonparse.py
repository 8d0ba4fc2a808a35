"""The one JSON parser for server data: agrees with the standard library on what it accepts,
and fails with one exception type on everything else, however deep."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest
from hypothesis import given, strategies as st

from lmbridge.jsonparse import MAX_DEPTH, JSONParseError, decode_prefix, parse_json

VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@given(VALUES, st.sampled_from(["", " tail", "\n\nprose after", " </tool_call>", "xyz"]))
def test_a_prefix_decodes_like_raw_decode(value: Any, suffix: str) -> None:
    text = "ab" + json.dumps(value, ensure_ascii=False) + suffix
    expected, end = json.JSONDecoder().raw_decode(text, 2)
    parsed, stop = decode_prefix(text, 2)
    assert parsed == expected
    assert text[end:stop].strip() == ""  # only whitespace between the value's end and ours
    assert text[stop:] == text[end:].lstrip() or stop == len(text)


@given(VALUES)
def test_parse_json_agrees_with_json_loads(value: Any) -> None:
    text = json.dumps(value)
    assert parse_json(text) == json.loads(text) == parse_json(text.encode())


@pytest.mark.parametrize(
    "text",
    [
        "[" * 2000 + "]" * 2000,
        '{"a": ' * 100_000,
        "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5),
        "{broken",
        "1 2",
        b"\xff\xfe",
        "",
    ],
    ids=["deep", "deeper-unclosed", "just-past-the-limit", "broken", "trailing", "utf8", "empty"],
)
def test_every_failure_is_one_exception(text: str | bytes) -> None:
    with pytest.raises(JSONParseError) as caught:
        parse_json(text)
    assert isinstance(caught.value, ValueError)
    if isinstance(text, str) and text != "1 2":  # as a prefix, "1" followed by text is fine
        with pytest.raises(JSONParseError):
            decode_prefix(text + " tail")
    revived = pickle.loads(pickle.dumps(caught.value))
    assert (revived.msg, revived.pos) == (caught.value.msg, caught.value.pos)


def test_too_deep_is_said_and_broken_json_keeps_the_standard_wording() -> None:
    with pytest.raises(JSONParseError) as deep:
        parse_json("[" * 3000)
    assert deep.value.too_deep and f"{MAX_DEPTH} levels" in deep.value.msg
    with pytest.raises(JSONParseError) as broken:
        decode_prefix('x{"a": 1 "b": 2}', 1)
    assert broken.value.msg == "Expecting ',' delimiter" and broken.value.pos == 9
    assert not broken.value.too_deep
