"""One flat, data-carrying error hierarchy.

Every error lmbridge raises is an :class:`LMBridgeError`. Each carries what a user needs to act on it:
the ``url`` and ``model`` involved, the HTTP ``status_code`` when there was one, a short ``body``
excerpt, and a ``hint`` saying what to try. Tokens never appear in any of them: every text an
error holds goes through :func:`redact` when the error is built and again when it is shown.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AgentRunCancelledError",
    "AuthenticationError",
    "BadRequestError",
    "BridgeClosedError",
    "CircuitOpenError",
    "ConflictError",
    "ConnectTimeoutError",
    "ContextLengthExceededError",
    "DownloadError",
    "ImageError",
    "InsufficientMemoryError",
    "InvalidResponseError",
    "LMBridgeError",
    "LmsArgumentError",
    "LmsError",
    "LmsNotFoundError",
    "LmsTimeoutError",
    "LmsUnreachableError",
    "MCPConfigError",
    "MCPError",
    "MCPServerStartError",
    "ModelError",
    "ModelMismatchWarning",
    "ModelNotFoundError",
    "ModelNotLoadedError",
    "NotFoundError",
    "RateLimitError",
    "ReadTimeoutError",
    "ResponseTooLargeError",
    "ServerError",
    "StreamError",
    "StructuredAttempt",
    "StructuredOutputError",
    "StructuredOutputIgnoredError",
    "ToolListingError",
    "UnprocessableEntityError",
    "UnsupportedEndpointError",
    "WrongModelTypeError",
]

_BODY_EXCERPT = 500

# --- secrets ---------------------------------------------------------------------------------

REDACTED = "***"
# Process-wide, because an error is built far from the Bridge whose token a server echoed (a
# classifier, a parser): every transport registers its token here when it is created.
# Replaced, never mutated, so that redact() in one thread never iterates a set another thread
# is adding to.
_SECRETS: frozenset[str] = frozenset()
_MIN_SECRET = 4  # shorter "tokens" would redact ordinary words out of every message
# A value after "Bearer" that could be a token (prose such as "the bearer of" is left alone).
_BEARER = re.compile(r"(\bbearer\s+)[^\s\"',;}\]]{8,}", re.IGNORECASE)
_USERINFO_PASSWORD = re.compile(r"(://[^/@\s:]*):[^/@\s]*@")


def register_secret(secret: str | None) -> None:
    """Have :func:`redact` hide ``secret`` (an API token) from now on, in every error."""
    global _SECRETS
    if secret and len(secret) >= _MIN_SECRET and secret not in _SECRETS:
        _SECRETS = _SECRETS | {secret}


def redact(text: str) -> str:
    """``text`` without registered secrets, ``Bearer ...`` values or passwords in URLs."""
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = _BEARER.sub(rf"\g<1>{REDACTED}", text)
    return _USERINFO_PASSWORD.sub(rf"\g<1>:{REDACTED}@", text)


def _redacted(text: str | None) -> str | None:
    return None if text is None else redact(text)


def excerpt(text: str | bytes | None, limit: int = _BODY_EXCERPT) -> str | None:
    """Shorten a response body for an error message (secrets redacted before it is cut)."""
    if text is None:
        return None
    if isinstance(text, bytes):
        # Only the start is shown: decoding a huge body whole would be wasted work.
        text = text[: limit * 8].decode("utf-8", errors="replace")
    text = redact(text.strip())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class LMBridgeError(Exception):
    """Base class of every error lmbridge raises.

    Attributes:
        message: what went wrong, in one sentence.
        hint: what to try next (may be ``None``).
        url: the URL of the request involved, if any.
        model: the model named by the request, if any.
        status_code: the HTTP status, if the server answered.
        body: a short excerpt of the response body, if any.
        server: the root URL of the server involved (of the several a Bridge may route to),
            if any.
    """

    default_hint: str | None = None

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        url: str | None = None,
        model: str | None = None,
        status_code: int | None = None,
        body: str | bytes | None = None,
        server: str | None = None,
    ) -> None:
        message = redact(message)
        self.message = message
        self.hint = _redacted(hint if hint is not None else self.default_hint)
        self.url = _redacted(url)
        self.model = model
        self.status_code = status_code
        self.body = excerpt(body)
        # Set by the Bridge's routing when an error passes it, if the raiser did not know.
        self.server = _redacted(server)
        super().__init__(message)

    def __str__(self) -> str:
        parts = [self.message]
        context = []
        if self.model is not None:
            context.append(f"model={self.model!r}")
        if self.status_code is not None:
            context.append(f"status={self.status_code}")
        if self.url is not None:
            context.append(f"url={self.url}")
        server = getattr(self, "server", None)  # errors unpickled from before it existed
        if server is not None and not (self.url or "").startswith(server):
            context.append(f"server={server}")
        if context:
            parts.append(f"[{', '.join(context)}]")
        if self.hint:
            parts.append(f"Hint: {self.hint}")
        # Again at display time: attributes are public, and may have been set after __init__.
        return redact(" ".join(parts))

    def __repr__(self) -> str:
        return redact(f"{type(self).__name__}({self.message!r}, status_code={self.status_code!r})")

    def __reduce__(self) -> tuple[object, ...]:
        # Subclasses take keyword-only arguments, which the default reduction (``cls(*args)``)
        # cannot pass: rebuild from the attributes instead, so every error crosses processes.
        return _rebuild, (type(self), self.args, self.__dict__)


def _rebuild(
    cls: type[LMBridgeError], args: tuple[object, ...], state: dict[str, object]
) -> LMBridgeError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


# --- using the client ------------------------------------------------------------------------


class BridgeClosedError(LMBridgeError):
    """A call on a :class:`~lmbridge.Bridge` (or :class:`~lmbridge.SyncBridge`) already closed.

    Raised instead of httpx's bare ``RuntimeError`` ("Cannot send a request, as the client has
    been closed") or asyncio's "Event loop is closed".
    """

    default_hint = (
        "Create a new Bridge, or keep all calls inside `async with Bridge() as bridge:` "
        "(`with SyncBridge() as bridge:`); a Bridge cannot be reopened after close."
    )


# --- reaching the server ---------------------------------------------------------------------


class APIConnectionError(LMBridgeError):
    """The server could not be reached (connection refused, DNS failure, reset).

    Attributes:
        sent: whether the request may have reached the server. ``False`` means it certainly did
            not (the connection was refused or never made, or a circuit breaker held it back), so
            a Bridge with several servers sends it to the next one: nothing can run twice.
    """

    default_hint = (
        "Is LM Studio (or your server) running at this address? Start it with `lms server start` "
        "or pass the right base URL to Bridge(...)."
    )
    default_sent = True

    def __init__(
        self,
        message: str,
        *,
        sent: bool | None = None,
        hint: str | None = None,
        url: str | None = None,
        model: str | None = None,
        status_code: int | None = None,
        body: str | bytes | None = None,
        server: str | None = None,
    ) -> None:
        self.sent = self.default_sent if sent is None else sent
        super().__init__(
            message,
            hint=hint,
            url=url,
            model=model,
            status_code=status_code,
            body=body,
            server=server,
        )


class APITimeoutError(APIConnectionError):
    """A timeout elapsed. See the subclasses for which one."""

    default_hint = "Raise the timeout: Bridge(timeout=...) or timeout=... on the call."


class ConnectTimeoutError(APITimeoutError):
    """Connecting to the server took longer than the connect timeout (nothing was sent)."""

    default_sent = False

    default_hint = (
        "The server did not accept the connection in time: is it running and reachable? "
        "Raise the connect timeout with timeout=httpx.Timeout(..., connect=...)."
    )


class CircuitOpenError(APIConnectionError):
    """A server's circuit breaker is open: it failed ``failures`` connections in a row, so
    requests skip it until ``retry_at`` instead of each paying for a connect timeout. Nothing
    was sent.

    Attributes:
        server: the server's root URL.
        failures: the consecutive connection failures that opened the breaker.
        opened_at: when it opened (seconds since the epoch).
        retry_at: when one request will probe the server again (seconds since the epoch).
    """

    default_hint = (
        "Start the server (`lms server start`) or check its address; the breaker lets one request "
        "through after its cooldown, and closes when it succeeds. Bridge(circuit_breaker=False) "
        "turns breakers off."
    )
    default_sent = False

    def __init__(
        self,
        message: str,
        *,
        server: str,
        failures: int,
        opened_at: float,
        retry_at: float,
        url: str | None = None,
        model: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.failures = failures
        self.opened_at = opened_at
        self.retry_at = retry_at
        super().__init__(message, server=server, url=url, model=model, hint=hint)


class ReadTimeoutError(APITimeoutError):
    """The server stopped sending for longer than the read timeout. Never retried automatically."""

    default_hint = (
        "Local generation can be slow: raise the read timeout (timeout=... seconds), lower "
        "max_tokens, or stream the reply. Not retried, because that would run the generation again."
    )


# --- the server answered with an error status ------------------------------------------------


class APIStatusError(LMBridgeError):
    """The server answered with a status code >= 400."""

    default_hint = "The server's message above says what it rejected."

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        hint: str | None = None,
        url: str | None = None,
        model: str | None = None,
        body: str | bytes | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            message, hint=hint, url=url, model=model, status_code=status_code, body=body
        )
        self.status_code: int = status_code
        self.retry_after = retry_after


class BadRequestError(APIStatusError):
    """400: the server rejected the request."""

    default_hint = "Check the request options; the server's message says which one it rejected."


class ContextLengthExceededError(BadRequestError):
    """The prompt (plus the reply's reserve) does not fit the model's loaded context window.

    Raised for every way a server says so (a 400 from llama.cpp, LM Studio's wordings, a 200 whose
    body is only such an error, a stream that ends with nothing right after a prompt near the
    limit), and by ``fit="error"``/``fit="trim"`` before anything is sent.

    Attributes:
        prompt_tokens: the prompt's size in tokens, when known (counted, estimated or reported).
        context_length: the loaded context window in tokens, when known.
    """

    default_hint = (
        'Pass fit="trim" to drop the oldest turns, shorten the conversation or lower max_tokens, '
        "or reload the model with a larger context_length "
        "(`await bridge.models.ensure_loaded(model, context_length=...)` or `lms load -c N`)."
    )

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 400,
        prompt_tokens: int | None = None,
        context_length: int | None = None,
        hint: str | None = None,
        url: str | None = None,
        model: str | None = None,
        body: str | bytes | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            message,
            status_code=status_code,
            hint=hint,
            url=url,
            model=model,
            body=body,
            retry_after=retry_after,
        )
        self.prompt_tokens = prompt_tokens
        self.context_length = context_length

    def __str__(self) -> str:
        text = super().__str__()
        if self.prompt_tokens is None and self.context_length is None:
            return text
        prompt, window = _figure(self.prompt_tokens), _figure(self.context_length)
        # The figures go right after the message, before the context and the hint.
        rest = text[len(self.message) :]
        return f"{self.message} (prompt: {prompt} tokens, context window: {window}){rest}"


def _figure(value: int | None) -> str:
    return "?" if value is None else str(value)


class AuthenticationError(APIStatusError):
    """401 or 403: missing or wrong API token."""

    default_hint = (
        "Pass api_token=... to Bridge or set LM_API_TOKEN; in LM Studio, check the server's "
        "'Require authentication' setting and the token's permissions."
    )


class NotFoundError(APIStatusError):
    """404: the route or resource does not exist on this server."""

    default_hint = "The server does not know this route: is the base URL right, and is the server recent enough?"


class UnsupportedEndpointError(NotFoundError):
    """The server does not have this endpoint: LM Studio answers an unknown route with 200 (or
    404) and ``{"error": "Unexpected endpoint or method. (POST /v1/responses)"}``.

    Attributes:
        endpoint: the method and path the server did not know, e.g. ``"POST /v1/responses"``.
        minimum_version: the first LM Studio version that has it, when lmbridge knows.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        endpoint: str | None = None,
        minimum_version: str | None = None,
        hint: str | None = None,
        url: str | None = None,
        model: str | None = None,
        body: str | bytes | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.minimum_version = minimum_version
        if hint is None:
            hint = (
                f"Update LM Studio to {minimum_version} or later for this endpoint."
                if minimum_version
                else "Update LM Studio, or check that the base URL points at LM Studio."
            )
        super().__init__(
            message, status_code=status_code, hint=hint, url=url, model=model, body=body
        )


class ConflictError(APIStatusError):
    """409: the request conflicts with the server's state (retried automatically)."""

    default_hint = (
        "The server was busy with a conflicting operation; retry later or raise max_retries."
    )


class UnprocessableEntityError(APIStatusError):
    """422: the request was well formed but its content was rejected."""

    default_hint = "Check the values of the options the server's message names."


class RateLimitError(APIStatusError):
    """429: too many requests (retried automatically, honouring Retry-After)."""

    default_hint = "Send fewer requests at once, or raise max_retries."


class ServerError(APIStatusError):
    """5xx: the server failed (500, 502, 503 and 504 are retried automatically)."""

    default_hint = "The server failed; its log says why. Transient 500s under load are retried."


# --- models -------------------------------------------------------------------------------


class ModelError(LMBridgeError):
    """Base class of errors about a model's existence or state."""


class ModelNotFoundError(ModelError):
    """The named model does not exist on the server (a typo, or not downloaded).

    Attributes:
        suggestions: the closest known names, best first.
        available: every name the server knows, when it said.
    """

    def __init__(
        self,
        message: str,
        *,
        suggestions: Sequence[str] = (),
        available: Sequence[str] = (),
        hint: str | None = None,
        url: str | None = None,
        model: str | None = None,
        status_code: int | None = None,
        body: str | bytes | None = None,
    ) -> None:
        self.suggestions = list(suggestions)
        self.available = list(available)
        if hint is None:
            if self.suggestions:
                hint = "Did you mean " + " or ".join(repr(s) for s in self.suggestions[:3]) + "?"
            else:
                hint = "Download it first (`lms get <name>`), or list models with `await bridge.models.list()`."
        super().__init__(
            message, hint=hint, url=url, model=model, status_code=status_code, body=body
        )


class WrongModelTypeError(ModelError):
    """The model cannot serve this kind of request: an embedding model asked to chat, a chat
    model asked for embeddings, or a model without vision sent images.

    Attributes:
        vision_models: for images sent to a model that cannot see: the vision models loaded (or,
            when none is, downloaded) that could take them; empty otherwise.
    """

    default_hint = "Use a chat model (llm/vlm) for chat and an embedding model for embed()."

    def __init__(
        self,
        message: str,
        *,
        vision_models: Sequence[str] = (),
        hint: str | None = None,
        url: str | None = None,
        model: str | None = None,
        status_code: int | None = None,
        body: str | bytes | None = None,
    ) -> None:
        self.vision_models = list(vision_models)
        super().__init__(
            message, hint=hint, url=url, model=model, status_code=status_code, body=body
        )


class ImageError(LMBridgeError):
    """An image could not be prepared for sending: not an image lmbridge recognises, a download
    that failed, was not an image or was too large, or a resize without PIL."""

    default_hint = "Check the image's path or URL; lmbridge sends PNG, JPEG, GIF, WebP and BMP."


class ModelNotLoadedError(ModelError):
    """The model exists but is not loaded, and could not be made so.

    Attributes:
        loaded: identifiers of the instances loaded when the error was raised, if known.
        lms_found: whether the ``lms`` CLI was found, if that was checked.
    """

    default_hint = (
        "Load it with `lms load <key>` or `await bridge.models.ensure_loaded(...)`, enable JIT "
        "loading in LM Studio, or create Bridge(auto_load=True)."
    )

    def __init__(
        self,
        message: str,
        *,
        loaded: Sequence[str] | None = None,
        lms_found: bool | None = None,
        hint: str | None = None,
        url: str | None = None,
        model: str | None = None,
        status_code: int | None = None,
        body: str | bytes | None = None,
    ) -> None:
        self.loaded = None if loaded is None else list(loaded)
        self.lms_found = lms_found
        super().__init__(
            message, hint=hint, url=url, model=model, status_code=status_code, body=body
        )


# --- responses and streams ----------------------------------------------------------------


class InvalidResponseError(LMBridgeError):
    """The server's answer did not have the expected shape (bad JSON, missing fields)."""

    default_hint = (
        "The server may not be OpenAI-compatible at this URL, or it may be a bug in the server."
    )


class ResponseTooLargeError(InvalidResponseError):
    """A non-streamed answer was longer than the cap (``Bridge(max_body_bytes=...)``).

    Reading stopped at the cap, so an endless or runaway body cannot exhaust memory. Never retried.

    Attributes:
        limit: the cap, in bytes.
    """

    default_hint = (
        "The server sent far more than an answer should be: it may be broken. If the answer is "
        "legitimately this large, raise Bridge(max_body_bytes=...)."
    )

    def __init__(
        self,
        message: str,
        *,
        limit: int,
        hint: str | None = None,
        url: str | None = None,
        model: str | None = None,
        status_code: int | None = None,
        body: str | bytes | None = None,
    ) -> None:
        self.limit = limit
        super().__init__(
            message, hint=hint, url=url, model=model, status_code=status_code, body=body
        )


@dataclass(frozen=True)
class StructuredAttempt:
    """One try at a structured reply, kept on :class:`StructuredOutputError`.

    Attributes:
        raw_text: the model's reply, unchanged.
        error: why it was rejected (the first line of the validation error, or the cut).
        finish_reason: why generation stopped (``"length"``: cut at the token limit).
    """

    raw_text: str
    error: str
    finish_reason: str | None = None


class StructuredOutputError(InvalidResponseError):
    """The model's reply did not parse into the requested ``response_format``.

    Raised after the validation retries (``validation_retries``) are used up, or at once when the
    reply was cut at the token limit (``truncated``), which asking again would not mend.

    Attributes:
        raw_text: the last reply, unchanged, so nothing is lost.
        attempts: every try, first to last: its raw text and why it was rejected.
        truncated: the last reply was cut at ``max_tokens`` (``finish_reason == "length"``).
    """

    default_hint = (
        "Small local models sometimes break the schema: raise validation_retries, lower "
        "temperature, or simplify the schema."
    )

    def __init__(
        self,
        message: str,
        *,
        raw_text: str = "",
        attempts: Sequence[StructuredAttempt] | None = None,
        truncated: bool = False,
        hint: str | None = None,
        url: str | None = None,
        model: str | None = None,
    ) -> None:
        self.raw_text = raw_text
        self.attempts = list(attempts) if attempts is not None else []
        self.truncated = truncated
        super().__init__(message, hint=hint, url=url, model=model)


class StructuredOutputIgnoredError(StructuredOutputError):
    """A structured request came back as plain prose: the server ignored the JSON schema.

    Some LM Studio versions ignore a schema sent to ``/v1/responses`` (its bug tracker, #2403);
    the unparsed text is on ``raw_text`` rather than passed off as the structured answer.
    """

    default_hint = (
        "This server ignores response_format on /v1/responses: use bridge.chat(..., "
        "response_format=...) instead, which enforces the schema with a grammar."
    )


class StreamError(LMBridgeError):
    """A stream failed part way: an in-stream error event, or an end without ``[DONE]``."""

    default_hint = "The server cut the stream short; its log says why. Retry the request."


# --- the lms CLI -------------------------------------------------------------------------------


class LmsError(LMBridgeError):
    """An ``lms`` command failed.

    Attributes:
        command: the argument list that ran.
        exit_code: its exit status (``None`` if it never finished).
        stderr: an excerpt of what it printed on stderr.
    """

    def __init__(
        self,
        message: str,
        *,
        command: Sequence[str] = (),
        exit_code: int | None = None,
        stderr: str | None = None,
        hint: str | None = None,
        model: str | None = None,
        url: str | None = None,
    ) -> None:
        self.command = list(command)
        self.exit_code = exit_code
        self.stderr = excerpt(stderr)  # redacted too: lms may print what it was given
        super().__init__(message, hint=hint, model=model, body=stderr, url=url)


class LmsArgumentError(LmsError, ValueError):
    """A name or option was refused before anything ran.

    A model name starting with ``-`` would be read by ``lms`` as an option, control characters
    could forge output; bad ``ttl``, ``context_length`` or ``gpu`` values are refused too.
    """

    default_hint = "Pass the exact model key or identifier as `lms ls` / `lms ps` list it."


class LmsNotFoundError(LmsError):
    """The ``lms`` CLI could not be found."""

    default_hint = (
        "Install LM Studio and run it once (it bootstraps `lms` into ~/.lmstudio/bin), or pass "
        "Bridge(lms_path=...) / set LMS_PATH."
    )


class LmsUnreachableError(LmsError):
    """``lms`` could not reach or start the LM Studio service."""

    default_hint = "Start LM Studio (or `lms server start`) and try again."


class LmsTimeoutError(LmsError):
    """An ``lms`` command took longer than its budget; it was terminated."""

    default_hint = "Raise the budget (Bridge(load_timeout=...)) for large models."


class InsufficientMemoryError(LmsError):
    """The model needs more memory than the machine has free.

    Attributes:
        required_gb: the memory the model needs, in GB, when ``lms`` said.
    """

    default_hint = (
        "Unload other models (`lms unload --all`), load a smaller quantization, or lower "
        "context_length."
    )

    def __init__(
        self,
        message: str,
        *,
        required_gb: float | None = None,
        command: Sequence[str] = (),
        exit_code: int | None = None,
        stderr: str | None = None,
        hint: str | None = None,
        model: str | None = None,
        url: str | None = None,
    ) -> None:
        self.required_gb = required_gb
        super().__init__(
            message,
            command=command,
            exit_code=exit_code,
            stderr=stderr,
            hint=hint,
            model=model,
            url=url,
        )


class DownloadError(LMBridgeError):
    """A model download failed, or could not be started.

    Attributes:
        key: the model (catalog key or Hugging Face link) asked for.
        job_id: LM Studio's download job, when it started one.
        reason: the reason the server or ``lms`` gave, when it gave one.
    """

    default_hint = (
        "Check the model name (a catalog key such as `ibm/granite-4-micro`, or a Hugging Face "
        "link), the free disk space and the network; LM Studio's Downloads panel says more."
    )

    def __init__(
        self,
        message: str,
        *,
        key: str,
        job_id: str | None = None,
        reason: str | None = None,
        hint: str | None = None,
        url: str | None = None,
        status_code: int | None = None,
        body: str | bytes | None = None,
    ) -> None:
        self.key = key
        self.job_id = job_id
        self.reason = None if reason is None else redact(reason)
        super().__init__(message, hint=hint, url=url, model=key, status_code=status_code, body=body)


# --- MCP -----------------------------------------------------------------------------------------


class MCPError(LMBridgeError):
    """Base class of errors about MCP servers the program set up (not tool failures, which go
    back to the model)."""


class MCPConfigError(MCPError):
    """An ``mcp.json`` file (or dict) is malformed or names servers it does not define."""


class MCPServerStartError(MCPError):
    """One or more MCP servers could not be started or initialised.

    Attributes:
        servers: the names of the servers that failed.
    """

    def __init__(
        self, message: str, *, servers: Sequence[str] = (), hint: str | None = None
    ) -> None:
        self.servers = list(servers)
        super().__init__(message, hint=hint)


class ToolListingError(MCPError):
    """Listing the tools of a source failed (e.g. its MCP server died).

    Attributes:
        source: the label of the source.
    """

    def __init__(self, message: str, *, source: str, hint: str | None = None) -> None:
        self.source = source
        super().__init__(message, hint=hint)


# --- agents ------------------------------------------------------------------------------------


class AgentRunCancelledError(LMBridgeError):
    """The agent run was cancelled (e.g. its ``stream_agent`` block was left) before it ended,
    so it has no result."""

    default_hint = "Read run.result() inside the `async with bridge.stream_agent(...)` block."


# --- warnings ------------------------------------------------------------------------------


class ModelMismatchWarning(UserWarning):
    """The server answered with a different model than the one asked for.

    LM Studio with one model loaded (and llama.cpp's server always) answers any model name with the
    model it has. The result's ``model`` and ``model_mismatch`` fields say what happened.
    """
