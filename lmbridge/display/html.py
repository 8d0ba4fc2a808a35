"""Small HTML building blocks for ``_repr_html_``: every value escaped, long text cut.

Notebooks render ``_repr_html_`` as trusted HTML, and what lmbridge shows comes from a model or
a server: a reply saying ``<script>`` must show as text. So nothing reaches the page without
:func:`html.escape`, and the helpers take plain values, never markup, except :func:`block`,
whose parts are themselves built here.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

__all__ = ["block", "cut", "field_table", "grid", "preformatted", "size"]

_STYLE = "font-family: var(--jp-code-font-family, monospace); font-size: 0.9em;"
_CELL = "text-align: left; vertical-align: top; padding: 2px 8px;"


def cut(text: object, limit: int = 200) -> str:
    """``text`` as one string of at most ``limit`` characters (an ellipsis marks a cut)."""
    value = str(text)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def size(count: int | None) -> str:
    """A byte count for people: ``2.5 GB``; ``""`` when unknown."""
    if count is None:
        return ""
    amount = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < 1000 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1000
    raise AssertionError("unreachable")


def _cell(value: object, limit: int) -> str:
    text = "" if value is None else cut(value, limit)
    return f'<td style="{_CELL}">{html.escape(text)}</td>'


def field_table(title: str, fields: Iterable[tuple[str, object]], *, limit: int = 500) -> str:
    """A two-column table of ``name: value`` rows under a bold ``title``; ``None`` rows left out."""
    rows = "".join(
        f'<tr><th style="{_CELL}">{html.escape(name)}</th>{_cell(value, limit)}</tr>'
        for name, value in fields
        if value is not None
    )
    return f'<div style="{_STYLE}"><b>{html.escape(title)}</b><table>{rows}</table></div>'


def grid(
    title: str, headers: Sequence[str], rows: Iterable[Sequence[object]], *, limit: int = 120
) -> str:
    """A table with a header row, one row per item."""
    head = "".join(f'<th style="{_CELL}">{html.escape(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(_cell(value, limit) for value in row) + "</tr>" for row in rows)
    return (
        f'<div style="{_STYLE}"><b>{html.escape(title)}</b>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def preformatted(label: str, text: str, *, limit: int = 4000) -> str:
    """A labelled block of text kept as written (line breaks and spaces)."""
    return (
        f'<div style="{_STYLE}"><i>{html.escape(label)}</i>'
        f'<pre style="white-space: pre-wrap; margin: 2px 0 6px 0;">'
        f"{html.escape(cut(text, limit))}</pre></div>"
    )


def block(*parts: str) -> str:
    """Parts built by the functions above, one under the other."""
    return "<div>" + "".join(parts) + "</div>"
