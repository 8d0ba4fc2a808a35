"""How the command line writes: tables, a load's progress bar, JSON for scripts, errors.

Tables and the progress bar use ``rich`` when it is installed (the ``cli`` extra) and plain text
otherwise, so ``pip install lmbridge`` alone still gives a working command line. Either way colour
goes only to a terminal and never under ``NO_COLOR``; a table written to a pipe is never cut to a
terminal's width.
"""

from __future__ import annotations

import importlib
import io
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any, TextIO

from lmbridge.errors import APIConnectionError, AuthenticationError, LMBridgeError, ModelError
from lmbridge.terminal import Style, is_terminal, wants_color

__all__ = ["Output", "load_rich", "shell_hint"]

_PLAIN_BAR_WIDTH = 30
_PIPE_WIDTH = 10_000  # rich wraps to 80 columns off a terminal: a pipe gets whole lines instead


def load_rich() -> ModuleType | None:
    """The ``rich`` package, or ``None`` when it is not installed."""
    try:
        return importlib.import_module("rich")
    except ImportError:
        return None


def shell_hint(error: LMBridgeError) -> str | None:
    """The shell's way to act on ``error``: the library's hints speak of ``Bridge(...)``."""
    if isinstance(error, APIConnectionError):
        return "From the shell: --base-url URL or $LMBRIDGE_BASE_URL; `lmbridge doctor` checks."
    if isinstance(error, AuthenticationError):
        return "From the shell: set $LM_API_TOKEN (or --token T)."
    if isinstance(error, ModelError):
        return "From the shell: `lmbridge models` lists the models, `lmbridge ps` the loaded ones."
    return None


class Output:
    """The command line's two streams and how to write to each.

    Args:
        stdout: results (tables, JSON, replies).
        stderr: errors, hints, progress and reasoning.
        rich: the ``rich`` package to draw with, or ``None`` for plain text.
    """

    def __init__(self, *, stdout: TextIO, stderr: TextIO, rich: ModuleType | None) -> None:
        self.stdout = stdout
        self.stderr = stderr
        self._rich = rich
        self.style = Style(color=wants_color(stdout))
        self.err_style = Style(color=wants_color(stderr))

    def line(self, text: str = "") -> None:
        """A line of results on stdout."""
        print(text, file=self.stdout, flush=True)

    def note(self, text: str) -> None:
        """A line for the person on stderr (kept out of piped results)."""
        print(text, file=self.stderr, flush=True)

    def json(self, data: Any) -> None:
        """``data`` as indented JSON on stdout."""
        json.dump(data, self.stdout, indent=2, ensure_ascii=False)
        self.stdout.write("\n")
        self.stdout.flush()

    def error(self, error: LMBridgeError) -> None:
        """An error's message and hint on stderr (no traceback: the hint says what to do)."""
        self.note(self.err_style.red("error: ") + error.message)
        for hint in (error.hint, shell_hint(error)):
            if hint:
                self.note(self.err_style.yellow("hint: ") + hint)

    def usage_error(self, message: str) -> None:
        """A usage problem found after parsing (exit code 2), worded like argparse's own."""
        self.note(f"lmbridge: error: {message}")

    # --- tables ---------------------------------------------------------------------------

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """Rows under column headings on stdout."""
        if self._rich is not None:
            self._rich_table(columns, rows)
        else:
            self._plain_table(columns, rows)

    def _rich_console(self, stream: TextIO) -> Any:
        console_module = importlib.import_module("rich.console")
        terminal = is_terminal(stream)
        return console_module.Console(
            file=stream,
            highlight=False,
            no_color=not wants_color(stream),
            width=None if terminal else _PIPE_WIDTH,
        )

    def _rich_table(self, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        table_module = importlib.import_module("rich.table")
        box = importlib.import_module("rich.box")
        table = table_module.Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        for column in columns:
            table.add_column(column, no_wrap=True)
        for row in rows:
            table.add_row(*row)
        if is_terminal(self.stdout):
            self._rich_console(self.stdout).print(table)
            return
        # rich pads every cell to its column's width; a pipe gets lines without trailing blanks.
        rendered = io.StringIO()
        self._rich_console(rendered).print(table)
        for line in rendered.getvalue().splitlines():
            self.line(line.rstrip())

    def _plain_table(self, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        widths = [
            max(len(column), *(len(row[i]) for row in rows)) for i, column in enumerate(columns)
        ]

        def render(cells: Sequence[str]) -> str:
            return "  ".join(
                cell.ljust(width) for cell, width in zip(cells, widths, strict=True)
            ).rstrip()

        self.line(self.style.bold(render(columns)))
        for row in rows:
            self.line(render(row))

    # --- progress -------------------------------------------------------------------------

    @contextmanager
    def progress(self, label: str) -> Iterator[Callable[[float], None]]:
        """A progress bar on stderr while the block runs; yields the callback taking ``0..1``.

        On a terminal the bar is redrawn in place; off one only the final state is written, so a
        log holds one line, not hundreds.
        """
        if self._rich is not None:
            with self._rich_progress(label) as update:
                yield update
        else:
            with self._plain_progress(label) as update:
                yield update

    @contextmanager
    def _rich_progress(self, label: str) -> Iterator[Callable[[float], None]]:
        progress_module = importlib.import_module("rich.progress")
        progress = progress_module.Progress(
            progress_module.TextColumn("{task.description}"),
            progress_module.BarColumn(),
            progress_module.TaskProgressColumn(),
            progress_module.TimeElapsedColumn(),
            console=self._rich_console(self.stderr),
        )
        with progress:
            task = progress.add_task(label, total=1.0)

            def update(fraction: float) -> None:
                progress.update(task, completed=min(max(fraction, 0.0), 1.0))

            yield update

    @contextmanager
    def _plain_progress(self, label: str) -> Iterator[Callable[[float], None]]:
        live = is_terminal(self.stderr)
        started = time.monotonic()
        last = 0.0

        def draw(fraction: float) -> str:
            filled = round(fraction * _PLAIN_BAR_WIDTH)
            bar = "#" * filled + "-" * (_PLAIN_BAR_WIDTH - filled)
            return f"{label} [{bar}] {fraction:4.0%} {time.monotonic() - started:5.1f}s"

        def update(fraction: float) -> None:
            nonlocal last
            last = min(max(fraction, 0.0), 1.0)
            if live:
                self.stderr.write("\r" + draw(last))
                self.stderr.flush()

        try:
            yield update
        finally:
            if live:
                self.stderr.write("\r" + draw(last) + "\n")
            elif last > 0:
                self.stderr.write(draw(last) + "\n")
            self.stderr.flush()
