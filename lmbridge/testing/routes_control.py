"""``/__sim__/*`` control endpoints, used by the simulated ``lms`` CLI (a separate process).

Not part of LM Studio: never recorded in ``sim.requests``, never behind the API token.
"""

from __future__ import annotations

from typing import Any

import anyio

from lmbridge.testing.context import SimContext
from lmbridge.testing.exchange import SimRequest, SimResponse, json_response
from lmbridge.testing.state import SimLoadError, sorted_for_ps
from lmbridge.testing.wire_models import lms_ls_row, lms_ps_row

__all__ = ["add_cli_call", "cli_config", "get_cli_calls", "load", "state", "unload"]

_LOAD_ERROR_STATUS = {"not_found": 404, "out_of_memory": 507, "conflict": 409}


async def state(context: SimContext, request: SimRequest, body: Any) -> SimResponse:
    """``GET /__sim__/state``: ``lms ls`` rows, ``lms ps`` rows, the server status, memory."""
    return json_response(
        {
            "downloaded": [
                lms_ls_row(model, device)
                for model in context.state.models.values()
                for device in model.devices
            ],
            "loaded": [lms_ps_row(inst) for inst in sorted_for_ps(context.state.instances)],
            "server": {"running": True, "port": context.port},
            # For the simulated `lms load --estimate-only` and `lms runtime survey`.
            "memory": {
                "limit_bytes": context.state.memory_limit_bytes,
                "used_bytes": context.state.used_bytes(),
            },
        }
    )


def _optional_number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return None


async def load(context: SimContext, request: SimRequest, body: Any) -> SimResponse:
    """``POST /__sim__/load``: an ``lms load`` of an exact key (honours ``load_delay``)."""
    key = body.get("model_key")
    if not isinstance(key, str) or not key:
        return json_response({"error": "model_key is required"}, 400)
    identifier = body.get("identifier")
    device = body.get("device")
    parallel = _optional_number(body.get("parallel"))
    context_length = _optional_number(body.get("context_length"))
    if context.settings.load_delay > 0:
        await anyio.sleep(context.settings.load_delay)
    try:
        inst = context.state.load(
            key,
            identifier=identifier if isinstance(identifier, str) and identifier else None,
            context_length=None if context_length is None else int(context_length),
            ttl=_optional_number(body.get("ttl")),
            via="lms",
            device=device if isinstance(device, str) else None,
            config={} if parallel is None else {"parallel": int(parallel)},
        )
    except SimLoadError as exc:
        return json_response({"error": exc.message}, _LOAD_ERROR_STATUS[exc.kind])
    return json_response({"instance": lms_ps_row(inst)})


async def unload(context: SimContext, request: SimRequest, body: Any) -> SimResponse:
    """``POST /__sim__/unload``: ``{"identifier": ...}`` or ``{"all": true}``."""
    if body.get("all") is True:
        return json_response({"unloaded": context.state.unload_all()})
    identifier = body.get("identifier")
    if not isinstance(identifier, str):
        return json_response({"error": "identifier or all is required"}, 400)
    return json_response({"unloaded": [identifier] if context.state.unload(identifier) else []})


async def add_cli_call(context: SimContext, request: SimRequest, body: Any) -> SimResponse:
    """``POST /__sim__/cli-calls``: record one ``lms`` invocation's argv."""
    argv = body.get("argv")
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        return json_response({"error": "argv must be a list of strings"}, 400)
    context.cli_calls.append(list(argv))
    return json_response({"count": len(context.cli_calls)})


async def get_cli_calls(context: SimContext, request: SimRequest, body: Any) -> SimResponse:
    """``GET /__sim__/cli-calls``: the recorded argv lists, oldest first (a JSON array)."""
    return json_response(context.cli_calls)


async def cli_config(context: SimContext, request: SimRequest, body: Any) -> SimResponse:
    """``GET /__sim__/cli-config``: the behaviour switches tests set for the simulated CLI."""
    return json_response(context.cli_config)
