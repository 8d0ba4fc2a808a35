"""Every Python block in the README and the docs runs, against the simulated LM Studio.

``LMBRIDGE_BASE_URL`` points at a simulator served on a loopback port, so ``Bridge()`` in a block
reaches it as it would reach LM Studio: the blocks run as written. See :mod:`tests.docs.blocks`
for how a block is marked to be skipped.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lmbridge.testing import SimulatedLMStudio
from tests.docs.blocks import PAGES, ROOT, Block, blocks
from tests.served import served_in_thread

CHAT_MODELS = ["qwen/qwen3-4b", "google/gemma-3-4b"]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    sim = SimulatedLMStudio(loaded=CHAT_MODELS)
    with served_in_thread(sim) as url:
        yield url


def run_block(block: Block, namespace: dict[str, Any]) -> None:
    code = compile(
        block.code, block.name, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
    )
    if code.co_flags & inspect.CO_COROUTINE:
        asyncio.run(eval(code, namespace))  # top-level await: the block is one coroutine
    else:
        exec(code, namespace)


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p)], ids=page_id)
def test_the_python_blocks_of_a_page_run(
    page: Path, server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LMBRIDGE_BASE_URL", server)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    ran = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a simulator answering any name may warn of a mismatch
        for block in blocks(page):
            if block.skip is None:
                try:
                    run_block(block, namespace)
                except Exception as error:
                    raise AssertionError(f"the block at {block.name} failed: {error!r}") from error
                ran += 1
    if ran == 0:
        pytest.skip("every block of this page is marked skip")


def test_the_reader_finds_blocks_and_skip_marks() -> None:
    # Guards the reader itself: one that found nothing would make the test above pass.
    readme = blocks(ROOT / "README.md")
    assert readme and "asyncio.run(main())" in readme[0].code and readme[0].skip is None
    reasons = [b.skip for page in PAGES for b in blocks(page) if b.skip]
    assert all(len(reason) > 5 for reason in reasons)
