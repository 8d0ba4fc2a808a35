"""Model downloads of the simulated LM Studio: jobs that progress with the state's clock.

LM Studio 0.4 downloads through ``POST /api/v1/models/download`` and reports a job through
``GET /api/v1/models/download/status/{job_id}`` (1_developer/2_rest/download*.md). A job here moves
its bytes in proportion to the time passed on the simulator's clock; once complete, its model is
downloaded (``lms ls`` and the listings show it).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from lmbridge.testing.catalogue import SimModel
from lmbridge.testing.state import SimState

__all__ = ["SimDownload", "find_downloadable"]


def _iso(epoch_seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(epoch_seconds, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def find_downloadable(name: str, downloadable: dict[str, SimModel]) -> SimModel | None:
    """The catalog model a download names: its key, or a Hugging Face link whose repository is
    named after the key's last part (``https://huggingface.co/<org>/<tail>-GGUF``)."""
    if name in downloadable:
        return downloadable[name]
    if name.lower().startswith("https://huggingface.co/"):
        repository = name.rstrip("/").rsplit("/", 1)[-1].lower()
        for model in downloadable.values():
            tail = model.key.rsplit("/", 1)[-1].lower()
            if repository in (tail, f"{tail}-gguf", f"{tail}-mlx"):
                return model
    return None


@dataclass(eq=False)
class SimDownload:
    """One download job.

    Attributes:
        job_id: LM Studio-style id, ``job_<hex>``.
        model: what it downloads.
        started: the state's clock when it started.
        started_wall: the wall-clock time it started (for ``started_at``).
        duration: seconds (on the state's clock) it takes.
        failure: the reason it fails half-way, or ``None``.
    """

    job_id: str
    model: SimModel
    started: float
    started_wall: float
    duration: float
    failure: str | None = None

    def status(self, state: SimState, *, first: bool = False) -> dict[str, Any]:
        """The job's status object now; completing it adds the model to the downloaded ones.

        ``first``: the answer of the download request itself, which has no ``downloaded_bytes``.
        """
        total = self.model.size_bytes
        elapsed = state.clock() - self.started
        done = self.duration <= 0 or elapsed >= self.duration
        fraction = 1.0 if done else max(elapsed, 0.0) / self.duration
        answer: dict[str, Any] = {"job_id": self.job_id}
        if self.failure is not None and (done or fraction >= 0.5):
            answer.update({"status": "failed", "total_size_bytes": total})
            answer["downloaded_bytes"] = total // 2
            # The failure's shape is undocumented: this one follows the v1 error objects.
            answer["error"] = {"type": "internal_error", "message": self.failure}
        elif done and not first:
            state.models.setdefault(self.model.key, self.model)
            answer.update({"status": "completed", "total_size_bytes": total})
            answer["downloaded_bytes"] = total
            answer["completed_at"] = _iso(self.started_wall + self.duration)
        else:
            answer.update({"status": "downloading", "total_size_bytes": total})
            if not first:
                answer["downloaded_bytes"] = int(total * min(fraction, 0.99))
                speed = total / self.duration if self.duration > 0 else float(total)
                answer["bytes_per_second"] = round(speed, 1)
                answer["estimated_completion"] = _iso(self.started_wall + self.duration)
        answer["started_at"] = _iso(self.started_wall)
        return answer
