"""Error answers of the simulated LM Studio: one named constructor per variant seen in the wild.

Status codes and bodies changed between LM Studio versions (the ``error`` field may be a string or an
object, ``code`` may be ``null``, "not loaded" may be 400 or 404); each constructor reproduces one of them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any, Literal

__all__ = ["SimError"]

NO_MODELS_LOADED = (
    "No models loaded. Please load a model in the developer page or use the `lms load` command."
)


def _error_object(
    message: str,
    *,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | int | None = None,
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _examples(available: Sequence[str]) -> str:
    return ", ".join(available[:3]) if available else "qwen/qwen3-4b"


@dataclass(frozen=True)
class SimError:
    """An HTTP error answer: status, body (a JSON object, or a plain string sent as text) and headers.

    Use it in ``Reply(error=...)``, ``sim.script(...)`` or ``sim.fail_next(...)``. The class methods build
    the bodies real LM Studio versions send.

    Attributes:
        status: the HTTP status code.
        body: a ``dict`` (sent as JSON) or a ``str`` (sent as ``text/plain``).
        headers: extra response headers (e.g. ``Retry-After``).
    """

    status: int
    body: str | dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)

    def encode(self) -> tuple[bytes, str]:
        """The body bytes and their content type."""
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return json.dumps(self.body).encode(), "application/json"

    # --- unknown model -------------------------------------------------------------------------

    @classmethod
    def model_not_found_v035(cls, model: str, available: Sequence[str] = ()) -> SimError:
        """Unknown model, LM Studio 0.3.5: 404, error object listing "Your models:"."""
        listing = "".join(f"\n  {name}" for name in available)
        message = (
            f'Model "{model}" not found. Please specify a valid model.\n\nYour models:{listing}'
        )
        return cls(404, _error_object(message, param="model", code="model_not_found"))

    @classmethod
    def invalid_model_identifier(cls, model: str, available: Sequence[str] = ()) -> SimError:
        """Unknown model, later versions: 400 "Invalid model identifier", code ``model_not_found``."""
        message = (
            f'Invalid model identifier "{model}". Please specify a valid downloaded model '
            f"(e.g., {_examples(available)})."
        )
        return cls(400, _error_object(message, param="model", code="model_not_found"))

    # --- nothing loaded ------------------------------------------------------------------------

    @classmethod
    def no_models_loaded_v035(cls) -> SimError:
        """Nothing loaded (or JIT failed), LM Studio 0.3.5: 404 with a PLAIN TEXT body."""
        return cls(404, NO_MODELS_LOADED)

    @classmethod
    def no_models_loaded_string(cls) -> SimError:
        """Nothing loaded, 2025 builds: 400 ``{"error": "No models loaded..."}`` (a string)."""
        return cls(400, {"error": NO_MODELS_LOADED})

    @classmethod
    def no_models_loaded(cls, *, status: int = 400) -> SimError:
        """Nothing loaded, 0.4.8: an error object whose ``code`` is ``null``."""
        return cls(status, _error_object(NO_MODELS_LOADED, param="model"))

    @classmethod
    def multiple_models_loaded(cls) -> SimError:
        """Several models loaded and the request named none: 404, code ``model_not_found``."""
        message = (
            "Multiple models are loaded. Please specify a model by providing a 'model' field in "
            "the request body."
        )
        return cls(404, _error_object(message, param="model", code="model_not_found"))

    @classmethod
    def no_embedding_model(cls) -> SimError:
        """An embeddings request with no embedding model loaded: 404."""
        message = (
            "No embedding models loaded. Please load an embedding model in the developer page or "
            "use the `lms load` command."
        )
        return cls(404, _error_object(message, param="model", code="model_not_found"))

    @classmethod
    def wrong_model_type(cls, model: str, *, wanted: Literal["llm", "embedding"]) -> SimError:
        """A chat request to an embedding model, or an embeddings request to an LLM: 400."""
        if wanted == "embedding":
            message = f'Model "{model}" is not an embedding model. Use an embedding model for /v1/embeddings.'
        else:
            message = f'Model "{model}" is an embedding model and cannot generate text.'
        return cls(400, _error_object(message, param="model"))

    @classmethod
    def load_failed(cls, model: str, reason: str) -> SimError:
        """A JIT or REST load failed (e.g. out of memory): 400 with the load error's message."""
        return cls(400, _error_object(f'Error loading model "{model}": {reason}', param="model"))

    # --- request validation --------------------------------------------------------------------

    @classmethod
    def json_object_rejected(cls) -> SimError:
        """``response_format: {"type": "json_object"}``: 400 with a string ``error``."""
        return cls(400, {"error": "'response_format.type' must be 'json_schema' or 'text'"})

    @classmethod
    def tools_flat_required(cls, index: int = 0) -> SimError:
        """``/v1/responses`` given nested chat-format tools: 400 ``Required`` at ``tools.N.name``."""
        path = f"tools.{index}.name"
        return cls(
            400,
            _error_object(
                f"Invalid request: Required at '{path}'", param=path, code="invalid_type"
            ),
        )

    @classmethod
    def bad_request(cls, message: str, *, param: str | None = None) -> SimError:
        """Any other invalid request: 400 error object."""
        return cls(400, _error_object(message, param=param))

    @classmethod
    def not_found(cls, message: str) -> SimError:
        """A 404 error object (e.g. an unknown instance id on the REST API)."""
        return cls(404, _error_object(message, code="not_found"))

    @classmethod
    def unknown_route(cls, method: str, path: str, *, status: int = 200) -> SimError:
        """An unknown path or method, in LM Studio's wording: real servers (up to at least 0.4.17)
        answer it with **200**; ``status=404`` is what other servers would send."""
        return cls(status, {"error": f"Unexpected endpoint or method. ({method} {path})"})

    # --- transient and auth --------------------------------------------------------------------

    @classmethod
    def rate_limited(
        cls,
        retry_after: float | None = 1.0,
        *,
        style: Literal["seconds", "http-date", "ms"] = "seconds",
    ) -> SimError:
        """429 with a retry hint: ``Retry-After`` in seconds or as an HTTP date, or ``retry-after-ms``."""
        headers: dict[str, str] = {}
        if retry_after is not None:
            if style == "seconds":
                headers["Retry-After"] = f"{retry_after:g}"
            elif style == "http-date":
                headers["Retry-After"] = formatdate(time.time() + retry_after, usegmt=True)
            else:
                headers["retry-after-ms"] = str(round(retry_after * 1000))
        body = _error_object(
            "Rate limit exceeded", type_="rate_limit_error", code="rate_limit_exceeded"
        )
        return cls(429, body, headers)

    @classmethod
    def server_error(cls, status: int = 500, message: str = "Internal server error") -> SimError:
        """A 5xx error (500, 502, 503...), as servers send under load."""
        return cls(status, _error_object(message, type_="server_error"))

    @classmethod
    def unauthorized(cls) -> SimError:
        """401 for a missing or wrong API token, as LM Studio 0.4.18 sends it (the category in
        ``type``, the detail in ``code``; seen in agustif/opencode-lmstudio#41)."""
        message = (
            "An LM Studio API token is required to make requests to this server, but none was "
            "provided using the Authorization header using the 'Bearer' scheme (i.e., "
            "'Authorization: Bearer $LM_API_TOKEN'). Learn more at: "
            "https://lmstudio.ai/docs/developer/core/authentication."
        )
        body = {"error": {"type": "invalid_request", "code": "invalid_api_key", "message": message}}
        return cls(401, body)
