"""SingleFlight: one run per key, shared results and errors, and what cancellation does."""

from __future__ import annotations

import anyio
import pytest

from lmbridge.lifecycle.singleflight import SingleFlight


class Job:
    """A job that blocks until released and counts its runs."""

    def __init__(self, result: str = "done") -> None:
        self.runs = 0
        self.started = anyio.Event()
        self.release = anyio.Event()
        self.result = result

    async def __call__(self) -> str:
        self.runs += 1
        self.started.set()
        await self.release.wait()
        return f"{self.result}#{self.runs}"


async def test_concurrent_callers_share_one_run() -> None:
    flights: SingleFlight[str] = SingleFlight()
    job = Job()
    results: list[str] = []

    async def call() -> None:
        results.append(await flights.run("k", job))

    async with anyio.create_task_group() as tg:
        for _ in range(50):
            tg.start_soon(call)
        await anyio.wait_all_tasks_blocked()
        assert flights.running("k")
        job.release.set()

    assert job.runs == 1
    assert results == ["done#1"] * 50
    assert not flights.running("k")


async def test_the_error_is_shared() -> None:
    flights: SingleFlight[str] = SingleFlight()
    gate = anyio.Event()
    runs = 0

    async def failing() -> str:
        nonlocal runs
        runs += 1
        await gate.wait()
        raise ValueError("boom")

    errors: list[BaseException] = []

    async def call() -> None:
        try:
            await flights.run("k", failing)
        except ValueError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(call)
        await anyio.wait_all_tasks_blocked()
        gate.set()

    assert runs == 1
    assert len(errors) == 5
    assert {str(e) for e in errors} == {"boom"}


async def test_a_finished_run_is_not_cached() -> None:
    flights: SingleFlight[str] = SingleFlight()
    job = Job()
    job.release.set()

    assert await flights.run("k", job) == "done#1"
    assert await flights.run("k", job) == "done#2"


async def test_different_keys_run_in_parallel() -> None:
    flights: SingleFlight[str] = SingleFlight()
    first, second = Job("a"), Job("b")
    results: dict[str, str] = {}

    async def call(key: str, job: Job) -> None:
        results[key] = await flights.run(key, job)

    async with anyio.create_task_group() as tg:
        tg.start_soon(call, "a", first)
        tg.start_soon(call, "b", second)
        await first.started.wait()
        await second.started.wait()  # both running at once
        first.release.set()
        second.release.set()

    assert results == {"a": "a#1", "b": "b#1"}


async def test_a_cancelled_waiter_does_not_disturb_the_run() -> None:
    flights: SingleFlight[str] = SingleFlight()
    job = Job()
    results: list[str] = []

    async def call() -> None:
        results.append(await flights.run("k", job))

    async with anyio.create_task_group() as tg:
        tg.start_soon(call)
        await job.started.wait()
        with anyio.move_on_after(0.01) as waiter_scope:
            await flights.run("k", job)
        assert waiter_scope.cancelled_caught
        job.release.set()

    assert results == ["done#1"]
    assert job.runs == 1


async def test_a_cancelled_leader_hands_the_run_to_a_waiter() -> None:
    flights: SingleFlight[str] = SingleFlight()
    job = Job()
    results: list[str] = []

    async def call() -> None:
        results.append(await flights.run("k", job))

    async with anyio.create_task_group() as tg:
        leader = anyio.CancelScope()

        async def lead() -> None:
            with leader:
                await flights.run("k", job)

        tg.start_soon(lead)
        await job.started.wait()
        for _ in range(3):
            tg.start_soon(call)
        await anyio.wait_all_tasks_blocked()
        leader.cancel()
        await anyio.wait_all_tasks_blocked()
        assert job.runs == 2  # one waiter started it again; the others wait for that run
        job.release.set()

    assert leader.cancelled_caught
    assert results == ["done#2"] * 3


async def test_base_exceptions_are_not_shared() -> None:
    """Only the caller running the job sees a non-Exception (e.g. KeyboardInterrupt-like)."""
    flights: SingleFlight[str] = SingleFlight()

    class Stop(BaseException):
        pass

    async def stop() -> str:
        raise Stop

    with pytest.raises(Stop):
        await flights.run("k", stop)
    assert not flights.running("k")
