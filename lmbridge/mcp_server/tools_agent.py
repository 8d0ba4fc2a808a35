"""Autonomous tools: a local model drives MCP servers of ``mcp.json`` until the task is done.

Each call opens the servers it needs and closes them when it ends, however it ends: a host
cancelling the call cancels the run, and the servers' processes are shut down with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from lmbridge.agent.events import RoundStarted, ToolCallRequested
from lmbridge.agent.options import AGENT_DEFAULTS
from lmbridge.mcp_config import open_mcp_sessions
from lmbridge.mcp_server.context import ServerContext, tool_errors
from lmbridge.mcp_server.entries import select_servers
from lmbridge.mcp_server.formatting import AgentReport, agent_report

__all__ = ["register_agent_tools"]

Task = Annotated[str, Field(description="What to do, in plain words, as for a capable assistant.")]
Model = Annotated[
    str | None,
    Field(
        description="The model that drives the run (one trained for tool use); default: the one loaded model."
    ),
]
MaxRounds = Annotated[
    int | None,
    Field(
        description=f"The most model calls (default {AGENT_DEFAULTS['max_rounds']}).", ge=1, le=200
    ),
]


async def _run(
    state: ServerContext,
    ctx: Context[Any, Any],
    names: Sequence[str] | None,
    task: str,
    model: str | None,
    max_rounds: int | None,
) -> AgentReport:
    rounds = max_rounds or AGENT_DEFAULTS["max_rounds"]
    with tool_errors():
        selected = await select_servers(state.mcp_json, names)
        name = await state.pick_model(model)
        async with (
            open_mcp_sessions(state.mcp_json, only=selected) as sessions,
            state.bridge.stream_agent(name, task, tools=sessions, max_rounds=rounds) as run,
        ):
            calls = 0
            async for event in run:
                # Progress counts rounds and must rise with every report (the protocol says so):
                # a round's n-th tool call reports round - 1 + (1 - 2**-n), below the next round.
                if isinstance(event, RoundStarted):
                    calls = 0
                    await ctx.report_progress(
                        event.round - 1, rounds, f"round {event.round}: asking {name}"
                    )
                elif isinstance(event, ToolCallRequested):
                    calls += 1
                    await ctx.report_progress(
                        event.round - 2.0**-calls,
                        rounds,
                        f"round {event.round}: calling {event.name}",
                    )
            result = await run.result()
    return agent_report(result)


def register_agent_tools(server: MCPServer[Any], state: ServerContext) -> None:
    """Add ``autonomous_with_mcp``, ``autonomous_with_multiple_mcps`` and
    ``autonomous_discover_and_execute`` to ``server``."""

    @server.tool()
    async def autonomous_with_mcp(
        mcp_name: Annotated[
            str, Field(description="The name of an MCP server in mcp.json, e.g. 'filesystem'.")
        ],
        task: Task,
        ctx: Context[Any, Any],
        model: Model = None,
        max_rounds: MaxRounds = None,
    ) -> AgentReport:
        """Let a local model carry out a task autonomously with the tools of one MCP server from
        mcp.json. Returns its final `output`, the `stop_reason` ("completed" when it finished),
        the `rounds` used and every tool call made. Reports progress per round."""
        return await _run(state, ctx, [mcp_name], task, model, max_rounds)

    @server.tool()
    async def autonomous_with_multiple_mcps(
        mcp_names: Annotated[
            list[str],
            Field(description="Names of MCP servers in mcp.json to use together.", min_length=1),
        ],
        task: Task,
        ctx: Context[Any, Any],
        model: Model = None,
        max_rounds: MaxRounds = None,
    ) -> AgentReport:
        """Like autonomous_with_mcp, with the tools of several MCP servers at once (tool names
        are prefixed with their server's name when two servers share one)."""
        return await _run(state, ctx, mcp_names, task, model, max_rounds)

    @server.tool()
    async def autonomous_discover_and_execute(
        task: Task,
        ctx: Context[Any, Any],
        model: Model = None,
        max_rounds: MaxRounds = None,
    ) -> AgentReport:
        """Like autonomous_with_mcp, with every enabled MCP server of mcp.json: use it when you
        do not know which server has the tools the task needs."""
        return await _run(state, ctx, None, task, model, max_rounds)
