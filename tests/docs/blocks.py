"""The Python blocks of the README and of ``docs/``, read from the Markdown.

Every ```` ```python ```` block is meant to run, unless the line before its fence says why not:
``<!-- test: skip — needs a live LM Studio -->`` (the reason is required). The blocks of one
page run in order in one namespace, like a notebook's cells, so a page may build on an earlier
block; top-level ``await`` is allowed, as in a notebook or ``python -m asyncio``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

_FENCE = re.compile(r"^(?P<indent> *)```(?P<info>[^\n`]*)$")
_SKIP = re.compile(r"^<!--\s*test:\s*skip\s*[—:-]\s*(?P<reason>\S.*?)\s*-->$")
_MARK = re.compile(r"^<!--\s*test:")


@dataclass(frozen=True)
class Block:
    """One fenced Python block."""

    page: Path
    line: int  # of the opening fence, from 1
    code: str
    skip: str | None  # the reason given, when marked skip

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The Python blocks of ``page``, in order.

    Raises:
        ValueError: a ``<!-- test: ... -->`` marker that is not a skip with a reason.
    """
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if not match or not match["info"].strip():
            index += 1
            continue
        start, indent, language = index, match["indent"], match["info"].split()[0]
        index += 1
        body: list[str] = []
        while index < len(lines) and lines[index].strip() != "```":
            body.append(lines[index][len(indent) :])
            index += 1
        index += 1
        if language not in ("python", "py"):
            continue
        before = lines[start - 1].strip() if start else ""
        skip = _SKIP.match(before)
        if _MARK.match(before) and not skip:
            raise ValueError(f"{page}:{start}: write `<!-- test: skip — why -->`, not {before!r}")
        found.append(
            Block(page, start + 1, "\n".join(body) + "\n", skip["reason"] if skip else None)
        )
    return found
