"""The public surface: exports, docstrings, typing marker, cheap import."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import lmbridge


@pytest.mark.parametrize("name", [n for n in lmbridge.__all__ if n != "__version__"])
def test_every_export_resolves_and_is_documented(name: str) -> None:
    value = getattr(lmbridge, name)
    if inspect.isclass(value) or inspect.isfunction(value):
        assert (value.__doc__ or "").strip(), f"{name} has no docstring"


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        lmbridge.no_such_name  # noqa: B018


def test_package_ships_py_typed() -> None:
    assert (Path(lmbridge.__file__).parent / "py.typed").is_file()


def test_import_is_cheap() -> None:
    code = "import sys, lmbridge; print(','.join(m for m in ('httpx', 'pydantic', 'anyio', 'mcp') if m in sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "", f"import lmbridge pulled in {loaded}"


def test_public_methods_take_options_by_keyword_only() -> None:
    for method in (
        lmbridge.Bridge.chat,
        lmbridge.Bridge.embed,
        lmbridge.Bridge.complete,
        lmbridge.Bridge.respond,
        lmbridge.Bridge.run_agent,
        lmbridge.SyncBridge.chat,
        lmbridge.SyncBridge.embed,
        lmbridge.SyncBridge.run_agent,
    ):
        positional = [
            p.name
            for p in inspect.signature(method).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        assert len(positional) <= 3, f"{method.__name__} takes {positional} positionally"


async def test_agent_options_are_checked_before_anything_runs() -> None:
    async with lmbridge.Bridge("http://127.0.0.1:9") as bridge:
        with pytest.raises(TypeError, match="max_round"):
            await bridge.run_agent("m", "task", max_round=3)  # type: ignore[call-arg]
        with pytest.raises(ValueError, match="max_rounds"):
            await bridge.run_agent("m", "task", max_rounds=0)


async def test_a_misspelt_chat_option_is_a_type_error_before_sending() -> None:
    async with lmbridge.Bridge("http://127.0.0.1:9", max_retries=0) as bridge:
        with pytest.raises(TypeError, match="temprature"):
            await bridge.chat("m", "hi", temprature=0.1)  # type: ignore[call-overload]
        with pytest.raises(TypeError, match="max_token"):
            await bridge.complete("m", "hi", max_token=3)  # type: ignore[call-arg]
