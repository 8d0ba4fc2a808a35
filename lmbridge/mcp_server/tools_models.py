"""Tools about the server and its models: health, listings, load and unload."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from lmbridge.errors import APIConnectionError, NotFoundError
from lmbridge.mcp_server.context import ServerContext, tool_errors
from lmbridge.mcp_server.formatting import (
    HealthReport,
    InstanceRow,
    LoadReply,
    ModelRow,
    UnloadReply,
    instance_row,
    model_row,
)

__all__ = ["register_model_tools"]


async def _version(state: ServerContext) -> str | None:
    """LM Studio's version from ``/lms-status`` (newer builds); other servers do not say."""
    try:
        status = await state.bridge.http.get_json("/lms-status", timeout=10.0)
    except NotFoundError:
        return None
    version = status.get("version") if isinstance(status, dict) else None
    return version if isinstance(version, str) else None


def register_model_tools(server: MCPServer[Any], state: ServerContext) -> None:
    """Add ``health_check``, ``list_models``, ``list_loaded_models``, ``load_model`` and
    ``unload_model`` to ``server``."""
    models = state.bridge.models

    @server.tool()
    async def health_check() -> HealthReport:
        """Check the local LLM server: whether it answers, its version, whether the `lms` CLI
        is found and usable for it (and why not), and which models are loaded. Call this first
        when other tools fail."""
        with tool_errors():
            lms_path = await state.bridge.lms.locate()
            lms_usable, lms_problem = await models.lms_status()
            try:
                version = await _version(state)
                loaded = await models.loaded()
            except APIConnectionError:
                # Unreachable is this tool's answer, not its failure.
                return HealthReport(
                    reachable=False,
                    base_url=state.bridge.base_url,
                    version=None,
                    lms_path=lms_path,
                    lms_usable=lms_usable,
                    lms_problem=lms_problem,
                    listing_source=None,
                    loaded_models=[],
                )
            return HealthReport(
                reachable=True,
                base_url=state.bridge.base_url,
                version=version,
                lms_path=lms_path,
                lms_usable=lms_usable,
                lms_problem=lms_problem,
                listing_source=models.source,
                loaded_models=[instance_row(instance) for instance in loaded],
            )

    @server.tool()
    async def list_models() -> list[ModelRow]:
        """List the downloaded models with their type, whether each is loaded ("loaded",
        "not-loaded", or "unknown" when the server cannot tell) and its loaded instances."""
        with tool_errors():
            return [model_row(model) for model in await models.list()]

    @server.tool()
    async def list_loaded_models() -> list[InstanceRow]:
        """List the loaded model instances. Each `identifier` can be passed as `model` to the
        other tools."""
        with tool_errors():
            return [instance_row(instance) for instance in await models.loaded()]

    @server.tool()
    async def load_model(
        model: Annotated[
            str, Field(description="The model key (or an unambiguous part of it) to load.")
        ],
        ctx: Context[Any, Any],
        ttl: Annotated[
            int | None,
            Field(description="Unload it after this many idle seconds.", ge=1),
        ] = None,
        context_length: Annotated[
            int | None, Field(description="The context length to load it with.", ge=1)
        ] = None,
    ) -> LoadReply:
        """Load a model, unless an instance of it is already loaded (then that one is returned).
        Reports load progress. Loading can take a minute for large models."""

        async def progress(fraction: float) -> None:
            await ctx.report_progress(fraction, 1.0, f"loading {model}")

        with tool_errors():
            instance = await models.ensure_loaded(
                model, ttl=ttl, context_length=context_length, on_progress=progress
            )
        return LoadReply(instance=instance_row(instance))

    @server.tool()
    async def unload_model(
        identifier: Annotated[
            str,
            Field(description="The instance identifier (see list_loaded_models) or model key."),
        ],
    ) -> UnloadReply:
        """Unload one loaded model instance to free memory."""
        with tool_errors():
            return UnloadReply(unloaded=await models.unload(identifier))
