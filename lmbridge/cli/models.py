"""``models`` (``ls``), ``ps``, ``load`` and ``unload``: the model lifecycle from the shell, on
``bridge.models``."""

from __future__ import annotations

import argparse
from typing import Any

from lmbridge.bridge import Bridge
from lmbridge.cli.output import Output
from lmbridge.errors import ModelNotLoadedError
from lmbridge.lifecycle.types import LoadedInstance, ModelInfo

__all__ = ["load", "models", "ps", "unload"]


def human_size(size: int | None) -> str:
    """``2.5 GB``; ``-`` when unknown."""
    if size is None:
        return "-"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def human_ttl(ttl: float | None) -> str:
    """``60 min`` / ``45 s``; ``-`` when it never expires or the server does not say."""
    if ttl is None:
        return "-"
    if ttl >= 3600 and ttl % 3600 == 0:
        return f"{ttl / 3600:.0f} h"
    if ttl >= 60:
        return f"{ttl / 60:.0f} min"
    return f"{ttl:.0f} s"


def _loaded_cell(model: ModelInfo) -> str:
    if model.state == "unknown":
        return "?"
    count = len(model.instances)
    if count == 0:
        return "no"
    return "yes" if count == 1 else f"yes ({count})"


def model_json(model: ModelInfo) -> dict[str, Any]:
    """A model for ``--json``: every field, plus ``loaded`` as a plain bool."""
    return {**model.model_dump(mode="json"), "loaded": model.loaded}


async def models(bridge: Bridge, args: argparse.Namespace, out: Output) -> int:
    listing = await bridge.models.list()
    if args.json:
        out.json([model_json(model) for model in listing])
        return 0
    if not listing:
        out.note("No models are downloaded. Get one in LM Studio, or: lms get qwen/qwen3-4b")
        return 0
    rows = [
        [
            model.key,
            model.type or "?",
            human_size(model.size_bytes),
            str(model.max_context_length) if model.max_context_length else "-",
            _loaded_cell(model),
        ]
        for model in listing
    ]
    headers = ["KEY", "TYPE", "SIZE", "CONTEXT", "LOADED"]
    if len(bridge.servers) > 1:  # --base-url with several URLs: say where each row is
        headers.append("SERVER")
        rows = [[*row, model.server or "-"] for row, model in zip(rows, listing, strict=True)]
    out.table(headers, rows)
    if bridge.models.source == "/v1/models":
        out.note("This server lists names only: types, sizes and load state are unknown (?).")
    return 0


def _status_cell(instance: LoadedInstance) -> str:
    # Only `lms ps` reports statuses; the REST listings only say the instance is loaded.
    status = instance.status or "loaded"
    return f"{status} ({instance.queued} queued)" if instance.queued else status


async def ps(bridge: Bridge, args: argparse.Namespace, out: Output) -> int:
    instances = await bridge.models.loaded()
    if args.json:
        out.json([instance.model_dump(mode="json") for instance in instances])
        return 0
    if not instances:
        out.note("Nothing is loaded. Load a model with: lmbridge load KEY (see lmbridge models)")
        return 0
    rows = [
        [
            instance.identifier,
            instance.model_key,
            _status_cell(instance),
            human_ttl(instance.ttl),
            str(instance.context_length) if instance.context_length else "-",
        ]
        for instance in instances
    ]
    headers = ["IDENTIFIER", "MODEL", "STATUS", "TTL", "CONTEXT"]
    if len(bridge.servers) > 1:
        headers.append("SERVER")
        rows = [[*row, i.server or "-"] for row, i in zip(rows, instances, strict=True)]
    out.table(headers, rows)
    return 0


async def load(bridge: Bridge, args: argparse.Namespace, out: Output) -> int:
    reported: list[float] = []
    with out.progress(f"Loading {args.key}") as update:

        def on_progress(fraction: float) -> None:
            reported.append(fraction)
            update(fraction)

        instance = await bridge.models.ensure_loaded(
            args.key,
            ttl=args.ttl,
            context_length=args.context_length,
            gpu=args.gpu,
            identifier=args.identifier,
            on_progress=on_progress,
        )
    if args.json:
        out.json(instance.model_dump(mode="json"))
        return 0
    # A model that was loaded already is returned as it is, without a load to report.
    done = "Loaded" if reported else "Already loaded:"
    details = [
        f"context {instance.context_length}" if instance.context_length else "",
        f"TTL {human_ttl(instance.ttl)}" if instance.ttl is not None else "",
    ]
    extra = ", ".join(detail for detail in details if detail)
    out.line(f"{done} {instance.identifier}" + (f" ({extra})" if extra else ""))
    options = (args.ttl, args.context_length, args.gpu, args.identifier)
    if not reported and any(option is not None for option in options):
        out.note(
            "The options given were not applied to the instance already loaded; to load it "
            f"with them, unload it first: lmbridge unload {instance.identifier}"
        )
    return 0


async def unload(bridge: Bridge, args: argparse.Namespace, out: Output) -> int:
    if args.identifier is not None:
        unloaded = await bridge.models.unload(args.identifier, all_instances=args.all_instances)
    else:
        unloaded = await _unload_everything(bridge)
    if args.json:
        out.json(unloaded)
    elif unloaded:
        out.line("Unloaded " + ", ".join(unloaded))
    else:
        out.note("Nothing was loaded.")
    return 0


async def _unload_everything(bridge: Bridge) -> list[str]:
    unloaded: list[str] = []
    for key in dict.fromkeys(instance.model_key for instance in await bridge.models.loaded()):
        try:
            unloaded += await bridge.models.unload(key, all_instances=True)
        except ModelNotLoadedError:
            continue  # gone meanwhile (a TTL ran out): the goal is reached all the same
    return unloaded
