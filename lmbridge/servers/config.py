"""Reading the Bridge's per-server arguments: URLs, and values given once or per URL."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TypeVar

from lmbridge.errors import redact
from lmbridge.transport.client import normalize_base_url

__all__ = ["for_server", "server_urls"]

T = TypeVar("T")


def server_urls(base_url: str | Sequence[str] | None) -> list[str]:
    """The servers' root URLs, in order: from the argument, else ``LMBRIDGE_BASE_URL`` (a
    comma-separated list), else ``http://localhost:1234``; each as
    :func:`~lmbridge.transport.client.normalize_base_url` writes it, duplicates dropped.

    Raises:
        ValueError: an empty sequence, or an empty entry.
        TypeError: neither a string nor a sequence of strings.
    """
    if base_url is None:
        base_url = os.environ.get("LMBRIDGE_BASE_URL") or None
    if base_url is None:
        return [normalize_base_url(None)]
    if isinstance(base_url, str):
        entries = base_url.split(",")
    elif isinstance(base_url, Sequence) and all(isinstance(u, str) for u in base_url):
        entries = list(base_url)
    else:
        raise TypeError(f"base_url must be a URL or a sequence of URLs, not {base_url!r}")
    if not entries or any(not entry.strip() for entry in entries):
        raise ValueError(f"base_url has an empty entry: {base_url!r}")
    return list(dict.fromkeys(normalize_base_url(entry) for entry in entries))


def for_server(
    value: T | Mapping[str, T] | None, urls: Sequence[str], *, name: str
) -> list[T | None]:
    """``value`` for each URL: the same for all, or looked up in a mapping from URL to value
    (keys written any way :func:`server_urls` accepts; a URL missing from it gets ``None``).

    Raises:
        ValueError: a key of the mapping names none of the servers (a typo would otherwise
            go unnoticed, e.g. a token never sent).
    """
    if not isinstance(value, Mapping):
        return [value for _ in urls]
    by_url = {normalize_base_url(key): item for key, item in value.items()}
    unknown = [key for key in by_url if key not in urls]
    if unknown:
        raise ValueError(
            redact(
                f"{name} names servers this Bridge does not have: {', '.join(unknown)} "
                f"(its servers: {', '.join(urls)})"
            )
        )
    return [by_url.get(url) for url in urls]
