"""Turning the name a user typed into exactly one downloaded model, or a helpful error.

``lms load`` resolves names fuzzily and, with ``-y``, silently loads whichever candidate it ranks
first. So lmbridge resolves names itself, strictly, and only ever hands ``lms`` an exact key.

In order, a name matches:

1. a model key exactly (then ignoring case);
2. a loaded instance's identifier (``"qwen/qwen3-4b:2"``), which also names the instance;
3. a key once an instance suffix ``:N`` is removed (the instance need not be loaded);
4. a key once a variant suffix ``@q4_k_m`` is removed (the model's own variant is what loads);
5. the part after the publisher (``"qwen3-4b"`` for ``"qwen/qwen3-4b"``), ignoring case;
6. a part of exactly one key, ignoring case (``"gemma"``).

Steps 5 and 6 stop at the first step that matches anything: one match resolves, several raise
:class:`~lmbridge.errors.ModelNotFoundError` saying the name is ambiguous and listing them.

The rules are pure functions over a list of models. :class:`Resolver` applies them to a server's
listing, and asks ``lms ls`` when that listing may hold loaded models only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lmbridge.errors import ModelNotFoundError, ModelNotLoadedError
from lmbridge.lifecycle.parsers import Listing, base_key, listing_from_lms
from lmbridge.lifecycle.types import ModelInfo

if TYPE_CHECKING:
    from lmbridge.lifecycle.server import ServerAccess

__all__ = ["Resolved", "Resolver", "find", "not_found_error", "resolve", "suggest"]


@dataclass(frozen=True)
class Resolved:
    """A name resolved to a model.

    Attributes:
        model: the model.
        identifier: the instance identifier the name asked for (``"key:2"``), or ``None`` when the
            name did not name an instance.
    """

    model: ModelInfo
    identifier: str | None = None


def _after_publisher(key: str) -> str:
    return key.rsplit("/", 1)[-1].lower()


def suggest(name: str, keys: Sequence[str], *, limit: int = 3) -> list[str]:
    """The keys closest to ``name``, best first, comparing whole keys and the part after the publisher."""
    candidates: dict[str, list[str]] = {}
    for key in keys:
        for candidate in (key.lower(), _after_publisher(key)):
            candidates.setdefault(candidate, []).append(key)
    found: list[str] = []
    import difflib  # only to suggest a name, after a miss

    for match in difflib.get_close_matches(name.lower(), candidates, n=limit * 2):
        # One key can sit twice under one candidate (a key without publisher is its own tail).
        for key in candidates[match]:
            if key not in found:
                found.append(key)
    return found[:limit]


def not_found_error(
    name: str,
    keys: Sequence[str],
    *,
    url: str | None = None,
    message: str | None = None,
) -> ModelNotFoundError:
    """A :class:`ModelNotFoundError` for ``name`` with the closest keys as suggestions."""
    return ModelNotFoundError(
        message or f"No downloaded model is named {name!r}.",
        suggestions=suggest(name, keys),
        available=keys,
        model=name,
        url=url,
    )


def _by_key(name: str, models: Sequence[ModelInfo]) -> ModelInfo | None:
    for model in models:
        if model.key == name:
            return model
    lowered = name.lower()
    for model in models:
        if model.key.lower() == lowered:
            return model
    return None


def _partial(name: str, models: Sequence[ModelInfo], url: str | None) -> ModelInfo | None:
    lowered = name.lower()
    keys = list(dict.fromkeys(model.key for model in models))
    # One key on several LM Link devices is one model for naming: the first row stands for it.
    first: dict[str, ModelInfo] = {}
    for model in models:
        first.setdefault(model.key, model)
    unique = list(first.values())
    steps = (
        [model for model in unique if _after_publisher(model.key) == lowered],
        [model for model in unique if lowered in model.key.lower()],
    )
    for matches in steps:
        if len(matches) == 1:
            return matches[0]
        if matches:
            candidates = [model.key for model in matches]
            raise ModelNotFoundError(
                f"The name {name!r} is ambiguous: it matches {len(candidates)} downloaded models "
                f"({', '.join(candidates)}).",
                suggestions=candidates,
                available=keys,
                model=name,
                url=url,
                hint="Use the full key, e.g. " + repr(candidates[0]) + ".",
            )
    return None


def find(name: str, models: Sequence[ModelInfo], *, url: str | None = None) -> Resolved | None:
    """Find the one model ``name`` means (see the module's docs for the rules), or ``None``.

    Args:
        name: what the user typed.
        models: the downloaded models.
        url: where the list came from, for the error.

    Raises:
        ModelNotFoundError: the partial name matches several models ("ambiguous"; ``suggestions``
            lists them).
    """
    wanted = name.strip()
    found = _by_key(wanted, models)
    if found is not None:
        return Resolved(found)
    for model in models:
        for instance in model.instances:
            if instance.identifier == wanted:
                return Resolved(model, identifier=instance.identifier)
    stripped = base_key(wanted)
    if stripped != wanted:
        found = _by_key(stripped, models)
        if found is not None:
            return Resolved(found, identifier=wanted)
    if "@" in wanted:
        found = _by_key(wanted.rsplit("@", 1)[0], models)
        if found is not None:
            return Resolved(found)
    found = _partial(wanted, models, url) if wanted else None
    return None if found is None else Resolved(found)


def resolve(name: str, models: Sequence[ModelInfo], *, url: str | None = None) -> Resolved:
    """Like :func:`find`, but a name that matches nothing raises.

    Raises:
        ModelNotFoundError: no model matches (``suggestions`` holds the closest keys), or several
            do ("ambiguous").
    """
    found = find(name, models, url=url)
    if found is None:
        raise not_found_error(name.strip(), [model.key for model in models], url=url)
    return found


class Resolver:
    """Resolves names against a server's listing, with ``lms ls`` for what the listing cannot show.

    Args:
        server: the server whose listings are resolved against (its URL is named in errors).
    """

    def __init__(self, *, server: ServerAccess) -> None:
        self._server = server

    async def resolve(self, name: str, listing: Listing) -> Resolved:
        """The downloaded model ``name`` means, found in ``listing`` (or in ``lms ls``).

        Raises:
            ModelNotFoundError: no such model (with suggestions), or the name is ambiguous.
            ModelNotLoadedError: ``listing`` may hold loaded models only, ``lms`` is not usable to
                list the downloaded ones, and the name is not among them.
        """
        url = self._listing_url(listing)
        found = find(name, listing.models, url=url)
        if found is not None:
            return found
        keys = [model.key for model in listing.models]
        if listing.complete:
            raise not_found_error(name, keys, url=url)
        # The listing may hold loaded models only (JIT loading off): ask lms for the downloaded ones.
        if listing.source != "lms" and await self._server.gate.usable():
            downloaded = listing_from_lms(await self._server.lms.ls(), [])
            found = find(name, downloaded.models, url="lms ls")
            if found is None:
                raise not_found_error(
                    name, [model.key for model in downloaded.models], url="lms ls"
                )
            return found
        close = not_found_error(name, keys).suggestions
        raise ModelNotLoadedError(
            f"{name!r} is not in the server's model list, which may hold loaded models only (JIT "
            "loading off): it may be downloaded but not loaded.",
            model=name,
            url=url,
            lms_found=await self._server.lms.locate() is not None,
            loaded=[instance.identifier for instance in listing.instances] or None,
            hint=("Did you mean " + " or ".join(map(repr, close)) + "? " if close else "")
            + "With the `lms` CLI usable, lmbridge could tell whether it is downloaded and load it; "
            "otherwise load it in LM Studio or turn on JIT loading.",
        )

    def _listing_url(self, listing: Listing) -> str:
        if listing.source == "lms":
            return "lms ls"
        return self._server.rest.base_url.rstrip("/") + listing.source
