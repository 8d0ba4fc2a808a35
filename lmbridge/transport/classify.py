"""Turn an error answer from the server into the right typed error.

LM Studio's error bodies changed between versions (see the reference, section 4): ``error`` may be
a string or an object, ``code`` may be null, "model not loaded" comes as 400 or 404, and some
versions answer in plain text. So classification looks at the status AND the text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lmbridge import errors
from lmbridge.jsonparse import JSONParseError, parse_json
from lmbridge.transport.retry import parse_retry_after

__all__ = [
    "context_figures",
    "embedded_status",
    "error_from_ok_answer",
    "error_from_response",
    "error_only",
    "is_context_overflow",
]

_NOT_LOADED = re.compile(
    r"no models? (?:are )?loaded|not loaded|no (?:embedding )?models? (?:is )?loaded", re.I
)
# Model ids often hold dots ("llama-3.2-1b"), so the name between "model" and "not found" may too.
_MODEL_NOT_FOUND = re.compile(
    r"\bmodel\b.{0,200}?\b(?:not found|does not exist)|invalid model identifier|not a valid model",
    re.I | re.S,
)
_CONTEXT = re.compile(r"exceed_context_size|context (?:length|size|window)|n_ctx", re.I)
# Wordings that mean "the prompt does not fit" whatever the status: llama.cpp's ("n_keep >= n_ctx",
# "the request exceeds the available context size"), LM Studio's ("Trying to keep the first N
# tokens when context the overflows. However, the model is loaded with context length of only M
# tokens", "Reached context length of N tokens", "greater than the context length") and the
# OpenAI-style "maximum context length is N tokens".
_OVERFLOW = re.compile(
    r"n_keep\s*>=?\s*n_ctx|exceeds? the (?:available )?context (?:size|length|window)"
    r"|exceed_context_size|context (?:length|window) (?:exceeded|overflow)"
    r"|loaded with context length of only|reached context length of"
    r"|greater than the context length|maximum context length is"
    r"|prompt is too long",
    re.I,
)
_PROMPT_FIGURE = re.compile(
    r"n_prompt_tokens\W{1,3}(\d+)|keep the first (\d+) tokens|requested (\d+) tokens"
    r"|prompt (?:has|of|is) (\d+) tokens|(\d+) tokens? (?:in|for) the prompt",
    re.I,
)
_WINDOW_FIGURE = re.compile(
    r"n_ctx(?:_slot)?\W{1,3}(\d+)|context length of (?:only )?(\d+)"
    r"|maximum context length is (\d+)|context (?:size|window|length) (?:is |of )?(\d+)",
    re.I,
)
_YOUR_MODELS = re.compile(r"your models:\s*(.*)", re.I | re.S)
_LISTED_NAME = re.compile(r"^[\s\-*•]*([\w./:@-]+)\s*$")
_UNKNOWN_ROUTE = re.compile(r"unexpected endpoint|unknown (?:route|endpoint)", re.I)
# LM Studio names the route it did not know: "Unexpected endpoint or method. (POST /v1/responses)".
_ROUTE_NAMED = re.compile(r"\((GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\s+(/[^\s)]*)\)")
# The first LM Studio version serving each route (reference, sections 2, 3 and 9), longest first.
_ROUTE_SINCE = (
    ("/api/v1/models/download", "0.4.0"),
    ("/api/v1/", "0.4.0"),
    ("/api/v0/", "0.3.6"),
    ("/v1/responses", "0.3.29"),
    ("/v1/messages", "0.4.1"),
)
# v1 errors carry their category in `type` (streaming-events.md: invalid_request, model_not_found,
# job_not_found, ...), older ones only in `code` and the text.
_AUTH_CODES = re.compile(r"api_key|api_token|unauthori[sz]ed|authenticat", re.I)
# What a successful answer carries; an "error" beside none of them makes the answer an error. A
# download job's status names its job: a failed job says why in "error" and is still an answer.
_PAYLOAD_KEYS = ("choices", "data", "output", "models", "job_id")

_STATUS_CLASSES: dict[int, type[errors.APIStatusError]] = {
    400: errors.BadRequestError,
    401: errors.AuthenticationError,
    403: errors.AuthenticationError,
    404: errors.NotFoundError,
    409: errors.ConflictError,
    422: errors.UnprocessableEntityError,
    429: errors.RateLimitError,
}


def _decode(body: bytes) -> tuple[str, Mapping[str, Any]]:
    """The human message and the error object (empty when the body had none)."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        parsed = parse_json(text) if text else None
    except JSONParseError:  # plain text, or JSON too deep to read: the text is the message
        return text, {}
    if isinstance(parsed, dict):
        err = parsed.get("error", parsed)
        if isinstance(err, str):
            return err, {}
        if isinstance(err, dict):
            message = err.get("message") or err.get("detail") or text
            return str(message), err
    return text, {}


def _models_listed(message: str) -> list[str]:
    """Model names LM Studio 0.3.5 appends after ``Your models:``."""
    match = _YOUR_MODELS.search(message)
    if not match:
        return []
    names = []
    for line in match.group(1).splitlines():
        found = _LISTED_NAME.match(line)
        if found:
            names.append(found.group(1))
    return names


def _first_int(pattern: re.Pattern[str], text: str) -> int | None:
    match = pattern.search(text)
    if match is None:
        return None
    return int(next(group for group in match.groups() if group is not None))


def is_context_overflow(message: str, error_type: str = "", *, status: int = 400) -> bool:
    """Whether an error's text (or type) says the prompt did not fit the context window."""
    if _OVERFLOW.search(message) or _OVERFLOW.search(error_type):
        return True
    # A 200 whose body is only an error object (LM Studio) is read like a 400.
    return status in (200, 400) and bool(_CONTEXT.search(message) or _CONTEXT.search(error_type))


def context_figures(message: str, err: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """The prompt's size and the window's, from the error object's fields or its text."""
    prompt = err.get("n_prompt_tokens")
    window = err.get("n_ctx")
    if not isinstance(prompt, int) or isinstance(prompt, bool):
        prompt = _first_int(_PROMPT_FIGURE, message)
    if not isinstance(window, int) or isinstance(window, bool):
        window = _first_int(_WINDOW_FIGURE, message)
    return prompt, window


def error_from_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    url: str | None,
    model: str | None,
) -> errors.LMBridgeError:
    """Map an HTTP error answer (status >= 400) to the right :class:`~lmbridge.LMBridgeError`."""
    message, err = _decode(body)
    shown = message or f"HTTP {status}"
    code = err.get("code")
    error_type = str(err.get("type") or "")
    if status == 404 and _UNKNOWN_ROUTE.search(message):
        return _unsupported_endpoint(status, message, body, url=url, model=model)
    if error_type == "invalid_request" and isinstance(code, str) and _AUTH_CODES.search(code):
        # 0.4.18 answers a missing token like this; whatever the status, it is about the token.
        return errors.AuthenticationError(
            shown, status_code=status, url=url, model=model, body=body
        )

    # "Model not loaded" has come with several 4xx statuses: read the text of any of them, except
    # the statuses whose meaning does not depend on the model.
    if 400 <= status < 500 and status not in (401, 403, 429):
        if _NOT_LOADED.search(message):
            return errors.ModelNotLoadedError(
                shown, url=url, model=model, status_code=status, body=body
            )
        named_not_found = "model_not_found" in (code, error_type)
        if named_not_found and "multiple models" in message.lower():
            return errors.BadRequestError(
                shown,
                status_code=status,
                url=url,
                model=model,
                body=body,
                hint="Several models are loaded: name the one to use.",
            )
        if named_not_found or _MODEL_NOT_FOUND.search(message):
            import difflib  # only for the suggestions of this error

            available = _models_listed(message)
            suggestions = difflib.get_close_matches(model or "", available, n=3, cutoff=0.4)
            return errors.ModelNotFoundError(
                shown.split("\n\n", 1)[0],
                suggestions=suggestions,
                available=available,
                url=url,
                model=model,
                status_code=status,
                body=body,
            )
    if status not in (401, 403, 429) and is_context_overflow(message, error_type, status=status):
        prompt_tokens, context_length = context_figures(message, err)
        return errors.ContextLengthExceededError(
            shown,
            status_code=status,
            url=url,
            model=model,
            body=body,
            prompt_tokens=prompt_tokens,
            context_length=context_length,
        )
    cls = _STATUS_CLASSES.get(status)
    if cls is None:
        cls = errors.ServerError if status >= 500 else errors.APIStatusError
    return cls(
        shown,
        status_code=status,
        url=url,
        model=model,
        body=body,
        retry_after=parse_retry_after(headers),
    )


def _unsupported_endpoint(
    status: int, message: str, body: bytes, *, url: str | None, model: str | None
) -> errors.UnsupportedEndpointError:
    """LM Studio's answer to a route it does not have: the server is older than the route."""
    named = _ROUTE_NAMED.search(message)
    if named:
        method, path = named.group(1), named.group(2)
    else:
        method, path = "", (_url_path(url) if url else "")
    endpoint = f"{method} {path}".strip() or None
    since = next((version for prefix, version in _ROUTE_SINCE if path.startswith(prefix)), None)
    too_old = f"LM Studio older than {since}" if since else "an older or different server"
    return errors.UnsupportedEndpointError(
        f"The server does not have {endpoint or 'this endpoint'}: it is {too_old} "
        f"(it answered {message!r}).",
        status_code=status,
        endpoint=endpoint,
        minimum_version=since,
        url=url,
        model=model,
        body=body,
    )


def _url_path(url: str) -> str:
    """The path of ``url`` (``http://h:1/v1/x?y`` -> ``/v1/x``)."""
    rest = url.split("://", 1)[-1]
    slash = rest.find("/")
    return rest[slash:].split("?", 1)[0] if slash != -1 else "/"


def error_only(body: bytes) -> object | None:
    """The ``error`` of a 2xx answer that carries nothing else, or ``None``.

    Some servers answer a failure with 200 and ``{"error": ...}`` (LM Studio's old "Unexpected
    endpoint", a crashed model). Only bodies that mention ``"error"`` are parsed a second time.
    """
    if b'"error"' not in body:
        return None
    try:
        parsed = parse_json(body)
    except JSONParseError:
        return None
    if not isinstance(parsed, dict) or not parsed.get("error"):
        return None
    if any(parsed.get(key) for key in _PAYLOAD_KEYS):
        return None
    error: object = parsed["error"]
    return error


def embedded_status(error: object) -> int | None:
    """An HTTP status an error object states about itself (``status`` or a numeric ``code``)."""
    if isinstance(error, dict):
        for key in ("status", "code"):
            value = error.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and 400 <= value < 600:
                return value
    return None


def error_from_ok_answer(
    status: int, body: bytes, error: object, *, url: str | None, model: str | None
) -> errors.LMBridgeError:
    """The typed error for a 2xx answer whose body is only an error object.

    It is classified as the error status it implies would be: the status the object states,
    else 404 for an unknown route, else by its text (not loaded, unknown model, context...). An
    error with nothing recognisable stays an :class:`~lmbridge.APIStatusError` with the real status.
    """
    message, _ = _decode(body)
    implied = embedded_status(error)
    if implied is None and _UNKNOWN_ROUTE.search(message):
        implied = 404
    classified = error_from_response(implied or 400, {}, body, url=url, model=model)
    generic = type(classified) is errors.BadRequestError
    if implied is None and generic and classified.hint == errors.BadRequestError.default_hint:
        classified = errors.APIStatusError(
            message or f"HTTP {status} with an error object",
            status_code=status,
            url=url,
            model=model,
            body=body,
            hint="The server answered with only an error object (and a success status); its "
            "log says why.",
        )
    classified.status_code = status  # what the server really sent
    return classified
