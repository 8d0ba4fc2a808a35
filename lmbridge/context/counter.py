"""Counting a prompt's tokens: exactly where the server can, else an estimate that learns.

llama.cpp's server renders a prompt with the model's own chat template (``POST /apply-template``)
and tokenizes it (``POST /tokenize``): together, the exact count the server will see. Whether a
server has these routes is probed once and remembered (LM Studio answers unknown routes with a
200 error object, others with a 404). Elsewhere the count is estimated from the characters at the
model's learnt rate (see :class:`~lmbridge.chat.window.Calibration`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lmbridge import errors
from lmbridge.chat.window import Calibration, prompt_chars
from lmbridge.transport.client import HTTPTransport

__all__ = ["TokenCounter"]

# A failure of these means "this server cannot count", not "the server is down".
_UNSUPPORTED = (errors.APIStatusError, errors.InvalidResponseError)


class TokenCounter:
    """Counts prompts for one server; remembers whether it can count them exactly.

    Args:
        http: the server.
        calibration: learns each model's rate from exact counts too, so the estimates for
            requests counted without the server (``/v1/responses``) improve as well.
    """

    def __init__(self, http: HTTPTransport, calibration: Calibration) -> None:
        self._http = http
        self._calibration = calibration
        self._exact: bool | None = None  # None: not probed yet

    @property
    def exact(self) -> bool | None:
        """Whether the server counts exactly: ``None`` until the first count probed it."""
        return self._exact

    async def count(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> tuple[int, bool]:
        """``(tokens, exact)`` for the prompt ``messages`` (and ``tools``) make for ``model``.

        Raises:
            APIConnectionError: the server cannot be reached.
        """
        chars = prompt_chars(messages, tools)
        if self._exact is not False:
            tokens = await self._server_count(model, messages, tools)
            if tokens is not None:
                self._calibration.observe(model, chars, tokens)
                return tokens, True
        return self._calibration.estimate(model, chars), False

    async def _server_count(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None,
    ) -> int | None:
        body: dict[str, Any] = {"messages": [dict(m) for m in messages]}
        if tools:
            body["tools"] = [dict(tool) for tool in tools]
        try:
            rendered = await self._post("/apply-template", body, model)
            prompt = rendered.get("prompt") if isinstance(rendered, dict) else None
            if not isinstance(prompt, str):
                raise errors.InvalidResponseError("no prompt in the /apply-template answer")
            # add_special: the BOS token the server puts before a chat prompt counts too.
            tokenized = await self._post(
                "/tokenize", {"content": prompt, "add_special": True}, model
            )
            tokens = tokenized.get("tokens") if isinstance(tokenized, dict) else None
            if not isinstance(tokens, list):
                raise errors.InvalidResponseError("no tokens in the /tokenize answer")
        except errors.AuthenticationError:
            raise
        except _UNSUPPORTED:
            if self._exact is None:
                self._exact = False  # the probe: this server cannot count
            # Once it could, one failure (a template rejecting a message) falls back to estimating.
            return None
        self._exact = True
        return len(tokens)

    async def _post(self, path: str, body: dict[str, Any], model: str) -> Any:
        """POST to a counting route; sent once more if the connection broke (the transport does
        not repeat POSTs, which may generate; these two only read, so repeating is safe). A
        pooled connection the server closed while idle breaks exactly so."""
        try:
            return await self._http.post_json(path, body, model=model)
        except errors.APITimeoutError:
            raise
        except errors.APIConnectionError:
            return await self._http.post_json(path, body, model=model)
