"""Checks of keyword options before anything is sent: names, types and ranges.

A wrong value sent to LM Studio comes back, at best, as a 400 that names neither the option nor
what it accepts (``temperature="hot"`` is a schema error deep in the server's log), at worst it
is silently ignored. So every sampling option is checked here, and the message says what is
allowed. The rule is the one Python's own builtins follow: a value of the wrong type is a
``TypeError``, a value of the right type out of range is a ``ValueError``; a misspelt name is a
``TypeError`` (as for any function) that suggests the closest known name.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

__all__ = ["check_option_names", "check_option_values", "did_you_mean"]


def did_you_mean(name: str, known: Collection[str]) -> str:
    """`` (did you mean `temperature`?)`` for the closest known name, or ``""`` if none is close."""
    import difflib  # only to suggest a name, after a miss

    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""


def check_option_names(given: Collection[str], known: Collection[str], *, what: str) -> None:
    """Raise ``TypeError`` naming every unknown option, each with its closest known name.

    Args:
        given: the option names passed.
        known: the names the call accepts.
        what: how to call them in the message, e.g. ``"option"`` or ``"agent option"``.
    """
    unknown = sorted(set(given) - set(known))
    if not unknown:
        return
    parts = [f"{name!r}{did_you_mean(name, known)}" for name in unknown]
    raise TypeError(
        f"unknown {what}{'s' if len(unknown) > 1 else ''}: {', '.join(parts)}; "
        f"known: {', '.join(sorted(known))}"
    )


def _is_int(value: object) -> bool:
    # bool is an int subclass, but `max_tokens=True` is a mistake, never a count.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return _is_int(value) or isinstance(value, float)


def _number(low: float, high: float | None = None) -> Callable[[str, Any], None]:
    allowed = f"a number >= {low:g}" if high is None else f"a number in [{low:g}, {high:g}]"

    def check(name: str, value: Any) -> None:
        if not _is_number(value):
            raise TypeError(f"{name} must be {allowed}, not {value!r}")
        if value < low or (high is not None and value > high) or value != value:
            raise ValueError(f"{name} must be {allowed}, not {value!r}")

    return check


def _integer(low: int | None, *also: int) -> Callable[[str, Any], None]:
    allowed = "an int" if low is None else f"an int >= {low}"
    if also:
        allowed += " or " + " or ".join(map(str, also))

    def check(name: str, value: Any) -> None:
        if not _is_int(value):
            raise TypeError(f"{name} must be {allowed}, not {value!r}")
        if low is not None and value < low and value not in also:
            raise ValueError(f"{name} must be {allowed}, not {value!r}")

    return check


def _stop(name: str, value: Any) -> None:
    allowed = "a string or a list of strings"
    if isinstance(value, str):
        return
    if not isinstance(value, Sequence) or not all(isinstance(s, str) for s in value):
        raise TypeError(f"{name} must be {allowed}, not {value!r}")


def _fit(name: str, value: Any) -> None:
    if value not in ("error", "trim"):
        raise ValueError(f"{name} must be None, 'error' or 'trim', not {value!r}")


def _model_name(name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a model name (a string), not {value!r}")
    if not value.strip():
        raise ValueError(f"{name} must not be empty")


# Checked when given and not None; None always means "the server's default".
_CHECKS: dict[str, Callable[[str, Any], None]] = {
    "temperature": _number(0),
    "top_p": _number(0, 1),
    "top_k": _integer(0, -1),
    "max_tokens": _integer(1, -1),
    "max_output_tokens": _integer(1, -1),
    "seed": _integer(None),
    "ttl": _integer(1),
    "max_retries": _integer(0),
    "stop": _stop,
    "draft_model": _model_name,
    "fit": _fit,
}


def check_option_values(options: Mapping[str, Any]) -> None:
    """Check the type and range of every known sampling option in ``options``.

    Raises:
        TypeError: a value of the wrong type (``temperature="hot"``).
        ValueError: a value out of range (``top_p=1.5``, ``max_tokens=0``).
    """
    for name, value in options.items():
        check = _CHECKS.get(name)
        if check is not None and value is not None:
            check(name, value)
