"""A ready-made load-progress display: a bar with ``tqdm`` or ``rich``, plain lines otherwise.

``bridge.models.ensure_loaded(name, on_progress="auto")`` (or
``on_progress=progress_display()``) shows it. LM Studio's REST and JIT loads report nothing
until they are done, and the progress callback stays honest about that (it gets ``1.0`` at the
end and no invented steps); but a display should not sit blank meanwhile, so loaders also tell
an object with a ``load_started`` method (:class:`LoadWatcher`) that a load began and how.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from typing import Any, Literal, Protocol, TextIO, runtime_checkable

__all__ = ["LoadWatcher", "ProgressDisplay", "ProgressStyle", "announce_load", "progress_display"]

_TQDM_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {elapsed}"

ProgressStyle = Literal["auto", "tqdm", "rich", "text"]
"""How to show progress; ``"auto"``: ``tqdm`` if installed, else ``rich``, else text."""


@runtime_checkable
class LoadWatcher(Protocol):
    """A progress callback that also wants to know when a load starts, and how it loads."""

    def load_started(self, model: str, via: str) -> None:
        """A load of ``model`` began (``via``: ``"lms load"``, ``"the REST API"``, ``"JIT"``)."""


def announce_load(on_progress: object, model: str, via: str) -> None:
    """Tell ``on_progress`` that a load began, if it is a :class:`LoadWatcher`."""
    if isinstance(on_progress, LoadWatcher):
        on_progress.load_started(model, via)


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


class ProgressDisplay:
    """A load-progress callback that draws what it is told: pass it as ``on_progress``.

    Created by :func:`progress_display`. Called with fractions in ``0..1``; ``1.0`` ends it.
    One display serves one load; a new ``ensure_loaded`` call wants a new one.

    Attributes:
        style: the style chosen (``"tqdm"``, ``"rich"`` or ``"text"``).
        fractions: every fraction reported so far.
    """

    def __init__(self, label: str | None, *, style: ProgressStyle, file: TextIO | None) -> None:
        if style == "auto":
            style = "tqdm" if _installed("tqdm") else "rich" if _installed("rich") else "text"
        self.style: ProgressStyle = style
        self.fractions: list[float] = []
        self._label = label
        self._file = file
        self._bar: Any = None
        self._started: float | None = None
        self._done = False

    def _say(self, text: str) -> None:
        print(text, file=self._file or sys.stdout, flush=True)

    def load_started(self, model: str, via: str) -> None:
        """Show the bar (or a line) at once, before the first fraction arrives."""
        self._label = self._label or model
        self._started = time.monotonic()
        self._open(f"loading {self._label} via {via}")

    def _open(self, description: str) -> None:
        if self._bar is not None or self.style == "text":
            if self._bar is None and self._started is not None:
                self._say(f"{description}…")
            return
        if self.style == "tqdm":
            # tqdm.auto draws a notebook widget, which needs ipywidgets; without it, it warns
            # and falls back anyway: take the text bar directly.
            if _installed("ipywidgets"):
                from tqdm.auto import tqdm
            else:
                from tqdm import tqdm

            self._bar = tqdm(total=100, desc=description, file=self._file, bar_format=_TQDM_FORMAT)
        else:
            from rich.progress import Progress

            progress = Progress(transient=False)
            progress.start()
            self._bar = (progress, progress.add_task(description, total=100))

    def __call__(self, fraction: float) -> None:
        if self._done:
            return
        if self._started is None:
            self._started = time.monotonic()
            self._open(f"loading {self._label or 'model'}")
        self.fractions.append(fraction)
        percent = round(max(0.0, min(fraction, 1.0)) * 100)
        if self.style == "tqdm":
            self._bar.update(percent - self._bar.n)
        elif self.style == "rich":
            progress, task = self._bar
            progress.update(task, completed=percent)
        elif fraction < 1.0:
            self._say(f"loading {self._label or 'model'}: {percent}%")
        if fraction >= 1.0:
            self.close()

    def close(self) -> None:
        """End the display (done by a report of ``1.0``); safe to call twice."""
        if self._done:
            return
        self._done = True
        elapsed = time.monotonic() - (self._started or time.monotonic())
        if self.style == "tqdm" and self._bar is not None:
            self._bar.close()
        elif self.style == "rich" and self._bar is not None:
            self._bar[0].stop()
        elif self.style == "text":
            self._say(f"loaded {self._label or 'model'} in {elapsed:.1f} s")


def progress_display(
    label: str | None = None, *, style: ProgressStyle = "auto", file: TextIO | None = None
) -> ProgressDisplay:
    """A load-progress display to pass as ``ensure_loaded(..., on_progress=...)``.

    ``on_progress="auto"`` is the same as ``on_progress=progress_display()``. In a notebook,
    ``tqdm`` draws a widget bar (with ``ipywidgets``) and ``rich`` a live bar; in a terminal,
    a text bar; without either, one line per step and one when done.

    Args:
        label: what is loading (default: the model's key).
        style: ``"auto"`` (``tqdm``, else ``rich``, else text), or one of them explicitly.
        file: where text goes (default: standard output; ``tqdm`` defaults to standard error).
    """
    return ProgressDisplay(label, style=style, file=file)
