"""How each listing source's answer becomes one :class:`Listing` of :class:`ModelInfo`.

Pure functions, one per source: ``GET /api/v1/models``, ``GET /api/v0/models``, ``GET /v1/models``
and ``lms ls --json`` + ``lms ps --json``. They only read; which source to ask, and when, is decided
in :mod:`~lmbridge.lifecycle.listing`. The wire shapes ignore unknown fields, so a newer server that
adds some still parses.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, get_args

from pydantic import BaseModel, ConfigDict, ValidationError

from lmbridge.errors import InvalidResponseError
from lmbridge.lifecycle.types import (
    Capabilities,
    InstanceStatus,
    ListingSource,
    LoadedInstance,
    ModelInfo,
    ModelType,
    Quantization,
)

if TYPE_CHECKING:
    from lmbridge.lifecycle.lms import LmsInstance, LmsModel

__all__ = [
    "Listing",
    "base_key",
    "instance_from_lms",
    "listing_from_lms",
    "normalize_type",
    "parse_openai_models",
    "parse_v0_models",
    "parse_v1_models",
]

_INSTANCE_SUFFIX = re.compile(r":\d+$")
_STATUSES: frozenset[str] = frozenset(get_args(InstanceStatus))


def base_key(identifier: str) -> str:
    """The model key an instance identifier belongs to: ``"a/b:2"`` -> ``"a/b"``."""
    return _INSTANCE_SUFFIX.sub("", identifier)


def normalize_type(raw: str | None, *, vision: bool | None = None) -> ModelType | None:
    """One spelling for model types: v0's ``embeddings`` is ``embedding``; an llm with vision is a vlm."""
    if raw is None:
        return None
    lowered = raw.lower()
    if lowered in ("embedding", "embeddings"):
        return "embedding"
    if lowered == "vlm" or (lowered == "llm" and vision):
        return "vlm"
    if lowered == "llm":
        return "llm"
    return None


@dataclass(frozen=True)
class Listing:
    """One answer from a listing source.

    Attributes:
        source: where it came from.
        models: the models, in the source's order.
        shows_state: whether the source tells loaded from not loaded (all but ``/v1/models``).
        complete: whether it is known to list every downloaded model (``/api/v0/models`` lists
            loaded models only when JIT loading is off; ``/v1/models`` too).
    """

    source: ListingSource
    models: tuple[ModelInfo, ...]
    shows_state: bool
    complete: bool

    @property
    def instances(self) -> list[LoadedInstance]:
        """Every loaded instance, model by model."""
        return [instance for model in self.models for instance in model.instances]


# --- wire shapes -----------------------------------------------------------------------------


class _Wire(BaseModel):
    # Schemas built on first use (the first listing), not at import.
    model_config = ConfigDict(extra="ignore", defer_build=True)


class _V1Quantization(_Wire):
    name: str | None = None
    bits_per_weight: float | None = None


class _V1Capabilities(_Wire):
    vision: bool | None = None
    trained_for_tool_use: bool | None = None
    # list.md: {allowed_options: [...], default}; a plain flag in early 0.4 builds.
    reasoning: Any = None


def _reasoning(raw: Any) -> tuple[bool | None, tuple[str, ...], str | None]:
    """Whether the model reasons by default, its reasoning options and their default."""
    if isinstance(raw, dict):
        allowed = raw.get("allowed_options")
        options = tuple(str(o) for o in allowed) if isinstance(allowed, list) else ()
        default = raw.get("default")
        default = str(default) if isinstance(default, str) else None
        if default is not None:
            return default != "off", options, default
        return (any(o != "off" for o in options) or None), options, None
    if isinstance(raw, bool):
        return raw, (), None
    return None, (), None


class _V1Instance(_Wire):
    id: str
    config: dict[str, Any] | None = None


class _V1Model(_Wire):
    type: str
    key: str
    display_name: str | None = None
    publisher: str | None = None
    architecture: str | None = None
    quantization: _V1Quantization | None = None
    size_bytes: int | None = None
    params_string: str | None = None
    loaded_instances: list[_V1Instance] = []
    max_context_length: int | None = None
    format: str | None = None
    capabilities: _V1Capabilities | None = None


class _V1Listing(_Wire):
    models: list[_V1Model]


class _V0Model(_Wire):
    id: str
    type: str | None = None
    publisher: str | None = None
    arch: str | None = None
    compatibility_type: str | None = None
    quantization: str | None = None
    state: str | None = None
    max_context_length: int | None = None
    loaded_context_length: int | None = None
    capabilities: list[str] = []


class _V0Listing(_Wire):
    data: list[_V0Model]


class _OpenAIModel(_Wire):
    id: str


class _OpenAIListing(_Wire):
    data: list[_OpenAIModel]


def _validate(shape: type[_Wire], payload: Any, *, url: str) -> Any:
    try:
        return shape.model_validate(payload)
    except ValidationError as exc:
        raise InvalidResponseError(
            f"The model list at {url} has an unexpected shape: {exc.errors()[0]['msg']}",
            url=url,
            body=repr(payload),
        ) from exc


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# --- parsing -----------------------------------------------------------------------------------


def parse_v1_models(payload: Any, *, url: str = "/api/v1/models") -> Listing:
    """Read ``GET /api/v1/models``.

    Raises:
        InvalidResponseError: the answer is not a v1 model list.
    """
    listing: _V1Listing = _validate(_V1Listing, payload, url=url)
    models = []
    for row in listing.models:
        caps = row.capabilities or _V1Capabilities()  # absent for embedding models
        kind = normalize_type(row.type, vision=caps.vision)
        reasons, options, default = _reasoning(caps.reasoning)
        instances = [
            LoadedInstance(
                identifier=instance.id,
                model_key=row.key,
                type=kind,
                context_length=_int_or_none((instance.config or {}).get("context_length")),
                load_config=instance.config,
            )
            for instance in row.loaded_instances
        ]
        quant = row.quantization
        models.append(
            ModelInfo(
                key=row.key,
                display_name=row.display_name,
                type=kind,
                publisher=row.publisher,
                architecture=row.architecture,
                quantization=None
                if quant is None
                else Quantization(name=quant.name, bits=quant.bits_per_weight),
                size_bytes=row.size_bytes,
                params_string=row.params_string,
                format=row.format,
                max_context_length=row.max_context_length,
                capabilities=Capabilities(
                    tool_use=caps.trained_for_tool_use,
                    vision=caps.vision if caps.vision is not None else (kind == "vlm" or None),
                    reasoning=reasons,
                ),
                state="loaded" if instances else "not-loaded",
                instances=instances,
                reasoning_options=options,
                reasoning_default=default,
            )
        )
    return Listing("/api/v1/models", tuple(models), shows_state=True, complete=True)


def parse_v0_models(payload: Any, *, url: str = "/api/v0/models") -> Listing:
    """Read ``GET /api/v0/models``. Rows named ``<key>:N`` become instances of ``<key>``.

    The listing counts as complete when it holds a not-loaded row: then JIT loading is on and
    LM Studio lists every downloaded model; with JIT off it lists loaded models only.

    Raises:
        InvalidResponseError: the answer is not a v0 model list.
    """
    listing: _V0Listing = _validate(_V0Listing, payload, url=url)
    groups: dict[str, list[_V0Model]] = {}
    for row in listing.data:
        groups.setdefault(base_key(row.id), []).append(row)
    models = []
    for key, rows in groups.items():
        main = next((row for row in rows if row.id == key), rows[0])
        kind = normalize_type(main.type)
        instances = [
            LoadedInstance(
                identifier=row.id,
                model_key=key,
                type=kind,
                context_length=row.loaded_context_length,
            )
            for row in rows
            if row.state == "loaded"
        ]
        models.append(
            ModelInfo(
                key=key,
                type=kind,
                publisher=main.publisher,
                architecture=main.arch,
                quantization=None
                if main.quantization is None
                else Quantization(name=main.quantization),
                format=main.compatibility_type,
                max_context_length=main.max_context_length,
                capabilities=Capabilities(
                    tool_use="tool_use" in main.capabilities,
                    vision=kind == "vlm" if kind is not None else None,
                ),
                state="loaded" if instances else "not-loaded",
                instances=instances,
            )
        )
    complete = any(row.state == "not-loaded" for row in listing.data)
    return Listing("/api/v0/models", tuple(models), shows_state=True, complete=complete)


def parse_openai_models(payload: Any, *, url: str = "/v1/models") -> Listing:
    """Read ``GET /v1/models``: ids only, so every model's state is ``"unknown"``.

    Ids named ``<key>:N`` become instances of ``<key>`` (such ids exist only while loaded).

    Raises:
        InvalidResponseError: the answer is not an OpenAI model list.
    """
    listing: _OpenAIListing = _validate(_OpenAIListing, payload, url=url)
    groups: dict[str, list[str]] = {}
    for row in listing.data:
        groups.setdefault(base_key(row.id), []).append(row.id)
    models = [
        ModelInfo(
            key=key,
            state="unknown",
            instances=[
                LoadedInstance(identifier=identifier, model_key=key)
                for identifier in identifiers
                if identifier != key
            ],
        )
        for key, identifiers in groups.items()
    ]
    return Listing("/v1/models", tuple(models), shows_state=False, complete=False)


def _info_from_lms(row: LmsModel, instances: list[LoadedInstance]) -> ModelInfo:
    kind = normalize_type(row.type, vision=row.vision)
    quant = row.quantization
    return ModelInfo(
        key=row.model_key,
        display_name=row.display_name,
        type=kind,
        publisher=row.publisher,
        architecture=row.architecture,
        quantization=None if quant is None else Quantization(name=quant.name, bits=quant.bits),
        size_bytes=row.size_bytes,
        params_string=row.params_string,
        format=row.format,
        max_context_length=row.max_context_length,
        capabilities=Capabilities(tool_use=row.trained_for_tool_use, vision=row.vision),
        state="loaded" if instances else "not-loaded",
        instances=instances,
        device=row.device_identifier,
    )


def on_server(listing: Listing, server: str) -> Listing:
    """``listing`` with every model and instance saying which server listed it."""
    models = tuple(
        model.model_copy(
            update={
                "server": server,
                "instances": [i.model_copy(update={"server": server}) for i in model.instances],
            }
        )
        for model in listing.models
    )
    return dataclasses.replace(listing, models=models)


def instance_from_lms(row: LmsInstance, *, server: str | None = None) -> LoadedInstance:
    """One ``lms ps --json`` row as a :class:`LoadedInstance` (an unknown status becomes ``None``)."""
    status: Any = row.status if row.status in _STATUSES else None
    config = {
        name: value
        for name, value in (("context_length", row.context_length), ("parallel", row.parallel))
        if value is not None
    }
    return LoadedInstance(
        identifier=row.identifier,
        model_key=row.model_key,
        type=normalize_type(row.type, vision=row.vision),
        status=status,
        queued=row.queued,
        context_length=row.context_length,
        ttl=None if row.ttl_ms is None else row.ttl_ms / 1000,
        device=row.device_identifier,
        load_config=config or None,
        server=server,
    )


def listing_from_lms(downloaded: Sequence[LmsModel], loaded: Sequence[LmsInstance]) -> Listing:
    """Join ``lms ls --json`` and ``lms ps --json`` into one listing.

    With LM Link one key can be on several devices: each (key, device) is its own
    :class:`ModelInfo` holding the instances on that device, never merged with the others.
    """
    instances: dict[tuple[str, str | None], list[LoadedInstance]] = {}
    first_row: dict[tuple[str, str | None], LmsModel] = {}
    for row in loaded:
        where = (row.model_key, row.device_identifier)
        instances.setdefault(where, []).append(instance_from_lms(row))
        first_row.setdefault(where, row)
    models = [
        _info_from_lms(row, instances.get((row.model_key, row.device_identifier), []))
        for row in downloaded
    ]
    listed = {(row.model_key, row.device_identifier) for row in downloaded}
    # A model loaded from outside the models folder can be missing from `ls`; keep its instances.
    models += [
        _info_from_lms(row, instances[where])
        for where, row in first_row.items()
        if where not in listed
    ]
    return Listing("lms", tuple(models), shows_state=True, complete=True)
