"""Finding the ``lms`` executable.

LM Studio bootstraps ``lms`` into ``<home>/bin`` and often leaves it off ``PATH``. The search order
is:

1. an explicit path (``LmsCli(path=...)`` / ``Bridge(lms_path=...)``): used alone, no fallback;
2. the ``LMS_PATH`` environment variable (skipped when it names nothing runnable);
3. ``lms`` on ``PATH``;
4. ``<home>/bin/lms`` where home is the directory named in ``~/.lmstudio-home-pointer``, then
   ``~/.cache/lm-studio`` (old installs), then ``~/.lmstudio``.

These functions touch the filesystem and block: call them through ``anyio.to_thread.run_sync``.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["HOME_POINTER_FILE", "LmsSearch", "find_lms", "lms_home_candidates"]

HOME_POINTER_FILE = ".lmstudio-home-pointer"
_EXECUTABLE_NAMES = ("lms.exe", "lms") if sys.platform == "win32" else ("lms",)


@dataclass(frozen=True)
class LmsSearch:
    """The result of one search.

    Attributes:
        found: the executable's absolute path, or ``None``.
        searched: the places looked at, in order, for error messages.
    """

    found: str | None
    searched: tuple[str, ...]


def _runnable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _resolve(name: str, search_path: str) -> str | None:
    """Check a path with a directory part as is; look a bare name up on ``search_path``."""
    has_directory = os.sep in name or (os.altsep is not None and os.altsep in name)
    if has_directory or name.startswith("~"):
        candidate = Path(name).expanduser()
        return str(candidate.absolute()) if _runnable(candidate) else None
    found = shutil.which(name, path=search_path)
    return str(Path(found).absolute()) if found else None


def _read_home_pointer(home_dir: Path) -> Path | None:
    try:
        text = (home_dir / HOME_POINTER_FILE).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError, PermissionError, UnicodeDecodeError):
        return None
    return Path(text).expanduser() if text else None


def lms_home_candidates(home_dir: Path) -> list[Path]:
    """LM Studio home directories to try, in order (the pointer file's target first)."""
    candidates = []
    pointed = _read_home_pointer(home_dir)
    if pointed is not None:
        candidates.append(pointed)
    candidates += [home_dir / ".cache" / "lm-studio", home_dir / ".lmstudio"]
    return candidates


def find_lms(
    *,
    explicit: str | os.PathLike[str] | None,
    env: Mapping[str, str],
    home_dir: Path,
) -> LmsSearch:
    """Search for ``lms`` in the documented order (blocking).

    Args:
        explicit: a path or bare command name given by the user; when set, nothing else is tried.
        env: the environment to read ``LMS_PATH`` and ``PATH`` from.
        home_dir: the user's home directory.

    Returns:
        Where ``lms`` is, if anywhere, and where it was looked for.
    """
    search_path = env.get("PATH", os.defpath)
    if explicit is not None:
        name = os.fspath(explicit)
        return LmsSearch(_resolve(name, search_path), (name,))

    searched: list[str] = []
    env_path = env.get("LMS_PATH")
    if env_path:
        searched.append(f"LMS_PATH={env_path}")
        found = _resolve(env_path, search_path)
        if found:
            return LmsSearch(found, tuple(searched))

    searched.append("PATH")
    for name in _EXECUTABLE_NAMES:
        found = shutil.which(name, path=search_path)
        if found:
            return LmsSearch(str(Path(found).absolute()), tuple(searched))

    for lms_home in lms_home_candidates(home_dir):
        for name in _EXECUTABLE_NAMES:
            candidate = lms_home / "bin" / name
            searched.append(str(candidate))
            if _runnable(candidate):
                return LmsSearch(str(candidate.absolute()), tuple(searched))
    return LmsSearch(None, tuple(searched))
