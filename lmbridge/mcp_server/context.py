"""What every tool shares: the one Bridge, the ``mcp.json`` path, the default-model rule, and the
conversion of lmbridge's errors into MCP tool errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mcp.server.mcpserver.exceptions import ToolError

from lmbridge.bridge import Bridge
from lmbridge.errors import LMBridgeError, ModelError
from lmbridge.lifecycle.types import RequestKind

__all__ = ["ServerContext", "tool_errors"]


@dataclass(frozen=True)
class ServerContext:
    """The state of one running server (no module globals: a test may run several).

    Attributes:
        bridge: the Bridge every tool uses, for the server's lifetime.
        mcp_json: the ``mcp.json`` the autonomous tools open servers from.
    """

    bridge: Bridge
    mcp_json: Path

    async def pick_model(self, model: str | None, *, kind: RequestKind = "llm") -> str:
        """``model`` when given; else the one loaded model of ``kind``.

        A given name is passed on as is: the Bridge resolves partial names and answers a typo
        with the closest keys. Servers that cannot tell what is loaded (``/v1/models`` only, such
        as llama.cpp's) serve the one model they list.

        Raises:
            ModelError: no model given and none, or several, loaded.
        """
        if model:
            return model
        loaded = [
            instance
            for instance in await self.bridge.models.loaded()
            if (instance.type == "embedding") == (kind == "embedding")
        ]
        if len(loaded) == 1:
            return loaded[0].identifier
        if len(loaded) > 1:
            names = ", ".join(instance.identifier for instance in loaded)
            raise ModelError(
                f"Several models are loaded ({names}): say which one with `model`",
                hint=f"Pass model= one of: {names}.",
            )
        listed = await self.bridge.models.list()
        if len(listed) == 1 and listed[0].state == "unknown":
            return listed[0].key
        downloaded = ", ".join(
            m.key for m in listed if (m.type == "embedding") == (kind == "embedding")
        )
        raise ModelError(
            "No model is loaded, and no `model` was given",
            hint=f"Pass model= (downloaded: {downloaded or 'none'}), or load one with load_model.",
        )


@contextmanager
def tool_errors() -> Iterator[None]:
    """Turn an lmbridge error into an MCP tool error (``isError``) carrying its message and hint.

    Only lmbridge's own errors are converted: they describe the call and say what to try. Anything
    else is a defect, which the SDK reports as a generic tool error and logs with its traceback;
    either way the server keeps running.
    """
    try:
        yield
    except LMBridgeError as exc:
        raise ToolError(str(exc)) from exc
