"""Checks the model manager makes before it loads or sends anything (kept apart from
:mod:`~lmbridge.lifecycle.models` so that module stays readable)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lmbridge.errors import LmsArgumentError, ModelNotLoadedError, WrongModelTypeError
from lmbridge.lifecycle.types import ModelInfo, RequestKind

if TYPE_CHECKING:
    from lmbridge.lifecycle.loaders import LoadOptions
    from lmbridge.lifecycle.parsers import Listing

__all__ = ["check_kind", "check_load_options", "not_loaded"]


def check_load_options(name: str, options: LoadOptions) -> None:
    """Refuse bad load options once, for every method: ``lms`` would refuse them, and the REST
    API or JIT would be sent them as they are."""
    # Here, not at the top: the lms parts load with the first load, not with a Bridge (#18).
    from lmbridge.lifecycle.lms.failures import check_cli_name, check_gpu, check_positive_int

    for field in ("ttl", "context_length", "eval_batch_size", "num_experts", "parallel"):
        value = getattr(options, field)
        if value is not None:
            check_positive_int(value, field, name)
    if options.gpu is not None:
        check_gpu(options.gpu, name)
    if options.identifier is not None:
        check_cli_name(options.identifier, "identifier")
    for field in ("flash_attention", "offload_kv_cache_to_gpu"):
        value = getattr(options, field)
        if value is not None and not isinstance(value, bool):
            raise LmsArgumentError(f"{field} must be True or False, not {value!r}", model=name)


def check_kind(name: str, model: ModelInfo, kind: RequestKind) -> None:
    """Refuse a model that cannot serve ``kind`` before anything is sent; a source that does not
    say the type lets the server answer."""
    if model.type is None or (model.type == "embedding") == (kind == "embedding"):
        return
    if kind == "embedding":
        message = f"{model.key!r} is a {model.type} model: it cannot compute embeddings."
        hint = "Use an embedding model (e.g. a `text-embedding-...` key) for embed()."
    else:
        message = f"{model.key!r} is an embedding model: it cannot chat or complete text."
        hint = "Use an llm or vlm model for chat; embedding models only serve embed()."
    raise WrongModelTypeError(message, model=name, hint=hint)


def not_loaded(name: str, model: ModelInfo, listing: Listing) -> ModelNotLoadedError:
    return ModelNotLoadedError(
        f"{model.key!r} is not loaded (never loaded, unloaded or evicted), and auto_load is off.",
        model=name,
        loaded=[instance.identifier for instance in listing.instances],
        hint=(
            f"Load it first: `lms load {model.key}` or `await bridge.models.ensure_loaded"
            f"({model.key!r})`, or create Bridge(auto_load=True)."
        ),
    )
