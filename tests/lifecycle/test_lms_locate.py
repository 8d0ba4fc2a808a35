"""Where LmsCli looks for `lms`, in which order, and how it caches a miss."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmbridge.errors import LmsNotFoundError
from lmbridge.lifecycle.lms import LmsCli


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\necho '[]'\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


@pytest.fixture
def empty_path(tmp_path: Path) -> str:
    (tmp_path / "empty-bin").mkdir()
    return str(tmp_path / "empty-bin")


async def test_explicit_path_wins_over_everything(tmp_path: Path, home: Path) -> None:
    explicit = executable(tmp_path / "custom" / "lms")
    on_path = executable(tmp_path / "bin" / "lms")
    executable(home / ".lmstudio" / "bin" / "lms")
    env = {"PATH": str(on_path.parent), "LMS_PATH": str(on_path)}

    cli = LmsCli(path=explicit, env=env, home_dir=home)

    assert await cli.locate() == str(explicit)


async def test_explicit_path_that_does_not_exist_has_no_fallback(
    tmp_path: Path, home: Path
) -> None:
    on_path = executable(tmp_path / "bin" / "lms")
    cli = LmsCli(path=tmp_path / "nope" / "lms", env={"PATH": str(on_path.parent)}, home_dir=home)

    assert await cli.locate() is None
    with pytest.raises(LmsNotFoundError) as caught:
        await cli.require()
    assert caught.value.hint is not None
    assert str(tmp_path / "nope" / "lms") in caught.value.hint


async def test_explicit_bare_name_is_looked_up_on_path(tmp_path: Path, home: Path) -> None:
    tool = executable(tmp_path / "bin" / "my-lms")
    cli = LmsCli(path="my-lms", env={"PATH": str(tool.parent)}, home_dir=home)
    assert await cli.locate() == str(tool)


async def test_lms_path_env_comes_before_path(tmp_path: Path, home: Path) -> None:
    from_env = executable(tmp_path / "env" / "lms")
    on_path = executable(tmp_path / "bin" / "lms")
    cli = LmsCli(env={"PATH": str(on_path.parent), "LMS_PATH": str(from_env)}, home_dir=home)
    assert await cli.locate() == str(from_env)


async def test_a_stale_lms_path_env_falls_through_to_path(tmp_path: Path, home: Path) -> None:
    on_path = executable(tmp_path / "bin" / "lms")
    env = {"PATH": str(on_path.parent), "LMS_PATH": str(tmp_path / "gone")}
    assert await LmsCli(env=env, home_dir=home).locate() == str(on_path)


async def test_path_comes_before_the_lm_studio_home(tmp_path: Path, home: Path) -> None:
    on_path = executable(tmp_path / "bin" / "lms")
    executable(home / ".lmstudio" / "bin" / "lms")
    cli = LmsCli(env={"PATH": str(on_path.parent)}, home_dir=home)
    assert await cli.locate() == str(on_path)


async def test_home_pointer_comes_first_among_homes(
    tmp_path: Path, home: Path, empty_path: str
) -> None:
    pointed = executable(tmp_path / "elsewhere" / "bin" / "lms")
    (home / ".lmstudio-home-pointer").write_text(f"{pointed.parent.parent}\n")
    executable(home / ".cache" / "lm-studio" / "bin" / "lms")
    executable(home / ".lmstudio" / "bin" / "lms")

    assert await LmsCli(env={"PATH": empty_path}, home_dir=home).locate() == str(pointed)


async def test_old_cache_home_comes_before_dot_lmstudio(home: Path, empty_path: str) -> None:
    old = executable(home / ".cache" / "lm-studio" / "bin" / "lms")
    executable(home / ".lmstudio" / "bin" / "lms")
    assert await LmsCli(env={"PATH": empty_path}, home_dir=home).locate() == str(old)


async def test_dot_lmstudio_and_a_pointer_to_nowhere(
    tmp_path: Path, home: Path, empty_path: str
) -> None:
    (home / ".lmstudio-home-pointer").write_text(str(tmp_path / "gone"))
    fallback = executable(home / ".lmstudio" / "bin" / "lms")
    assert await LmsCli(env={"PATH": empty_path}, home_dir=home).locate() == str(fallback)


async def test_a_file_that_is_not_executable_is_skipped(home: Path, empty_path: str) -> None:
    not_runnable = home / ".lmstudio" / "bin" / "lms"
    not_runnable.parent.mkdir(parents=True)
    not_runnable.write_text("")
    assert await LmsCli(env={"PATH": empty_path}, home_dir=home).locate() is None


async def test_not_found_lists_where_it_looked(home: Path, empty_path: str) -> None:
    cli = LmsCli(env={"PATH": empty_path}, home_dir=home)
    with pytest.raises(LmsNotFoundError) as caught:
        await cli.require()
    message = str(caught.value)
    assert "PATH" in message
    assert str(home / ".lmstudio" / "bin" / "lms") in message
    assert "lms_path" in message  # the default hint says how to point at it


async def test_a_miss_is_cached_until_the_recheck_delay(home: Path, empty_path: str) -> None:
    cli = LmsCli(env={"PATH": empty_path}, home_dir=home, recheck_missing_after=3600)
    assert await cli.locate() is None
    executable(home / ".lmstudio" / "bin" / "lms")
    assert await cli.locate() is None  # still within the delay

    eager = LmsCli(env={"PATH": empty_path}, home_dir=home, recheck_missing_after=0)
    (home / ".lmstudio" / "bin" / "lms").unlink()
    assert await eager.locate() is None
    installed = executable(home / ".lmstudio" / "bin" / "lms")
    assert await eager.locate() == str(installed)


async def test_a_hit_is_cached(home: Path, empty_path: str) -> None:
    installed = executable(home / ".lmstudio" / "bin" / "lms")
    cli = LmsCli(env={"PATH": empty_path}, home_dir=home)
    assert await cli.locate() == str(installed)
    executable(home / ".cache" / "lm-studio" / "bin" / "lms")
    assert await cli.locate() == str(installed)
