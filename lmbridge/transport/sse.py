"""Incremental Server-Sent Events decoder: bytes in, events out, no I/O.

It follows the WHATWG "event stream interpretation" rules
(https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream):

- Lines end with CR, LF or CRLF, also when a CRLF is split across two chunks.
- Chunks may end anywhere, even inside a multi-byte UTF-8 character: bytes are buffered and only
  complete lines are decoded. Invalid UTF-8 becomes U+FFFD, never an exception.
- One UTF-8 byte order mark at the very start of the stream is removed.
- ``field: value`` lines: one space after the colon is removed; a line without a colon is a field
  with an empty value; lines starting with ``:`` are comments; unknown fields are ignored.
- ``data`` lines of one event are joined with ``\\n``. A blank line dispatches the event, but only
  if it had at least one ``data`` field; either way the event name is reset afterwards.
- ``id`` (ignored if it contains NUL) and ``retry`` (ignored unless only ASCII digits) persist:
  every later event carries the last value set, like the ``lastEventId`` of a browser's
  ``EventSource`` and its reconnection time.
- At the end of the stream, an event that was not closed by a blank line is discarded, and so is
  an unterminated last line (see :meth:`SSEDecoder.flush`).

Example:
    ```python
    decoder = SSEDecoder()
    async for chunk in response.aiter_bytes():
        for event in decoder.feed(chunk):
            handle(event)
    decoder.flush()
    ```
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from lmbridge.errors import StreamError

__all__ = ["SSEDecoder", "SSEEventTooLargeError", "ServerSentEvent"]

_BOM = b"\xef\xbb\xbf"
_CR = 0x0D
_LF = 0x0A
_DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event.

    Attributes:
        event: the ``event:`` field, ``"message"`` when absent or empty.
        data: the ``data:`` lines joined with ``\\n``.
        id: the last event ID set in the stream so far (it persists across events).
        retry: the reconnection time in milliseconds last set by a ``retry:`` field in the
            stream so far, or ``None`` if there was none (it persists across events).
    """

    event: str = "message"
    data: str = ""
    id: str = ""
    retry: int | None = None


# Building a frozen dataclass through __init__ costs an object.__setattr__ call per field; setting
# the slots through their descriptors is ~2.5x faster, and this runs once per streamed token.
_set_event = vars(ServerSentEvent)["event"].__set__
_set_data = vars(ServerSentEvent)["data"].__set__
_set_id = vars(ServerSentEvent)["id"].__set__
_set_retry = vars(ServerSentEvent)["retry"].__set__


class SSEEventTooLargeError(StreamError, ValueError):
    """One event's data, or one unterminated line, grew beyond ``max_event_bytes``.

    The decoder cannot continue after this error: close the stream.

    Attributes:
        limit: the ``max_event_bytes`` that was exceeded.
        events: events completed earlier in the same :meth:`SSEDecoder.feed` call, so that none is
            lost.
    """

    default_hint = (
        "If events this large are expected, raise SSEDecoder(max_event_bytes=...); otherwise the "
        "server is not sending a well-formed event stream (no blank line between events?)."
    )

    def __init__(self, message: str, *, limit: int, events: list[ServerSentEvent]) -> None:
        super().__init__(message)
        self.limit = limit
        self.events = events


class SSEDecoder:
    """Turns the bytes of an event stream, in chunks of any size, into :class:`ServerSentEvent`.

    It does no I/O and keeps no global state: use one decoder per stream. Work is linear in the
    input, however it is chunked.

    Args:
        max_event_bytes: the most bytes one event's ``data`` lines, or one unterminated line, may
            hold before :class:`SSEEventTooLargeError` is raised. It bounds the memory a broken or
            hostile server can make the decoder use.
    """

    __slots__ = (
        "_at_stream_start",
        "_data",
        "_data_size",
        "_event",
        "_failure",
        "_last_event_id",
        "_max",
        "_pending",
        "_pending_size",
        "_retry",
        "_skip_lf",
    )

    def __init__(self, *, max_event_bytes: int = _DEFAULT_MAX_EVENT_BYTES) -> None:
        if max_event_bytes < 1:
            raise ValueError(f"max_event_bytes must be at least 1, got {max_event_bytes}")
        self._max = max_event_bytes
        # Pieces of the current unterminated line, joined once it ends, so a long line arriving
        # in many small chunks costs linear time.
        self._pending: list[bytes] = []
        self._pending_size = 0
        # The previous chunk ended with CR: a LF starting the next chunk belongs to that CRLF.
        self._skip_lf = False
        self._at_stream_start = True
        # Data lines stay bytes until dispatch: one decode per event instead of one per line.
        self._data: list[bytes] = []
        # The length the joined data will have: each line adds its bytes plus a joining LF, and
        # the first line has no LF before it, hence the start at -1.
        self._data_size = -1
        self._event = ""
        self._last_event_id = ""
        self._retry: int | None = None
        self._failure: str | None = None

    @property
    def last_event_id(self) -> str:
        """The last event ID set by the stream (``""`` if none): send it as ``Last-Event-ID``."""
        return self._last_event_id

    @property
    def retry(self) -> int | None:
        """The reconnection time in milliseconds last set by the stream, or ``None``."""
        return self._retry

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode the next chunk of the stream.

        Args:
            chunk: the next bytes, split anywhere.

        Returns:
            The events completed by this chunk, in order (often none).

        Raises:
            SSEEventTooLargeError: an event's data or an unterminated line exceeded
                ``max_event_bytes``; its ``events`` holds the events completed before that.
        """
        if self._failure is not None:
            self._raise_already_failed()
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[0] == _LF:
                chunk = chunk[1:]
                if not chunk:
                    return []
        # bytes.splitlines splits on exactly CR, LF and CRLF (str.splitlines would also split on
        # U+2028, form feeds and more), in C.
        lines = chunk.splitlines()
        last = chunk[-1]
        if last in (_LF, _CR):
            self._skip_lf = last == _CR
            tail = b""
        else:
            tail = lines.pop()
        pending = self._pending
        if lines:
            if pending:
                pending.append(lines[0])
                lines[0] = b"".join(pending)
                pending.clear()
                self._pending_size = 0
            if self._at_stream_start:
                self._at_stream_start = False
                if lines[0].startswith(_BOM):
                    lines[0] = lines[0][3:]
            events = self._process(lines)
        else:
            events = []
        if tail:
            pending.append(tail)
            self._pending_size += len(tail)
            if self._pending_size > self._max:
                self._fail("an unterminated line", events)
        return events

    def flush(self) -> list[ServerSentEvent]:
        """End the stream.

        As the specification says, pending data is discarded at the end of the stream: an
        unterminated last line is dropped (not interpreted), and an event not closed by a blank
        line is not dispatched. So this returns ``[]``; it exists so callers need not know that,
        and it resets the decoder for a new stream (after a reconnection), keeping
        :attr:`last_event_id` and :attr:`retry`.

        Returns:
            The events completed by the end of the stream: always none, per the specification.

        Raises:
            SSEEventTooLargeError: the decoder had already failed.
        """
        if self._failure is not None:
            self._raise_already_failed()
        self._reset_stream()
        return []

    def _reset_stream(self) -> None:
        self._pending.clear()
        self._pending_size = 0
        self._skip_lf = False
        self._at_stream_start = True
        self._data.clear()
        self._data_size = -1
        self._event = ""

    def _fail(self, what: str, events: list[ServerSentEvent]) -> NoReturn:
        # Drop the oversized buffers now: the caller may keep the decoder around.
        self._reset_stream()
        self._failure = (
            f"Server-sent event too large: {what} exceeded max_event_bytes={self._max} bytes."
        )
        raise SSEEventTooLargeError(self._failure, limit=self._max, events=events)

    def _raise_already_failed(self) -> NoReturn:
        # A fresh error with no events: the first one already handed over every complete event.
        raise SSEEventTooLargeError(
            f"The decoder cannot continue after an earlier error. {self._failure}",
            limit=self._max,
            events=[],
        )

    def _process(self, lines: list[bytes]) -> list[ServerSentEvent]:
        events: list[ServerSentEvent] = []
        data = self._data
        new = object.__new__
        for line in lines:
            if not line:
                if data:
                    # One data line per event is the rule in chat streams: no join for it.
                    joined = data[0] if len(data) == 1 else b"\n".join(data)
                    event = new(ServerSentEvent)  # set through the slots: once per token
                    _set_event(event, self._event or "message")
                    _set_data(event, joined.decode("utf-8", "replace"))
                    _set_id(event, self._last_event_id)
                    _set_retry(event, self._retry)
                    events.append(event)
                    data.clear()
                    self._data_size = -1
                self._event = ""
                continue
            if line.startswith(b"data: "):  # the common field, without partition and slices
                value = line[6:]
                name = b"data"
            else:
                # Comparing bytes is exact: field names are ASCII and ":" / " " never occur
                # inside a multi-byte UTF-8 sequence. A comment has an empty name: ignored below.
                name, _, value = line.partition(b":")
                if value[:1] == b" ":
                    value = value[1:]
            if name == b"data":
                data.append(value)
                self._data_size += len(value) + 1
                if self._data_size > self._max:
                    self._fail("the data of one event", events)
            elif name == b"event":
                self._event = value.decode("utf-8", "replace")
            elif name == b"id":
                if b"\0" not in value:
                    self._last_event_id = value.decode("utf-8", "replace")
            elif name == b"retry":
                retry = _parse_retry(value)
                if retry is not None:
                    self._retry = retry
        return events


def _parse_retry(value: bytes) -> int | None:
    """The reconnection time a ``retry`` value sets, or ``None`` if it must be ignored."""
    if not value.isdigit():  # bytes.isdigit accepts ASCII digits only, and not b""
        return None
    try:
        return int(value)
    except ValueError:
        # More digits than int() accepts (sys.get_int_max_str_digits): no reconnection time
        # anyone meant, so ignored like any other invalid value.
        return None
