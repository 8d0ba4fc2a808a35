"""``bridge.usage()``: per model, what the calls since the Bridge was made used and how fast."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

from lmbridge.events.kinds import Event, Heal, ModelLoadFinished, RequestFinished

__all__ = ["ModelUsage", "UsageTracker"]


@dataclass(frozen=True, slots=True)
class ModelUsage:
    """One model's share of a Bridge's work.

    Attributes:
        model: the model key (the name lmbridge sent).
        calls: model calls made (failed ones included; see ``errors``).
        errors: calls that ended in an error.
        prompt_tokens: input tokens, over the calls whose server reported usage.
        completion_tokens: output tokens, likewise.
        mean_time_to_first_token: the mean over calls that had one, in seconds.
        mean_tokens_per_second: the mean over calls that had one.
        loads: loads lmbridge made of this model.
        heals: requests healed after the model was found not loaded.
    """

    model: str
    calls: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    mean_time_to_first_token: float | None = None
    mean_tokens_per_second: float | None = None
    loads: int = 0
    heals: int = 0


class _Tally:
    __slots__ = ("calls", "completion", "errors", "heals", "loads", "prompt", "rates", "ttfts")

    def __init__(self) -> None:
        self.calls = self.errors = self.prompt = self.completion = self.loads = self.heals = 0
        self.ttfts: list[float] = []
        self.rates: list[float] = []


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


# The kinds observe() counts.
_COUNTED = frozenset({"request_finished", "model_load_finished", "heal"})


class UsageTracker:
    """Tallies events per model; one per Bridge, fed by its event emitter.

    A lock guards the tallies: a ``SyncBridge``'s ``usage()`` reads them from another thread than
    the event loop's, which writes them. It is held for a few additions at a time.
    """

    def __init__(self) -> None:
        self._tallies: dict[str, _Tally] = {}
        self._lock = threading.Lock()

    def _tally(self, model: str) -> _Tally:
        tally = self._tallies.get(model)
        if tally is None:
            tally = self._tallies[model] = _Tally()
        return tally

    def observe(self, event: Event) -> None:
        """Count ``event`` towards its model."""
        if event.kind not in _COUNTED:  # most events: no lock taken for them (#18)
            return
        with self._lock:
            if isinstance(event, RequestFinished):
                model = event.sent_model or event.model
                if model is None:
                    return
                tally = self._tally(model)
                tally.calls += 1
                tally.errors += event.error is not None
                tally.prompt += event.prompt_tokens or 0
                tally.completion += event.completion_tokens or 0
                if event.timing.time_to_first_token is not None:
                    tally.ttfts.append(event.timing.time_to_first_token)
                if event.timing.tokens_per_second is not None:
                    tally.rates.append(event.timing.tokens_per_second)
            elif isinstance(event, ModelLoadFinished) and event.error is None:
                self._tally(event.model).loads += 1
            elif isinstance(event, Heal):
                self._tally(event.model).heals += 1

    def report(self) -> Mapping[str, ModelUsage]:
        """A snapshot: model key to :class:`ModelUsage`."""
        with self._lock:
            return {
                model: ModelUsage(
                    model=model,
                    calls=t.calls,
                    errors=t.errors,
                    prompt_tokens=t.prompt,
                    completion_tokens=t.completion,
                    mean_time_to_first_token=_mean(t.ttfts),
                    mean_tokens_per_second=_mean(t.rates),
                    loads=t.loads,
                    heals=t.heals,
                )
                for model, t in self._tallies.items()
            }
