"""Checking arguments before ``lms`` runs, and naming what went wrong after.

``lms`` reports failures as prose on stderr with exit status 1; the wording decides the error class.
"""

from __future__ import annotations

import re
import unicodedata

from lmbridge.errors import (
    InsufficientMemoryError,
    LMBridgeError,
    LmsArgumentError,
    LmsError,
    LmsUnreachableError,
    ModelNotFoundError,
    ModelNotLoadedError,
)
from lmbridge.lifecycle.lms.output import strip_ansi
from lmbridge.lifecycle.lms.process import LmsRun, command_text

__all__ = [
    "check_cli_name",
    "check_gpu",
    "check_positive_int",
    "error_for_failed_run",
    "not_loaded_error",
]

_UNREACHABLE = re.compile(
    r"failed to (?:start or )?connect to (?:the )?local lm studio|"
    r"(?:could not|cannot|unable to) connect to lm studio",
    re.I,
)
_WAKING = re.compile(r"waking up lm studio", re.I)
_REQUIRED = re.compile(r"requires approximately\s+(\d+(?:\.\d+)?)\s*(?:GB|GiB|G)\b", re.I)
_MEMORY = re.compile(
    # "Not enough resources to load the model with the current settings" is 0.4.4's wording.
    r"requires approximately|insufficient|not enough (?:\w+ )?(?:memory|resources)|out of memory",
    re.I,
)
_NOT_FOUND = re.compile(r"model not found|no model found|no matching model", re.I)
_CANNOT_FIND_INSTANCE = re.compile(r"cannot find a model with the identifier", re.I)
_GPU_WORDS = frozenset({"off", "max"})


def check_cli_name(value: str, what: str) -> str:
    """Refuse a model key or identifier that ``lms`` would misread.

    A name starting with ``-`` would be taken for an option; control characters (newlines, escape
    codes) have no place in a name and could forge output. Checked before anything runs.

    Args:
        value: the name.
        what: what it is, for the message (``"model key"``, ``"identifier"``).

    Returns:
        ``value`` unchanged.

    Raises:
        LmsError: the name is empty, starts with ``-`` or contains a control character.
    """
    problem = None
    if not value.strip():
        problem = "is empty"
    elif value.startswith("-"):
        problem = "starts with '-' (it would be read as an option)"
    elif any(unicodedata.category(char) == "Cc" for char in value):
        problem = "contains control characters"
    if problem is not None:
        raise LmsArgumentError(
            f"Refusing to pass {what} {value!r} to lms: it {problem}",
            model=value,
            hint=f"Pass the exact {what} as listed by `lms ls` / `lms ps`.",
        )
    return value


def check_positive_int(value: int, name: str, key: str) -> int:
    """``value`` unchanged if it is a positive ``int`` (not a ``bool``); else :class:`LmsArgumentError`."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise LmsArgumentError(f"{name} must be a positive integer, not {value!r}", model=key)
    return value


def check_gpu(gpu: str | float, key: str) -> str:
    """The ``--gpu`` argument for ``gpu``: ``"off"``, ``"max"`` or a fraction in ``0..1``.

    Raises:
        LmsArgumentError: anything else (a ``bool`` too, although it is an ``int``).
    """
    if isinstance(gpu, str):
        word = gpu.strip().lower()
        if word in _GPU_WORDS:
            return word
        try:
            fraction = float(word)
        except ValueError:
            fraction = -1.0
    elif isinstance(gpu, bool):
        fraction = -1.0
    else:
        fraction = float(gpu)
    if not 0.0 <= fraction <= 1.0:
        raise LmsArgumentError(
            f"gpu must be 'off', 'max' or a fraction between 0 and 1, not {gpu!r}", model=key
        )
    return f"{fraction:g}"


def error_for_failed_run(run: LmsRun, *, model: str | None = None) -> LMBridgeError:
    """The typed error for a command that exited non-zero.

    Args:
        run: the finished command.
        model: the model key or identifier it was about, if any.
    """
    stderr = strip_ansi(run.stderr).strip()
    stdout = strip_ansi(run.stdout).strip()
    text = f"{stderr}\n{stdout}"
    shown = command_text(run.command)
    detail = _first_meaningful_line(stderr) or _first_meaningful_line(stdout) or "no output"
    message = f"`{shown}` failed (exit {run.exit_code}): {detail}"
    excerpt = stderr or stdout
    command = run.command
    code = run.exit_code

    if _UNREACHABLE.search(text):
        return LmsUnreachableError(
            message, command=command, exit_code=code, stderr=excerpt, model=model
        )
    if _MEMORY.search(text):
        required = _REQUIRED.search(text)
        return InsufficientMemoryError(
            message,
            required_gb=float(required.group(1)) if required else None,
            command=command,
            exit_code=code,
            stderr=excerpt,
            model=model,
        )
    if _NOT_FOUND.search(text):
        return ModelNotFoundError(
            message,
            model=model,
            body=excerpt,
            hint="Check the exact key with `lms ls` (or `await bridge.models.list()`); "
            "download a model with `lms get <name>`.",
        )
    if _WAKING.search(text):
        return LmsUnreachableError(
            message, command=command, exit_code=code, stderr=excerpt, model=model
        )
    return LmsError(message, command=command, exit_code=code, stderr=excerpt, model=model)


def not_loaded_error(run: LmsRun, identifier: str) -> ModelNotLoadedError | None:
    """For ``lms unload``, which exits 0 even when no instance has the identifier."""
    text = strip_ansi(f"{run.stderr}\n{run.stdout}")
    if not _CANNOT_FIND_INSTANCE.search(text):
        return None
    return ModelNotLoadedError(
        f"`{command_text(run.command)}`: no loaded instance has the identifier {identifier!r}",
        model=identifier,
        body=text.strip(),
        hint="List the loaded instances with `lms ps` (or `await bridge.models.loaded()`).",
    )


def _first_meaningful_line(text: str) -> str | None:
    for line in text.splitlines():
        line = line.strip()
        if line and not _WAKING.search(line):
            return line
    return None
