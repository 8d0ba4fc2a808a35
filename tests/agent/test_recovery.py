"""Recovering tool calls left in the message text."""

from __future__ import annotations

import json

import pytest

from lmbridge.agent.recovery import RecoveredCall, recover_tool_calls

KNOWN = {"get_time", "echo"}


def names_and_args(calls: list[RecoveredCall]) -> list[tuple[str, object]]:
    return [(c.name, json.loads(c.arguments)) for c in calls]


def test_one_hermes_call_with_text_around() -> None:
    text = 'Let me check.\n<tool_call>\n{"name": "get_time", "arguments": {"timezone": "Asia/Tokyo"}}\n</tool_call>'
    calls, rest = recover_tool_calls(text, KNOWN)
    assert names_and_args(calls) == [("get_time", {"timezone": "Asia/Tokyo"})]
    assert calls[0].error is None
    assert calls[0].raw.startswith("<tool_call>")
    assert calls[0].raw.endswith("</tool_call>")
    assert rest == "Let me check."


def test_several_calls_in_order() -> None:
    text = (
        '<tool_call>{"name": "get_time", "arguments": {"timezone": "A"}}</tool_call>\n'
        '<tool_call>{"name": "echo", "arguments": {"message": "B"}}</tool_call>\n'
        '<TOOL_CALL>{"name": "echo", "arguments": {"message": "C"}}</TOOL_CALL>'
    )
    calls, rest = recover_tool_calls(text, KNOWN)
    assert names_and_args(calls) == [
        ("get_time", {"timezone": "A"}),
        ("echo", {"message": "B"}),
        ("echo", {"message": "C"}),
    ]
    assert rest == ""


def test_unterminated_call_cut_by_a_stop_string() -> None:
    text = 'Checking <tool_call>{"name": "get_time", "arguments": {"timezone": "Europe/Oslo"}}'
    calls, rest = recover_tool_calls(text, KNOWN)
    assert names_and_args(calls) == [("get_time", {"timezone": "Europe/Oslo"})]
    assert rest == "Checking"


def test_unterminated_calls_followed_by_another_and_by_prose() -> None:
    text = (
        '<tool_call>{"name": "echo", "arguments": {"message": "1"}}\n'
        '<tool_call>{"name": "echo", "arguments": {"message": "2"}}\nI will wait.'
    )
    calls, rest = recover_tool_calls(text, KNOWN)
    assert names_and_args(calls) == [("echo", {"message": "1"}), ("echo", {"message": "2"})]
    assert rest == "I will wait."


def test_lm_studio_tool_request_markup() -> None:
    text = (
        'Sure.[TOOL_REQUEST]\n{"name": "echo", "arguments": {"message": "hi"}}\n[END_TOOL_REQUEST]'
    )
    calls, rest = recover_tool_calls(text, KNOWN)
    assert names_and_args(calls) == [("echo", {"message": "hi"})]
    assert rest == "Sure."
    unterminated, _ = recover_tool_calls('[TOOL_REQUEST]{"name": "echo", "arguments": {}}', KNOWN)
    assert names_and_args(unterminated) == [("echo", {})]


def test_mistral_tool_calls_array() -> None:
    text = '[TOOL_CALLS][{"name": "echo", "arguments": {"message": "x"}}, {"name": "get_time", "arguments": {"timezone": "UTC"}}]'
    calls, rest = recover_tool_calls(text, KNOWN)
    assert names_and_args(calls) == [("echo", {"message": "x"}), ("get_time", {"timezone": "UTC"})]
    assert rest == ""


def test_fenced_json_inside_tags_and_double_encoded_arguments() -> None:
    text = '<tool_call>```json\n{"name": "echo", "arguments": "{\\"message\\": \\"q\\"}"}\n```</tool_call>'
    calls, _ = recover_tool_calls(text, KNOWN)
    assert calls[0].name == "echo"
    assert calls[0].arguments == '{"message": "q"}'


def test_broken_json_inside_tags_keeps_the_raw_text() -> None:
    text = '<tool_call>{"name": "get_time", "arguments": {"timezone": "Asia/Tokyo"</tool_call>'
    calls, rest = recover_tool_calls(text, KNOWN)
    (call,) = calls
    assert call.name == "get_time"
    assert call.arguments == '{"timezone": "Asia/Tokyo"'
    assert call.error is not None
    assert call.error.startswith("the tool call is not valid JSON: Expecting ',' delimiter")
    assert call.raw == text
    assert rest == ""


def test_broken_json_without_a_name() -> None:
    calls, _ = recover_tool_calls("<tool_call>{'name': 'echo'}</tool_call>", KNOWN)
    (call,) = calls
    assert call.name == ""
    assert call.error is not None


def test_non_json_inside_tags() -> None:
    calls, rest = recover_tool_calls('<tool_call>get_time(timezone="UTC")</tool_call> ok', KNOWN)
    (call,) = calls
    assert call.name == ""
    assert call.arguments == 'get_time(timezone="UTC")'
    assert call.error == "the tool call is not a JSON object with a tool name"
    assert rest == "ok"


def test_tagged_calls_are_returned_even_for_unknown_tools() -> None:
    calls, _ = recover_tool_calls(
        '<tool_call>{"name": "launch", "arguments": {}}</tool_call>', KNOWN
    )
    assert [c.name for c in calls] == ["launch"]


def test_call_without_name_or_arguments() -> None:
    calls, _ = recover_tool_calls('<tool_call>{"arguments": {"a": 1}}</tool_call>', KNOWN)
    assert calls[0].error == "the tool call names no tool"
    calls, _ = recover_tool_calls('<tool_call>{"name": "echo"}</tool_call>', KNOWN)
    assert calls[0].arguments == "{}"
    assert calls[0].error is None


def test_empty_tags_are_removed_without_a_call() -> None:
    calls, rest = recover_tool_calls("Hello <tool_call></tool_call>world", KNOWN)
    assert calls == []
    assert rest == "Hello world"


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "echo", "arguments": {"message": "m"}}',
        '  {"tool": "echo", "parameters": {"message": "m"}}\n',
        '```json\n{"name": "echo", "parameters": {"message": "m"}}\n```',
        '```\n{"type": "function", "function": {"name": "echo", "arguments": {"message": "m"}}}\n```',
        '[{"tool_name": "echo", "args": {"message": "m"}}]',
    ],
)
def test_bare_json_naming_a_known_tool(text: str) -> None:
    calls, rest = recover_tool_calls(text, KNOWN)
    assert names_and_args(calls) == [("echo", {"message": "m"})]
    assert rest == ""


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "Alice", "arguments": {}}',  # not a known tool
        '{"name": "echo", "age": 3}',  # not call-shaped
        '{"answer": 42}',
        'Here it is: {"name": "echo", "arguments": {}}',  # JSON is not the whole message
        '{"name": "echo", "arguments": {}} and more',
        '{"name": "echo", "arguments": {',
        "[1, 2, 3]",
        "Just a normal answer.",
        "",
    ],
)
def test_other_text_is_left_alone(text: str) -> None:
    calls, rest = recover_tool_calls(text, KNOWN)
    assert calls == []
    assert rest == text


def test_only_known_names_for_every_bare_call() -> None:
    text = '[{"name": "echo", "arguments": {}}, {"name": "unknown", "arguments": {}}]'
    assert recover_tool_calls(text, KNOWN) == ([], text)
