"""Downloading a model: LM Studio's REST download (0.4+), else ``lms get``.

``POST /api/v1/models/download`` starts a job (or answers ``already_downloaded``); the job is
polled at ``GET /api/v1/models/download/status/{job_id}`` until it is ``completed`` or ``failed``
(1_developer/2_rest/download.md, download-status.md). The poller is the calling task itself, so
cancelling the call leaves nothing behind (LM Studio may finish the download on its own).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio

from lmbridge.errors import (
    APIStatusError,
    DownloadError,
    LmsError,
    ModelNotFoundError,
    NotFoundError,
)
from lmbridge.lifecycle.lms.runner import ProgressCallback, report_progress
from lmbridge.lifecycle.resolve import find

if TYPE_CHECKING:
    from lmbridge.lifecycle.cache import StateCache
    from lmbridge.lifecycle.server import ServerAccess
    from lmbridge.lifecycle.types import ModelInfo

__all__ = ["Downloader"]

_START = "/api/v1/models/download"
_STATUS = "/api/v1/models/download/status/"
_FIRST_POLL = 0.1  # seconds between status polls, doubling
_LONGEST_POLL = 1.0
_LMS_BUDGET = 24 * 3600.0  # `lms get` has no progress to watch: only a generous ceiling


class Downloader:
    """Downloads models, reporting progress as bytes arrive.

    Args:
        server: the server to download to.
        cache: the listings to look the downloaded model up in (dropped afterwards).
    """

    def __init__(self, *, server: ServerAccess, cache: StateCache) -> None:
        self._server = server
        self._cache = cache

    async def download(
        self, key: str, *, quantization: str | None, on_progress: ProgressCallback | None
    ) -> ModelInfo:
        """See :meth:`~lmbridge.lifecycle.models.ModelManager.download`."""
        from lmbridge.lifecycle.lms.failures import check_cli_name  # loaded when first used

        check_cli_name(key, "model")
        if quantization is not None:
            check_cli_name(quantization, "quantization")
        before = {model.key for model in (await self._cache.listing()).models}
        body: dict[str, Any] = {"model": key}
        if quantization is not None:
            body["quantization"] = quantization
        try:
            answer = await self._server.rest.post_json(_START, body, model=key)
        except NotFoundError as exc:  # no download route (LM Studio before 0.4): lms, if usable
            if not await self._server.gate.usable():
                raise DownloadError(
                    f"Cannot download {key!r}: the server has no download API (LM Studio 0.4+) "
                    "and the `lms` CLI is not usable here.",
                    key=key,
                    reason=exc.message,
                    url=exc.url,
                    hint="Update LM Studio to 0.4 or later, or run `lms get` on its machine.",
                ) from exc
            await self._with_lms(key, quantization)
            await report_progress(on_progress, 1.0)
            return await self._find(key, before)
        except (APIStatusError, ModelNotFoundError) as exc:
            raise DownloadError(
                f"LM Studio refused to download {key!r}: {exc.message}",
                key=key,
                reason=exc.message,
                url=exc.url,
                status_code=exc.status_code,
                body=exc.body,
            ) from exc
        await self._follow(key, answer, on_progress)
        return await self._find(key, before)

    async def _follow(self, key: str, answer: Any, on_progress: ProgressCallback | None) -> None:
        """Poll the job ``answer`` started until it ends, reporting its progress."""
        last = 0.0
        wait = _FIRST_POLL
        job_id = answer.get("job_id") if isinstance(answer, dict) else None
        while True:
            status = answer.get("status") if isinstance(answer, dict) else None
            if status in ("completed", "already_downloaded"):
                await report_progress(on_progress, 1.0)
                return
            if status == "failed":
                reason = _reason(answer)
                raise DownloadError(
                    f"Downloading {key!r} failed" + (f": {reason}" if reason else "."),
                    key=key,
                    job_id=job_id,
                    reason=reason,
                )
            if status not in ("downloading", "paused") or not isinstance(job_id, str):
                raise DownloadError(
                    f"LM Studio's download answer for {key!r} is not a job status: {answer!r}",
                    key=key,
                    job_id=job_id if isinstance(job_id, str) else None,
                    hint="This LM Studio version may answer differently; please report it.",
                )
            fraction = _fraction(answer)
            if fraction is not None and last < fraction < 1.0:
                last = fraction
                await report_progress(on_progress, fraction)
            await anyio.sleep(wait)
            wait = min(wait * 2, _LONGEST_POLL)
            answer = await self._server.rest.get_json(_STATUS + job_id)

    async def _with_lms(self, key: str, quantization: str | None) -> None:
        name = key if quantization is None else f"{key}@{quantization}"
        try:
            await self._server.lms.get(name, timeout=_LMS_BUDGET)
        except LmsError as exc:
            raise DownloadError(
                f"`lms get {name}` failed: {exc.message}", key=key, reason=exc.stderr or exc.message
            ) from exc

    async def _find(self, key: str, before: set[str]) -> ModelInfo:
        """The downloaded model in a fresh listing: ``key`` itself, else (a link, whose key LM
        Studio chose) the one model that was not there before."""
        self._cache.drop_listings()
        models = (await self._cache.listing()).models
        found = find(key, models)
        if found is not None:
            return found.model
        new = [model for model in models if model.key not in before]
        if len(new) == 1:
            return new[0]
        raise DownloadError(
            f"{key!r} was downloaded, but the model list does not show which model it is.",
            key=key,
            hint="List the models with `await bridge.models.list()` and use the new key.",
        )


def _fraction(answer: dict[str, Any]) -> float | None:
    done, total = answer.get("downloaded_bytes"), answer.get("total_size_bytes")
    if isinstance(done, (int, float)) and isinstance(total, (int, float)) and total > 0:
        return min(max(float(done) / float(total), 0.0), 1.0)
    return None


def _reason(answer: dict[str, Any]) -> str | None:
    """Why a job failed; LM Studio documents no field for it, so every likely one is read."""
    for name in ("error", "reason", "message", "failure_reason"):
        value = answer.get(name)
        if isinstance(value, dict):
            value = value.get("message") or value.get("reason")
        if isinstance(value, str) and value:
            return value
    return None
