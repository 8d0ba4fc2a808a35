"""The ``lms`` command-line tool, driven as an async subprocess.

:class:`LmsCli` runs one ``lms`` command per call and returns typed results. It does not decide
anything: resolving exact keys, checking what is already loaded and verifying a load are the job of
the model manager above it. It only guarantees that each command runs safely (argument lists, stdin
closed, a time budget, no process left behind) and that every failure becomes a typed error.

The load-progress callback (:data:`ProgressCallback`, :func:`report_progress`) is defined here
although the REST and JIT loaders use it too: this is the lowest layer that calls it, so the ``lms``
package stays free of imports from the model manager above it.
"""

from __future__ import annotations

import functools
import inspect
import os
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar

from pydantic import TypeAdapter, ValidationError

from lmbridge.errors import LmsArgumentError, LmsError, LmsNotFoundError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from lmbridge.lifecycle.lms.estimate import LmsEstimate
    from lmbridge.lifecycle.lms.locate import LmsSearch
    from lmbridge.lifecycle.lms.process import LmsRun
    from lmbridge.lifecycle.lms.types import (
        LmsInstance,
        LmsLoadOutcome,
        LmsModel,
        LmsServerStatus,
    )

# The parts below are imported where they are used: a Bridge makes an LmsCli, but most never run
# `lms`, and the parts (pydantic models, regular expressions, subprocess) cost ~4 ms (#18).

__all__ = ["LmsCli", "ProgressCallback", "report_progress"]

_T = TypeVar("_T")
_NOTHING_LOADED = re.compile(r"no models? (?:are |is )?(?:currently )?loaded", re.I)
_STATUS_TEXT_PORT = re.compile(r"running on port\s+(\d+)", re.I)
_STATUS_TEXT_STOPPED = re.compile(r"\bnot running\b|\bis off\b|\bstopped\b", re.I)


@functools.cache
def _server_status_adapter() -> TypeAdapter[LmsServerStatus]:
    from lmbridge.lifecycle.lms.types import LmsServerStatus

    return TypeAdapter(LmsServerStatus)


ProgressCallback = Callable[[float], object]
"""Called with a load's progress in ``0..1``; it may return an awaitable, which is awaited."""


async def report_progress(on_progress: ProgressCallback | None, fraction: float) -> None:
    """Tell ``on_progress`` (when given) that the load reached ``fraction``.

    Every loader reports through this one function (``lms load`` here, the REST and JIT loads in
    :mod:`~lmbridge.lifecycle.loaders`), so callbacks behave the same whichever loads: an awaitable
    it returns is awaited, so an async callback finishes before the load goes on; an exception it
    raises propagates and stops the load.
    """
    if on_progress is None:
        return
    result = on_progress(fraction)
    if inspect.isawaitable(result):
        await result


class LmsCli:
    """Runs the ``lms`` CLI as an async subprocess.

    Every command runs from an argument list with stdin closed and a time budget; on timeout or
    cancellation the process is terminated (then killed) and reaped before the call returns.

    Model keys and identifiers that start with ``-`` or contain control characters are refused with
    :class:`~lmbridge.errors.LmsError` before anything runs.

    Args:
        path: the ``lms`` executable (a path, or a command name looked up on ``PATH``). When given,
            no other location is tried.
        command_timeout: seconds allowed for each command except ``load`` (``lms`` may first wake
            LM Studio up, which can take up to a minute).
        recheck_missing_after: when ``lms`` was not found, seconds before looking again.
        env: the environment for locating (``LMS_PATH``, ``PATH``) and running ``lms``. It replaces
            this process's environment, as ``subprocess`` does; ``None`` uses ``os.environ``.
        home_dir: the home directory holding ``.lmstudio-home-pointer``, ``.lmstudio`` and
            ``.cache/lm-studio``; defaults to the user's home.
    """

    def __init__(
        self,
        *,
        path: str | os.PathLike[str] | None = None,
        command_timeout: float = 60.0,
        recheck_missing_after: float = 30.0,
        env: Mapping[str, str] | None = None,
        home_dir: Path | None = None,
    ) -> None:
        self._explicit_path = path
        self._command_timeout = command_timeout
        self._recheck_missing_after = recheck_missing_after
        self._env = None if env is None else dict(env)
        self._home_dir = home_dir
        self._found: str | None = None
        self._missing_at: float | None = None
        self._last_search: LmsSearch | None = None

    def __repr__(self) -> str:
        return f"LmsCli(path={self._found or self._explicit_path!r})"

    # --- locating ---------------------------------------------------------------------------

    async def locate(self) -> str | None:
        """Find the ``lms`` executable.

        A found path is remembered. A miss is remembered for ``recheck_missing_after`` seconds,
        then the search runs again (LM Studio may have been installed meanwhile).

        Returns:
            The executable's absolute path, or ``None``.
        """
        if self._found is not None:
            return self._found
        import anyio.to_thread

        from lmbridge.lifecycle.lms.locate import find_lms

        now = anyio.current_time()
        if self._missing_at is not None and now - self._missing_at < self._recheck_missing_after:
            return None
        search = await anyio.to_thread.run_sync(
            partial(
                find_lms,
                explicit=self._explicit_path,
                env=os.environ if self._env is None else self._env,
                home_dir=Path.home() if self._home_dir is None else self._home_dir,
            )
        )
        self._last_search = search
        self._found = search.found
        self._missing_at = None if search.found else anyio.current_time()
        return search.found

    async def require(self) -> str:
        """The ``lms`` executable's path.

        Raises:
            LmsNotFoundError: ``lms`` is not installed where it was looked for.
        """
        found = await self.locate()
        if found is not None:
            return found
        searched = self._last_search.searched if self._last_search else ()
        hint = None
        if self._explicit_path is not None:
            hint = (
                f"The lms_path given ({os.fspath(self._explicit_path)}) is not an executable file."
            )
        raise LmsNotFoundError(
            "The `lms` CLI was not found"
            + (f" (looked in: {', '.join(searched)})" if searched else ""),
            hint=hint,
        )

    # --- commands ---------------------------------------------------------------------------

    async def ps(self) -> list[LmsInstance]:
        """The loaded model instances (``lms ps --json``): LLMs first, then embedding models.

        Raises:
            LmsError: (or a subclass) the command failed or printed no JSON list.
        """
        from lmbridge.lifecycle.lms.output import find_json, strip_ansi
        from lmbridge.lifecycle.lms.types import instance_list_adapter

        run = await self._checked(["ps", "--json"])
        if find_json(run.stdout, "array") is None and _NOTHING_LOADED.search(
            strip_ansi(run.stdout)
        ):
            return []  # some builds print a sentence instead of `[]`
        return _parse(run, "array", instance_list_adapter())

    async def ls(self) -> list[LmsModel]:
        """The downloaded models (``lms ls --json``).

        Raises:
            LmsError: (or a subclass) the command failed or printed no JSON list.
        """
        from lmbridge.lifecycle.lms.types import model_list_adapter

        run = await self._checked(["ls", "--json"])
        return _parse(run, "array", model_list_adapter())

    async def load(
        self,
        key: str,
        *,
        ttl: int | None = None,
        context_length: int | None = None,
        gpu: str | float | None = None,
        identifier: str | None = None,
        parallel: int | None = None,
        on_progress: ProgressCallback | None = None,
        timeout: float = 600.0,
    ) -> LmsLoadOutcome:
        """Load a NEW instance of ``key`` (``lms load <key> -y ...``).

        ``lms`` matches keys fuzzily and always creates another instance (``key:2``) when one is
        already loaded: pass an exact key from :meth:`ls`, and check :meth:`ps` first.

        Args:
            key: the exact model key.
            ttl: idle seconds before LM Studio unloads it (``--ttl``); ``None``: never.
            context_length: context length to load with (``-c``).
            gpu: GPU offload: ``"off"``, ``"max"`` or a fraction ``0..1`` (``--gpu``).
            identifier: the identifier to give the instance (``--identifier``).
            parallel: the most predictions it runs at once (``--parallel``).
            on_progress: called with load progress in ``0..1`` as the spinner reports it, strictly
                increasing, ending with ``1.0`` on success. May return an awaitable, which is
                awaited. If it raises, the load is stopped and the exception propagates.
            timeout: seconds before the load is abandoned and the process terminated.

        Returns:
            What ``lms`` reported: the identifier, the load time and the size (each may be
            ``None``).

        Raises:
            LmsError: a bad argument (refused before running), or the load failed.
            ModelNotFoundError: ``lms`` knows no model by that key.
            InsufficientMemoryError: the model does not fit in free memory.
            LmsUnreachableError: LM Studio could not be started or reached.
            LmsTimeoutError: the load took longer than ``timeout``.
        """
        from lmbridge.lifecycle.lms.failures import check_cli_name, check_gpu, check_positive_int
        from lmbridge.lifecycle.lms.output import ProgressParser, parse_load_outcome

        args = ["load", check_cli_name(key, "model key"), "-y"]
        if ttl is not None:
            args += ["--ttl", str(check_positive_int(ttl, "ttl", key))]
        if context_length is not None:
            args += ["-c", str(check_positive_int(context_length, "context_length", key))]
        if gpu is not None:
            args += ["--gpu", check_gpu(gpu, key)]
        if identifier is not None:
            args += ["--identifier", check_cli_name(identifier, "identifier")]
        if parallel is not None:
            args += ["--parallel", str(check_positive_int(parallel, "parallel", key))]

        progress = ProgressParser()

        async def on_stdout(text: str) -> None:
            for fraction in progress.feed(text):
                await report_progress(on_progress, fraction)

        run = await self._checked(args, time_limit=timeout, on_stdout=on_stdout, model=key)
        if progress.last < 1.0:
            await report_progress(on_progress, 1.0)
        return parse_load_outcome(run.stderr, run.stdout)

    async def estimate(
        self, key: str, *, context_length: int | None = None, gpu: str | float | None = None
    ) -> LmsEstimate:
        """LM Studio's memory estimate for loading ``key`` (``lms load <key> -y --estimate-only``,
        lms 0.3.27+); nothing is loaded. See :mod:`~lmbridge.lifecycle.lms.estimate`.

        Raises:
            LmsError: (or a subclass) the command failed (e.g. an lms without ``--estimate-only``).
        """
        from lmbridge.lifecycle.lms.estimate import parse_estimate
        from lmbridge.lifecycle.lms.failures import check_cli_name, check_gpu, check_positive_int

        args = ["load", check_cli_name(key, "model key"), "-y", "--estimate-only"]
        if context_length is not None:
            args += ["-c", str(check_positive_int(context_length, "context_length", key))]
        if gpu is not None:
            args += ["--gpu", check_gpu(gpu, key)]
        run = await self._checked(args, model=key)
        return parse_estimate(run.stderr, run.stdout)

    async def total_memory(self) -> int | None:
        """The machine's total memory in bytes, as LM Studio's hardware survey reports it
        (``lms runtime survey --json``); ``None`` when it reports none.

        Raises:
            LmsError: (or a subclass) the command failed (e.g. an lms without ``runtime survey``).
        """
        from lmbridge.lifecycle.lms.estimate import parse_total_memory

        run = await self._checked(["runtime", "survey", "--json"])
        return parse_total_memory(run.stdout)

    async def get(self, name: str, *, timeout: float) -> None:
        """Download a model (``lms get <name> -y``): a catalog key, ``key@quantization`` or a
        Hugging Face link. ``lms`` exits 0 when it is downloaded, or was already.

        Raises:
            LmsError: (or a subclass) the name was refused, or the download failed.
            LmsTimeoutError: it took longer than ``timeout`` seconds (``lms`` was terminated).
        """
        from lmbridge.lifecycle.lms.failures import check_cli_name

        await self._checked(
            ["get", check_cli_name(name, "model"), "-y"], time_limit=timeout, model=name
        )

    async def unload(self, identifier: str | None = None, *, all_instances: bool = False) -> None:
        """Unload one instance (``lms unload <identifier>``) or all (``lms unload --all``).

        Unloading nothing is not an error when ``all_instances`` is set. This does not verify the
        result against ``ps``.

        Args:
            identifier: the instance's identifier, e.g. ``"qwen/qwen3-4b:2"``.
            all_instances: unload every loaded instance instead.

        Raises:
            LmsError: neither or both of ``identifier`` and ``all_instances`` were given, the
                identifier was refused, or the command failed.
            ModelNotLoadedError: ``lms`` said no instance has that identifier.
        """
        if (identifier is None) == (not all_instances):
            raise LmsArgumentError(
                "unload() needs exactly one of an identifier or all_instances=True",
                model=identifier,
            )
        if identifier is None:
            await self._checked(["unload", "--all"])
            return
        from lmbridge.lifecycle.lms.failures import check_cli_name, not_loaded_error

        run = await self._checked(
            ["unload", check_cli_name(identifier, "identifier")], model=identifier
        )
        error = not_loaded_error(run, identifier)
        if error is not None:
            raise error

    async def server_status(self) -> LmsServerStatus:
        """Whether LM Studio's HTTP server runs, and on which port (``lms server status --json``).

        Raises:
            LmsError: (or a subclass) the command failed or its output made no sense.
        """
        from lmbridge.lifecycle.lms.output import find_json, strip_ansi
        from lmbridge.lifecycle.lms.types import LmsServerStatus

        run = await self._checked(["server", "status", "--json"])
        if find_json(run.stdout, "object") is not None:
            return _parse(run, "object", _server_status_adapter())
        # Old builds without --json support: read the sentence.
        text = strip_ansi(f"{run.stdout}\n{run.stderr}")
        port = _STATUS_TEXT_PORT.search(text)
        if port:
            return LmsServerStatus(running=True, port=int(port.group(1)))
        if _STATUS_TEXT_STOPPED.search(text):
            return LmsServerStatus(running=False)
        raise _unparseable(run, "JSON object")

    # --- plumbing ---------------------------------------------------------------------------

    async def _checked(
        self,
        args: list[str],
        *,
        time_limit: float | None = None,
        on_stdout: Callable[[str], object] | None = None,
        model: str | None = None,
    ) -> LmsRun:
        """Run ``lms <args>``; raise the typed error if it exits non-zero."""
        from lmbridge.lifecycle.lms.failures import error_for_failed_run
        from lmbridge.lifecycle.lms.process import run_lms

        executable = await self.require()
        try:
            run = await run_lms(
                [executable, *args],
                time_limit=self._command_timeout if time_limit is None else time_limit,
                env=self._env,
                on_stdout=on_stdout,
                model=model,
            )
        except LmsNotFoundError:
            self._forget()
            raise
        if run.exit_code != 0:
            raise error_for_failed_run(run, model=model)
        return run

    def _forget(self) -> None:
        """The executable vanished: search again next time."""
        self._found = None
        self._missing_at = None


def _parse(run: LmsRun, kind: Literal["array", "object"], adapter: TypeAdapter[_T]) -> _T:
    from lmbridge.lifecycle.lms.output import find_json
    from lmbridge.lifecycle.lms.process import command_text

    text = find_json(run.stdout, kind)
    if text is None:
        raise _unparseable(run, "JSON array" if kind == "array" else "JSON object")
    try:
        return adapter.validate_json(text.encode())
    except ValidationError as exc:
        raise LmsError(
            f"`{command_text(run.command)}` printed JSON of an unexpected shape: "
            f"{exc.error_count()} problem(s), first: {exc.errors()[0]['msg']}",
            command=run.command,
            exit_code=run.exit_code,
            stderr=text,
            hint="This lms version may be newer or older than lmbridge expects; please report it.",
        ) from exc


def _unparseable(run: LmsRun, expected: str) -> LmsError:
    from lmbridge.lifecycle.lms.output import strip_ansi
    from lmbridge.lifecycle.lms.process import command_text

    shown = strip_ansi(run.stdout).strip()
    return LmsError(
        f"`{command_text(run.command)}` printed no {expected}"
        + (f": {shown[:200]!r}" if shown else " on stdout"),
        command=run.command,
        exit_code=run.exit_code,
        stderr=run.stderr,
        hint="This lms version may be too old for --json output; update LM Studio.",
    )
