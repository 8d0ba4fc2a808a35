"""The simulator's request handler: auth, route availability, dispatch and the request log.

The route table is assembled here from the route modules; each route gets the shared
:class:`SimContext` (a lower module), so nothing below this module imports it back.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import anyio

from lmbridge.testing import (
    routes_control,
    routes_downloads,
    routes_native,
    routes_native_chat,
    routes_openai,
    routes_responses,
)
from lmbridge.testing.context import SimContext
from lmbridge.testing.exchange import (
    SimRequest,
    SimResponse,
    SimStream,
    error_response,
)
from lmbridge.testing.failures import SimError

__all__ = ["RecordedRequest", "Route", "SimCore"]

Route = Callable[[SimContext, SimRequest, Any], Awaitable[SimResponse]]
"""A route handler: the shared context, the request and its parsed JSON body (``None`` for GET)."""

_ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/lmstudio-greeting"): routes_native.greeting,
    ("GET", "/lms-status"): routes_native.lms_status,
    ("GET", "/v1/models"): routes_openai.list_models,
    ("POST", "/v1/chat/completions"): routes_openai.chat_completions,
    ("POST", "/v1/completions"): routes_openai.completions,
    ("POST", "/v1/embeddings"): routes_openai.embeddings,
    ("POST", "/v1/responses"): routes_responses.responses,
    ("GET", "/api/v0/models"): routes_native.v0_models,
    ("POST", "/api/v0/chat/completions"): routes_native.v0_chat_completions,
    ("POST", "/api/v0/completions"): routes_native.v0_completions,
    ("POST", "/api/v0/embeddings"): routes_openai.embeddings,
    ("GET", "/api/v1/models"): routes_native.v1_models,
    ("POST", "/api/v1/models/load"): routes_native.v1_load,
    ("POST", "/api/v1/models/unload"): routes_native.v1_unload,
    ("POST", "/api/v1/models/download"): routes_downloads.download,
    ("POST", "/api/v1/chat"): routes_native_chat.native_chat,
    ("POST", "/__sim__/download"): routes_downloads.control_download,
    ("GET", "/__sim__/state"): routes_control.state,
    ("POST", "/__sim__/load"): routes_control.load,
    ("POST", "/__sim__/unload"): routes_control.unload,
    ("GET", "/__sim__/cli-calls"): routes_control.get_cli_calls,
    ("POST", "/__sim__/cli-calls"): routes_control.add_cli_call,
    ("GET", "/__sim__/cli-config"): routes_control.cli_config,
}
_PREFIX_ROUTES: tuple[tuple[str, str, Route], ...] = (
    ("GET", "/api/v0/models/", routes_native.v0_model),
    ("GET", "/api/v1/models/download/status/", routes_downloads.download_status),
)
_CONTROL_PREFIX = "/__sim__/"
_OPEN_PATHS = frozenset({"/lmstudio-greeting"})


@dataclass
class RecordedRequest:
    """One request the simulator received (control endpoints are not recorded).

    Attributes:
        method: the HTTP method.
        path: the URL path.
        query: the raw query string.
        body: the parsed JSON body (``None`` when empty; the text when it was not JSON).
        headers: request headers with lower-case names, without ``authorization``.
        status: the response status, once known.
        outcome: ``"completed"`` when the whole response was sent, ``"disconnected"`` when the client
            went away first, ``None`` while in progress.
    """

    method: str
    path: str
    query: str
    body: Any
    headers: dict[str, str]
    status: int | None = None
    outcome: Literal["completed", "disconnected"] | None = None


def _parse_body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")


class SimCore:
    """Answers requests: records them, checks the token and route availability, then dispatches.

    Args:
        context: what the routes see (state, settings, scripts, stores); shared with the simulator.
    """

    def __init__(self, context: SimContext) -> None:
        self.context = context
        self.requests: list[RecordedRequest] = []
        self._end_waiters: list[anyio.Event] = []

    def busy(self) -> bool:
        """Whether any recorded request is still being answered."""
        return any(record.outcome is None for record in self.requests)

    async def wait_request_end(self) -> None:
        """Wait until some request ends (its outcome is recorded)."""
        event = anyio.Event()
        self._end_waiters.append(event)
        await event.wait()

    def _finish(
        self, record: RecordedRequest, outcome: Literal["completed", "disconnected"]
    ) -> None:
        record.outcome = outcome
        waiters, self._end_waiters = self._end_waiters, []
        for event in waiters:
            event.set()

    def _route_disabled(self, path: str) -> bool:
        return any(
            path == entry or path.startswith(entry.rstrip("/") + "/")
            for entry in self.context.settings.routes_disabled
        )

    def _authorized(self, request: SimRequest) -> bool:
        token = self.context.settings.auth_token
        if token is None or request.path in _OPEN_PATHS:
            return True
        return request.headers.get("authorization", "") == f"Bearer {token}"

    async def handle(self, request: SimRequest) -> SimResponse:
        """Answer one request. A streamed body is a :class:`SimStream` the caller must close."""
        if request.path.startswith(_CONTROL_PREFIX):
            return await self._dispatch(request)
        headers = {k: v for k, v in request.headers.items() if k != "authorization"}
        record = RecordedRequest(
            request.method, request.path, request.query, _parse_body(request.body), headers
        )
        self.requests.append(record)
        if not self._authorized(request):
            response = error_response(SimError.unauthorized())
        elif self._route_disabled(request.path):
            response = error_response(self._unknown_route(request))
        else:
            try:
                response = await self._dispatch(request)
            except BaseException:
                self._finish(record, "disconnected")
                raise
        record.status = response.status
        if isinstance(response.body, SimStream):

            def on_end(completed: bool) -> None:
                self._finish(record, "completed" if completed else "disconnected")

            response.body.add_on_end(on_end)
        else:
            self._finish(record, "completed")
        return response

    def _unknown_route(self, request: SimRequest) -> SimError:
        status = self.context.settings.unknown_route_status
        return SimError.unknown_route(request.method, request.path, status=status)

    async def _dispatch(self, request: SimRequest) -> SimResponse:
        route = _ROUTES.get((request.method, request.path))
        if route is None:
            for method, prefix, candidate in _PREFIX_ROUTES:
                if request.method == method and request.path.startswith(prefix):
                    route = candidate
                    break
        if route is None:
            return error_response(self._unknown_route(request))
        body: Any = None
        if request.method == "POST":
            try:
                body = json.loads(request.body) if request.body else None
            except ValueError:
                return error_response(SimError.bad_request("Request body is not valid JSON."))
            if not isinstance(body, dict):
                return error_response(SimError.bad_request("Request body must be a JSON object."))
        return await route(self.context, request, body)
