"""Tests of the incremental SSE decoder (lmbridge.transport.sse) at its public API."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings, strategies as st

from lmbridge.errors import LMBridgeError, StreamError
from lmbridge.transport.sse import ServerSentEvent, SSEDecoder, SSEEventTooLargeError

BOM = b"\xef\xbb\xbf"


def decode(*chunks: bytes, decoder: SSEDecoder | None = None) -> list[ServerSentEvent]:
    """Feed every chunk, then end the stream; return all events."""
    decoder = decoder or SSEDecoder()
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.flush())
    return events


def bytewise(stream: bytes) -> list[bytes]:
    return [stream[i : i + 1] for i in range(len(stream))]


# --- the event model ------------------------------------------------------------------------


def test_event_defaults() -> None:
    assert ServerSentEvent() == ServerSentEvent(event="message", data="", id="", retry=None)


def test_event_is_frozen_and_hashable() -> None:
    event = decode(b"data: x\n\n")[0]
    with pytest.raises(AttributeError):
        event.data = "y"  # type: ignore[misc]
    assert hash(event) == hash(ServerSentEvent(data="x"))
    assert repr(event) == "ServerSentEvent(event='message', data='x', id='', retry=None)"


# --- fields ---------------------------------------------------------------------------------


def test_single_event() -> None:
    assert decode(b"data: hello\n\n") == [ServerSentEvent(data="hello")]


def test_multi_line_data_joined_with_lf() -> None:
    assert decode(b"data: a\ndata: b\ndata:\ndata: c\n\n") == [ServerSentEvent(data="a\nb\n\nc")]


def test_only_one_leading_space_is_stripped() -> None:
    assert decode(b"data:  two\ndata:none\ndata: trailing \n\n") == [
        ServerSentEvent(data=" two\nnone\ntrailing ")
    ]


def test_value_may_contain_colons() -> None:
    assert decode(b'data: {"a": "b:c"}\n\n') == [ServerSentEvent(data='{"a": "b:c"}')]


def test_field_without_colon_has_empty_value() -> None:
    assert decode(b"data\n\n") == [ServerSentEvent(data="")]
    assert decode(b"data\ndata\n\n") == [ServerSentEvent(data="\n")]
    assert decode(b"event\ndata: x\n\n") == [ServerSentEvent(event="message", data="x")]


def test_comments_are_ignored() -> None:
    stream = b": keep-alive\n:\ndata: a\n: between\ndata: b\n\n:only a comment\n\n"
    assert decode(stream) == [ServerSentEvent(data="a\nb")]


def test_unknown_and_miscased_fields_are_ignored() -> None:
    stream = b"Data: no\n data: no\nfoo: bar\ndata : no\ndata: yes\n\n"
    assert decode(stream) == [ServerSentEvent(data="yes")]


def test_event_name() -> None:
    assert decode(b"event: ping\ndata: 1\n\n") == [ServerSentEvent(event="ping", data="1")]


def test_empty_event_name_means_message() -> None:
    assert decode(b"event:\ndata: 1\n\n") == [ServerSentEvent(event="message", data="1")]


def test_event_name_resets_after_dispatch() -> None:
    stream = b"event: a\ndata: 1\n\ndata: 2\n\n"
    assert [e.event for e in decode(stream)] == ["a", "message"]


def test_event_without_data_is_not_dispatched_and_its_name_is_reset() -> None:
    stream = b"event: lonely\n\ndata: 2\n\n"
    assert decode(stream) == [ServerSentEvent(event="message", data="2")]


def test_id_persists_across_events() -> None:
    stream = b"id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n"
    assert [e.id for e in decode(stream)] == ["1", "1", "2"]


def test_id_in_block_without_data_still_sets_last_event_id() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 7\n\n") == []
    assert decoder.last_event_id == "7"
    assert decoder.feed(b"data: x\n\n") == [ServerSentEvent(data="x", id="7")]


def test_empty_id_resets_last_event_id() -> None:
    stream = b"id: 1\ndata: a\n\nid\ndata: b\n\n"
    assert [e.id for e in decode(stream)] == ["1", ""]


def test_id_containing_nul_is_ignored() -> None:
    stream = b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n"
    assert [e.id for e in decode(stream)] == ["1", "1"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"3000", 3000),
        (b"0", 0),
        (b"007", 7),
        (b"", None),
        (b"-1", None),
        (b"1.5", None),
        (b"12a", None),
        (b"1_000", None),
        (b"3000 ", None),
        ("３".encode(), None),  # a digit, but not an ASCII one
        ("٣".encode(), None),
        (b"9" * 5000, None),  # longer than int() accepts: ignored, no exception
    ],
)
def test_retry_accepts_ascii_digits_only(value: bytes, expected: int | None) -> None:
    decoder = SSEDecoder()
    [event] = decoder.feed(b"retry: " + value + b"\ndata: x\n\n")
    assert event.retry == expected
    assert decoder.retry == expected


def test_invalid_retry_keeps_previous_value_and_retry_persists() -> None:
    stream = b"retry: 10\ndata: a\n\ndata: b\n\nretry: x\ndata: c\n\nretry: 20\n\ndata: d\n\n"
    assert [e.retry for e in decode(stream)] == [10, 10, 10, 20]


# --- line endings -----------------------------------------------------------------------------


@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"])
def test_every_line_ending(eol: bytes) -> None:
    stream = eol.join([b"event: e", b"data: a", b"data: b", b"", b"data: c", b"", b""])
    assert decode(stream) == [ServerSentEvent(event="e", data="a\nb"), ServerSentEvent(data="c")]


def test_mixed_line_endings() -> None:
    stream = b"data: a\rdata: b\ndata: c\r\n\r" + b"data: d\n\r\n"
    assert decode(stream) == [ServerSentEvent(data="a\nb\nc"), ServerSentEvent(data="d")]


def test_crlf_split_across_chunks_is_one_line_end() -> None:
    # Were "\r" | "\n" two line ends, "a" would be dispatched alone before "b".
    assert decode(b"data: a\r", b"\ndata: b\r\n\r\n") == [ServerSentEvent(data="a\nb")]


def test_crlf_split_with_lone_lf_chunk() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"\n") == [ServerSentEvent(data="a")]


def test_crlf_split_survives_empty_chunk() -> None:
    assert decode(b"data: a\r", b"", b"\ndata: b\n\n") == [ServerSentEvent(data="a\nb")]


def test_cr_dispatches_without_waiting_for_next_chunk() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r\r") == [ServerSentEvent(data="a")]
    # The LF that might have followed is not there: the next "\r" starts a new line end.
    assert decoder.feed(b"data: b\r") == []
    assert decoder.feed(b"\r") == [ServerSentEvent(data="b")]


def test_lf_after_lf_is_a_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert decoder.feed(b"\n") == [ServerSentEvent(data="a")]


def test_only_cr_and_lf_end_lines() -> None:
    # str.splitlines() would also split on all of these.
    text = "a\x0bb\x0cc\x1cd\x1de\x1ef\x85g\u2028h\u2029i"
    assert decode(b"data: " + text.encode() + b"\n\n") == [ServerSentEvent(data=text)]


# --- bytes and UTF-8 ----------------------------------------------------------------------------


def test_chunks_split_inside_multibyte_characters() -> None:
    stream = "event: é€\nid: 😀\ndata: naïve 😀 €\n\n".encode()
    expected = [ServerSentEvent(event="é€", data="naïve 😀 €", id="😀")]
    assert decode(*bytewise(stream)) == expected
    assert decode(stream) == expected


def test_invalid_utf8_becomes_replacement_character() -> None:
    stream = b"event: \xff\nid: \xc3\ndata: a\xffb\ndata: \xf0\x9f\x98\n\n"
    assert decode(stream) == [
        ServerSentEvent(event="\ufffd", data="a\ufffdb\n\ufffd", id="\ufffd"),
    ]
    assert decode(*bytewise(stream)) == decode(stream)


def test_bom_at_start_is_stripped() -> None:
    assert decode(BOM + b"data: x\n\n") == [ServerSentEvent(data="x")]


def test_bom_split_across_chunks_is_stripped() -> None:
    assert decode(b"\xef", b"\xbb", b"\xbfdata", b": x\n\n") == [ServerSentEvent(data="x")]


def test_only_one_bom_is_stripped() -> None:
    # The second BOM is part of the field name, which is then unknown.
    assert decode(BOM + BOM + b"data: x\n\ndata: y\n\n") == [ServerSentEvent(data="y")]


def test_bom_later_in_stream_is_not_stripped() -> None:
    assert decode(b"data: a\n\n" + BOM + b"data: b\n\n") == [ServerSentEvent(data="a")]
    assert decode(b"data: " + BOM + b"b\n\n") == [ServerSentEvent(data="\ufeffb")]


# --- end of stream ------------------------------------------------------------------------------


def test_flush_discards_event_without_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\ndata: incomplete\n") == [ServerSentEvent(data="a")]
    assert decoder.flush() == []


def test_flush_discards_unterminated_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 1\ndata: a\n\nid: 2") == [ServerSentEvent(data="a", id="1")]
    assert decoder.flush() == []
    # Per the spec, pending data at the end of the stream is discarded, not interpreted.
    assert decoder.last_event_id == "1"


def test_decoder_is_reusable_after_flush_and_keeps_id_and_retry() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 5\nretry: 100\ndata: a\n\nevent: x\ndata: half\ndata: ha") != []
    assert decoder.flush() == []
    # A new stream (after a reconnection) starts clean, BOM included, but keeps id and retry.
    assert decoder.feed(BOM + b"data: b\n\n") == [ServerSentEvent(data="b", id="5", retry=100)]


def test_flush_forgets_pending_cr() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\ndata: b\r") == [ServerSentEvent(data="a")]
    assert decoder.flush() == []
    # A new stream's leading LF is its own line end, not the end of the old CRLF.
    assert decoder.feed(b"data: c\n\n") == [ServerSentEvent(data="c")]


def test_empty_input() -> None:
    assert decode() == []
    assert decode(b"", b"") == []
    assert decode(b"\n\n\r\n\r") == []


# --- size cap -------------------------------------------------------------------------------------


def test_rejects_nonpositive_limit() -> None:
    with pytest.raises(ValueError, match="max_event_bytes"):
        SSEDecoder(max_event_bytes=0)


def test_data_at_the_limit_is_accepted() -> None:
    decoder = SSEDecoder(max_event_bytes=100)
    # 50 + the joining LF + 49 = 100 bytes of data.
    stream = b"data: " + b"a" * 50 + b"\ndata: " + b"b" * 49 + b"\n\n"
    [event] = decoder.feed(stream)
    assert len(event.data.encode()) == 100


def test_data_over_the_limit_raises() -> None:
    decoder = SSEDecoder(max_event_bytes=100)
    decoder.feed(b"data: " + b"a" * 50 + b"\n")
    with pytest.raises(SSEEventTooLargeError, match="max_event_bytes=100") as caught:
        decoder.feed(b"data: " + b"b" * 50 + b"\n")
    assert caught.value.limit == 100
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, StreamError)
    assert isinstance(caught.value, LMBridgeError)
    assert caught.value.hint is not None
    assert "max_event_bytes" in caught.value.hint


def test_limit_applies_per_event() -> None:
    decoder = SSEDecoder(max_event_bytes=100)
    events = decoder.feed(b"data: " + b"a" * 80 + b"\n\n" + b"data: " + b"b" * 80 + b"\n\n")
    assert len(events) == 2


def test_unterminated_line_over_the_limit_raises() -> None:
    decoder = SSEDecoder(max_event_bytes=100)
    decoder.feed(b": " + b"x" * 90)
    decoder.feed(b"x" * 8)  # 100 bytes pending: at the limit, still fine
    with pytest.raises(SSEEventTooLargeError, match=r"unterminated line.*max_event_bytes=100"):
        decoder.feed(b"x")


def test_single_huge_unterminated_chunk_raises() -> None:
    decoder = SSEDecoder(max_event_bytes=1000)
    with pytest.raises(SSEEventTooLargeError):
        decoder.feed(b"data: " + b"x" * 2000)


def test_limit_error_keeps_events_completed_before_it() -> None:
    decoder = SSEDecoder(max_event_bytes=100)
    with pytest.raises(SSEEventTooLargeError) as caught:
        decoder.feed(b"data: ok\n\ndata: " + b"x" * 200)
    assert caught.value.events == [ServerSentEvent(data="ok")]


def test_decoder_stays_failed_after_limit_error() -> None:
    decoder = SSEDecoder(max_event_bytes=10)
    with pytest.raises(SSEEventTooLargeError) as first:
        decoder.feed(b"data: ok\n\ndata: " + b"x" * 20 + b"\n")
    assert first.value.events == [ServerSentEvent(data="ok")]
    # Later calls fail too, without handing the same events over twice.
    with pytest.raises(SSEEventTooLargeError, match="earlier error") as again:
        decoder.feed(b"\n\ndata: small\n\n")
    assert again.value.events == []
    with pytest.raises(SSEEventTooLargeError, match="max_event_bytes=10"):
        decoder.flush()


# --- real streams ---------------------------------------------------------------------------------


def test_lm_studio_v1_named_events() -> None:
    payloads = [
        ("chat.start", {"type": "chat.start", "model_instance_id": "qwen/qwen3-4b"}),
        ("model_load.progress", {"type": "model_load.progress", "progress": 0.5}),
        ("model_load.end", {"type": "model_load.end", "load_time_seconds": 1.25}),
        ("message.start", {"type": "message.start"}),
        ("message.delta", {"type": "message.delta", "content": "Hel"}),
        ("message.delta", {"type": "message.delta", "content": "lo 😀"}),
        ("message.end", {"type": "message.end"}),
        ("chat.end", {"type": "chat.end", "result": {"output": [{"content": "Hello 😀"}]}}),
    ]
    stream = b"".join(
        f"event: {name}\ndata: {json.dumps(body, ensure_ascii=False)}\n\n".encode()
        for name, body in payloads
    )
    for chunks in (
        [stream],
        bytewise(stream),
        [stream[i : i + 7] for i in range(0, len(stream), 7)],
    ):
        events = decode(*chunks)
        assert [(e.event, json.loads(e.data)) for e in events] == payloads


def test_openai_stream_with_done() -> None:
    deltas = [{"role": "assistant", "content": None}, {"content": "Hi"}, {}]
    stream = b"".join(
        b"data: " + json.dumps({"choices": [{"index": 0, "delta": d}]}).encode() + b"\n\n"
        for d in deltas
    )
    events = decode(b": ping\n\n" + stream + b"data: [DONE]\n\n")
    assert [e.event for e in events] == ["message"] * 4
    assert [json.loads(e.data)["choices"][0]["delta"] for e in events[:-1]] == deltas
    assert events[-1].data == "[DONE]"


# --- linear time ----------------------------------------------------------------------------------


# Not a speed assertion: the inputs are sized so a linear decoder takes about a second, while one
# that re-joins or re-scans its buffer on each feed copies terabytes and hits the timeout.
@pytest.mark.timeout(60)
def test_long_line_in_tiny_chunks() -> None:
    one_line = "é" * (4 * 1024 * 1024)  # 8 MB in a single data line, fed 8 bytes at a time
    stream = b"data: " + one_line.encode() + b"\r\n\r\n"
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for i in range(0, len(stream), 8):
        events.extend(decoder.feed(stream[i : i + 8]))
    assert events == [ServerSentEvent(data=one_line)]


@pytest.mark.timeout(60)
def test_many_line_event_in_small_chunks() -> None:
    many_lines = "\n".join(f"line {i:06d} 😀" for i in range(250_000))  # 4 MB, 250k data lines
    stream = b"".join(b"data: " + line.encode() + b"\r" for line in many_lines.split("\n")) + b"\r"
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for i in range(0, len(stream), 64):
        events.extend(decoder.feed(stream[i : i + 64]))
    assert events == [ServerSentEvent(data=many_lines)]


# --- any chunking decodes the same ------------------------------------------------------------------

_text = st.text(
    alphabet=st.one_of(
        st.characters(exclude_characters="\r\n", exclude_categories=["Cs"]),
        st.sampled_from(["😀", "𝄞", "é", "€", ":", " ", "\ufeff", "\u2028", "\x0b", "\x85", "\0"]),
    ),
    max_size=12,
)
_retry_values = st.one_of(
    st.integers(min_value=0, max_value=10**12).map(str),
    st.sampled_from(["", "-1", "1.5", "12a", "３", " 7"]),
)


@dataclass
class _Stream:
    """A generated event stream and the events it must decode to."""

    lines: list[str] = field(default_factory=list)
    expected: list[ServerSentEvent] = field(default_factory=list)


@st.composite
def _streams(draw: st.DrawFn) -> _Stream:
    out = _Stream()
    last_id, retry = "", None
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        name, data = "", []
        for _ in range(draw(st.integers(min_value=0, max_value=5))):
            kind = draw(
                st.sampled_from(["data", "data", "data", "event", "id", "retry", "comment"])
            )
            value = draw(_retry_values if kind == "retry" else _text)
            if kind == "comment":
                out.lines.append(":" + value)
                continue
            # A value that starts with a space needs the separating space to keep it.
            space = " " if value.startswith(" ") or draw(st.booleans()) else ""
            if kind in ("data", "event", "id") and value == "" and draw(st.booleans()):
                out.lines.append(kind)  # no colon: empty value
            else:
                out.lines.append(f"{kind}:{space}{value}")
            if kind == "data":
                data.append(value)
            elif kind == "event":
                name = value
            elif kind == "id" and "\0" not in value:
                last_id = value
            elif kind == "retry" and value.isascii() and value.isdigit():
                retry = int(value)
        out.lines.append("")
        if data:
            out.expected.append(ServerSentEvent(name or "message", "\n".join(data), last_id, retry))
    # An unfinished event at the end is discarded, terminated or not.
    out.lines.extend(draw(st.lists(st.sampled_from(["data: lost", "event: x", ": c"]), max_size=2)))
    return out


@st.composite
def _encoded_streams(draw: st.DrawFn) -> tuple[_Stream, bytes]:
    stream = draw(_streams())
    parts: list[bytes] = []
    if draw(st.booleans()):
        parts.append(BOM)
    previous_eol = ""
    for line in stream.lines:
        eol = draw(st.sampled_from(["\n", "\r", "\r\n"]))
        if previous_eol == "\r" and line == "" and eol == "\n":
            eol = "\r\n"  # "\r" + "\n" would be one line end, not an empty line
        parts.append((line + eol).encode())
        previous_eol = eol
    if stream.lines and stream.lines[-1] != "" and draw(st.booleans()):
        parts[-1] = parts[-1].rstrip(b"\r\n")  # the last, unfinished line may lack its end
    return stream, b"".join(parts)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_split_decodes_like_the_whole(data: st.DataObject) -> None:
    stream, encoded = data.draw(_encoded_streams())
    cuts = sorted(
        data.draw(st.lists(st.integers(min_value=0, max_value=len(encoded)), max_size=20))
    )
    chunks = [encoded[a:b] for a, b in zip([0, *cuts], [*cuts, len(encoded)], strict=True)]

    whole = decode(encoded)
    assert whole == stream.expected
    assert decode(*chunks) == whole


@settings(max_examples=50, deadline=None)
@given(_encoded_streams())
def test_byte_by_byte_decodes_like_the_whole(generated: tuple[_Stream, bytes]) -> None:
    stream, encoded = generated
    assert decode(*bytewise(encoded)) == decode(encoded) == stream.expected
