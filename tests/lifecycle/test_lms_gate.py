"""The `lms` gate: a "not running" from `lms server status` is asked again later (#10, item 3)."""

from __future__ import annotations

from lmbridge.errors import ModelNotLoadedError
from lmbridge.testing import SimulatedLMStudio
from tests.lifecycle.models_support import ServeManager


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_negative_status_is_rechecked_within_30_s(serve_manager: ServeManager) -> None:
    # The real CLI probes the server with a 500 ms timeout: a busy LM Studio reads "not running".
    clock = FakeClock()
    sim = SimulatedLMStudio()
    async with serve_manager(sim, clock=clock) as manager:
        sim.cli_config = {"server_not_running": True}
        usable, problem = await manager.lms_status()
        assert not usable
        assert problem is not None and "not running" in problem and "checked 0 s ago" in problem
        sim.cli_config = {}  # LM Studio is idle again
        clock.now += 5
        assert (await manager.lms_status())[0] is False  # too soon: the answer stands
        status_calls = len([c for c in sim.cli_calls if c[:2] == ["server", "status"]])
        clock.now += 25  # 30 s after the negative answer
        assert await manager.lms_status() == (True, None)
        assert len([c for c in sim.cli_calls if c[:2] == ["server", "status"]]) == status_calls + 1
        await manager.ensure_loaded("qwen/qwen3-4b")
        assert [c[:1] for c in sim.cli_calls].count(["load"]) == 1  # lms is used again


async def test_rechecks_back_off_and_diagnose_says_when(serve_manager: ServeManager) -> None:
    clock = FakeClock()
    sim = SimulatedLMStudio()
    async with serve_manager(sim, clock=clock) as manager:
        sim.cli_config = {"server_not_running": True}

        def status_calls() -> int:
            return len([c for c in sim.cli_calls if c[:2] == ["server", "status"]])

        await manager.lms_status()
        first = status_calls()
        clock.now += 30
        await manager.lms_status()
        assert status_calls() == first + 1
        clock.now += 15  # the second wait is longer than the first
        await manager.lms_status()
        assert status_calls() == first + 1
        clock.now += 3
        error = await manager.diagnose("qwen/qwen3-4b", ModelNotLoadedError("gone"))
        assert "not running" in (error.hint or "")
        assert "checked 18 s ago; asked again after 2 s more" in (error.hint or "")
