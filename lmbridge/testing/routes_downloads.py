"""LM Studio 0.4's download routes (1_developer/2_rest/download.md, download-status.md), and the
control route the simulated ``lms get`` downloads through."""

from __future__ import annotations

import time
from typing import Any

import anyio

from lmbridge.testing.context import SimContext
from lmbridge.testing.downloads import SimDownload, find_downloadable
from lmbridge.testing.exchange import SimRequest, SimResponse, error_response, json_response
from lmbridge.testing.failures import SimError

__all__ = ["control_download", "download", "download_status"]

_STATUS_PREFIX = "/api/v1/models/download/status/"


def _start(context: SimContext, name: str) -> SimDownload | dict[str, Any] | SimError:
    """A new job for ``name``; the documented answer when it is downloaded already; or an error."""
    if context.state.find_model(name) is not None:
        return {"status": "already_downloaded"}
    model = find_downloadable(name, context.downloadable)
    if model is None:
        # Undocumented: answered like the v1 errors (streaming-events.md lists model_not_found).
        return SimError(
            404,
            {"error": {"type": "model_not_found", "message": f"Could not find model {name!r}."}},
        )
    if model.key in context.state.models:
        return {"status": "already_downloaded"}
    job = SimDownload(
        job_id=context.new_id("job_")[:14],
        model=model,
        started=context.now(),
        started_wall=time.time(),
        duration=context.settings.download_seconds,
        failure=context.download_failures.get(model.key),
    )
    context.downloads[job.job_id] = job
    return job


async def download(context: SimContext, request: SimRequest, body: Any) -> SimResponse:
    """``POST /api/v1/models/download`` ``{"model", "quantization"?}``."""
    name = body.get("model")
    if not isinstance(name, str) or not name:
        return error_response(SimError.bad_request("'model' field is required", param="model"))
    started = _start(context, name)
    if isinstance(started, SimError):
        return error_response(started)
    if isinstance(started, dict):
        return json_response(started)
    return json_response(started.status(context.state, first=True))


async def download_status(context: SimContext, request: SimRequest, body: Any) -> SimResponse:
    """``GET /api/v1/models/download/status/{job_id}``."""
    job = context.downloads.get(request.path.removeprefix(_STATUS_PREFIX))
    if job is None:
        message = "No download job with this id."
        return error_response(
            SimError(404, {"error": {"type": "job_not_found", "message": message}})
        )
    return json_response(job.status(context.state))


async def control_download(context: SimContext, request: SimRequest, body: Any) -> SimResponse:
    """``POST /__sim__/download`` ``{"model"}``: an ``lms get``, done before it answers
    (``{"status": "completed" | "already_downloaded" | "failed", "key"?, "error"?}``)."""
    name = body.get("model")
    started = _start(context, name if isinstance(name, str) else "")
    if isinstance(started, SimError):
        return json_response({"status": "not_found"}, 404)
    if isinstance(started, dict):
        return json_response(started)
    if started.duration > 0:
        await anyio.sleep(started.duration)
    if started.failure is not None:
        return json_response({"status": "failed", "error": started.failure})
    context.state.models.setdefault(started.model.key, started.model)
    return json_response({"status": "completed", "key": started.model.key})
