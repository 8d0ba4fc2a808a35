"""Running one ``lms`` command as a subprocess, never leaving it behind.

The command always runs from an argument list (no shell), with stdin closed so an interactive prompt
sees end-of-file instead of waiting forever. On timeout or cancellation the process is terminated,
given a moment to exit, killed if it has not, and reaped.
"""

from __future__ import annotations

import codecs
import contextlib
import inspect
import shlex
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from lmbridge.errors import LmsError, LmsNotFoundError, LmsTimeoutError

if TYPE_CHECKING:
    from anyio.abc import ByteReceiveStream, Process

__all__ = ["LmsRun", "OutputCallback", "command_text", "run_lms"]

_TERMINATE_GRACE = 2.0
# A process that exits can leave a grandchild (e.g. a service it started) holding our pipes open:
# after the exit, the remaining output gets this long to arrive.
_PIPE_DRAIN_GRACE = 2.0


@dataclass(frozen=True)
class LmsRun:
    """A finished command.

    Attributes:
        command: the argument list that ran.
        exit_code: its exit status (negative: killed by that signal).
        stdout: everything it printed on stdout.
        stderr: everything it printed on stderr.
    """

    command: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str


OutputCallback = Callable[[str], object]
"""Receives each piece of stdout; may return an awaitable, which is awaited."""


def command_text(command: Sequence[str]) -> str:
    """The command as a user would type it: ``lms load qwen/qwen3-4b -y``."""
    return shlex.join(["lms", *command[1:]]) if command else "lms"


class _Collector:
    """Reads one pipe to its end, decoding UTF-8 across chunk boundaries."""

    def __init__(self, callback: OutputCallback | None) -> None:
        self.parts: list[str] = []
        self.done = anyio.Event()
        self.failure: Exception | None = None
        self._callback = callback
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    @property
    def text(self) -> str:
        return "".join(self.parts)

    async def pump(self, stream: ByteReceiveStream, on_failure: Callable[[], object]) -> None:
        try:
            async for chunk in stream:
                await self._take(self._decoder.decode(chunk))
            await self._take(self._decoder.decode(b"", final=True))
        except anyio.ClosedResourceError:
            pass
        except Exception as exc:  # the callback failed: stop the command, re-raised by run_lms
            self.failure = exc
            on_failure()
        finally:
            self.done.set()

    async def _take(self, text: str) -> None:
        if not text:
            return
        self.parts.append(text)
        if self._callback is not None:
            result = self._callback(text)
            if inspect.isawaitable(result):
                await result


async def _stop(process: Process) -> None:
    """Terminate, wait briefly, kill, reap. Call shielded from cancellation."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        with anyio.move_on_after(_TERMINATE_GRACE):
            await process.wait()
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    await process.aclose()


async def _await_both(first: anyio.Event, second: anyio.Event) -> None:
    await first.wait()
    await second.wait()


async def run_lms(
    command: Sequence[str],
    *,
    time_limit: float,
    env: Mapping[str, str] | None = None,
    on_stdout: OutputCallback | None = None,
    model: str | None = None,
) -> LmsRun:
    """Run ``command`` and collect its output.

    Args:
        command: the executable and its arguments.
        time_limit: seconds before the command is terminated and :class:`LmsTimeoutError` raised.
        env: the environment for the process; ``None`` inherits this process's.
        on_stdout: called with each decoded piece of stdout as it arrives (may be async). If it
            raises, the command is stopped and the exception propagates.
        model: the model the command is about, for errors.

    Returns:
        The finished command, whatever its exit status.

    Raises:
        LmsNotFoundError: the executable does not exist.
        LmsError: it could not be started (e.g. not executable).
        LmsTimeoutError: it ran longer than ``time_limit``.
    """
    argv = [str(part) for part in command]
    try:
        process = await anyio.open_process(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=None if env is None else dict(env),
        )
    except FileNotFoundError as exc:
        raise LmsNotFoundError(f"`lms` was not found at {argv[0]}", command=argv) from exc
    except OSError as exc:
        raise LmsError(
            f"Could not start `lms` ({argv[0]}): {exc}",
            command=argv,
            hint="Check that the file is the lms executable and that it is executable.",
        ) from exc

    out = _Collector(on_stdout)
    err = _Collector(None)
    try:
        with anyio.move_on_after(time_limit) as deadline:
            async with anyio.create_task_group() as tasks:
                assert process.stdout is not None
                assert process.stderr is not None
                tasks.start_soon(out.pump, process.stdout, tasks.cancel_scope.cancel)
                tasks.start_soon(err.pump, process.stderr, tasks.cancel_scope.cancel)
                await process.wait()
                with anyio.move_on_after(_PIPE_DRAIN_GRACE):
                    await _await_both(out.done, err.done)
                tasks.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            await _stop(process)

    if out.failure is not None:
        raise out.failure
    if deadline.cancelled_caught:
        raise LmsTimeoutError(
            f"`{command_text(argv)}` took longer than {time_limit:g} s and was terminated",
            command=argv,
            stderr=err.text,
            model=model,
        )
    assert process.returncode is not None
    return LmsRun(tuple(argv), process.returncode, out.text, err.text)
