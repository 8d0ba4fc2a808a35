"""The public views of models and loaded instances, the same whichever source listed them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lmbridge.display.html import field_table, grid, size
from lmbridge.display.text import compact_repr

__all__ = [
    "Capabilities",
    "InstanceList",
    "InstanceStatus",
    "ListingSource",
    "LoadedInstance",
    "ModelInfo",
    "ModelList",
    "ModelState",
    "ModelType",
    "Quantization",
    "RequestKind",
]

ModelType = Literal["llm", "vlm", "embedding"]
"""``"llm"`` (text), ``"vlm"`` (text and images) or ``"embedding"``."""

InstanceStatus = Literal["idle", "processingPrompt", "generating", "computingEmbedding"]
"""What a loaded instance is doing. Every status means *loaded*; ``idle`` means loaded and free."""

ModelState = Literal["loaded", "not-loaded", "unknown"]
"""Whether a downloaded model has a loaded instance; ``"unknown"`` when the source cannot tell."""

ListingSource = Literal["/api/v1/models", "/api/v0/models", "lms", "/v1/models"]
"""Where :meth:`~lmbridge.lifecycle.models.ModelManager.list` gets its answer, best first."""

RequestKind = Literal["llm", "embedding"]
"""What a request needs: a model that chats (``"llm"``, also served by a vlm) or one that embeds."""


class _Frozen(BaseModel):
    # Schemas built on first use, not at import (#18).
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Quantization(_Frozen):
    """A model file's quantization.

    Attributes:
        name: e.g. ``"Q4_K_M"`` or ``"4bit"``.
        bits: bits per weight, when the source says.
    """

    name: str | None = None
    bits: float | None = None


class Capabilities(_Frozen):
    """What a model can do, as far as the listing says (``None``: the source does not say).

    Attributes:
        tool_use: trained for tool calls.
        vision: accepts images.
        reasoning: reasons by default: LM Studio 0.4 describes reasoning as options with a default
            (:attr:`ModelInfo.reasoning_options`), and a model whose default is ``"off"`` does not.
    """

    tool_use: bool | None = None
    vision: bool | None = None
    reasoning: bool | None = None


class LoadedInstance(_Frozen):
    """One loaded instance of a model.

    LM Studio can hold several instances of one model: the first answers to the model key, later
    ones to ``<key>:2``, ``<key>:3``, ...

    Attributes:
        identifier: the name requests use, e.g. ``"qwen/qwen3-4b"`` or ``"qwen/qwen3-4b:2"``.
        model_key: the downloaded model's key, e.g. ``"qwen/qwen3-4b"``.
        type: the model's type, ``None`` when the source does not say.
        status: ``"idle"``, ``"processingPrompt"``, ``"generating"`` or ``"computingEmbedding"``.
            ``None`` means *loaded, status unknown*: only ``lms ps`` reports statuses, the REST
            listings do not. Whatever the status, the instance is loaded and takes requests.
        queued: requests queued including the running one, when ``lms`` says.
        context_length: the context length it was loaded with, when known.
        ttl: seconds of idleness after which LM Studio unloads it; ``None`` when it never expires
            or the source does not say.
        device: the LM Link device it runs on; ``None`` for this machine (or when the source does
            not say: only ``lms`` reports devices).
        load_config: the load settings the server reports for it (REST v1 ``config``:
            ``context_length``, ``eval_batch_size``, ``parallel``, ``flash_attention``,
            ``num_experts``, ``offload_kv_cache_to_gpu``; from ``lms ps``: ``context_length`` and
            ``parallel``); ``None`` when the source reports none.
        server: the root URL of the server it is loaded on (a Bridge may route to several).
    """

    identifier: str
    model_key: str
    type: ModelType | None = None
    status: InstanceStatus | None = None
    queued: int | None = None
    context_length: int | None = None
    ttl: float | None = None
    device: str | None = None
    load_config: dict[str, Any] | None = None
    server: str | None = None

    @property
    def busy(self) -> bool:
        """Whether it is working on a request. A busy instance is still loaded and available."""
        return (self.status is not None and self.status != "idle") or bool(self.queued)

    def _row(self) -> tuple[object, ...]:
        return (self.identifier, self.type, self.status or "loaded", self.context_length, self.ttl)

    def __repr__(self) -> str:
        fields = [("identifier", self.identifier), ("type", self.type), ("status", self.status)]
        return compact_repr("LoadedInstance", [*fields, ("context_length", self.context_length)])

    def _repr_html_(self) -> str:
        """The instance as a table row, for notebooks (all escaped)."""
        return grid("LoadedInstance", _INSTANCE_HEADERS, [self._row()])


class ModelInfo(_Frozen):
    """A downloaded model and its loaded instances.

    Attributes:
        key: the key to load it by, e.g. ``"qwen/qwen3-4b"``.
        display_name: the human name, when the source says.
        type: ``"llm"``, ``"vlm"`` or ``"embedding"``; ``None`` when the source does not say
            (``/v1/models`` lists ids only).
        publisher: who published it.
        architecture: e.g. ``"qwen3"``.
        quantization: the quantization, when known.
        size_bytes: the file size, when known.
        params_string: the parameter count as text, e.g. ``"4B"``.
        format: ``"gguf"``, ``"mlx"``, ...
        max_context_length: the longest context the model supports.
        capabilities: tool use, vision and reasoning, as far as the source says.
        state: ``"loaded"`` when it has an instance, ``"not-loaded"`` when not, ``"unknown"`` when
            the source cannot tell (``/v1/models``).
        instances: its loaded instances (empty when not loaded or unknown).
        device: the LM Link device holding this copy, ``None`` for this machine. One key can be on
            several devices: each copy is its own ``ModelInfo``, with its own instances.
        reasoning_options: the reasoning settings the model takes (``"off"``, ``"on"``, ``"low"``,
            ``"medium"``, ``"high"``), as REST v1 lists them; empty when the source does not say.
        reasoning_default: the setting it uses when a request names none, ``None`` when unknown.
        server: the root URL of the server that listed it (a Bridge may route to several).
    """

    key: str
    display_name: str | None = None
    type: ModelType | None = None
    publisher: str | None = None
    architecture: str | None = None
    quantization: Quantization | None = None
    size_bytes: int | None = None
    params_string: str | None = None
    format: str | None = None
    max_context_length: int | None = None
    # A factory: an instance here would build the schemas at import (they are deferred, #18).
    capabilities: Capabilities = Field(default_factory=Capabilities)
    state: ModelState = "unknown"
    instances: list[LoadedInstance] = []
    device: str | None = None
    reasoning_options: tuple[str, ...] = ()
    reasoning_default: str | None = None
    server: str | None = None

    @property
    def loaded(self) -> bool:
        """Whether at least one instance is known to be loaded."""
        return bool(self.instances)

    def _row(self) -> tuple[object, ...]:
        quantization = self.quantization.name if self.quantization else None
        size_text = size(self.size_bytes)
        return (self.key, self.type, self.params_string, quantization, size_text, self.state)

    def __repr__(self) -> str:
        fields = [("key", self.key), ("type", self.type), ("params", self.params_string)]
        instances = [i.identifier for i in self.instances] or None
        return compact_repr("ModelInfo", [*fields, ("state", self.state), ("instances", instances)])

    def _repr_html_(self) -> str:
        """Every known field, for notebooks (all escaped)."""
        capabilities = [k for k, v in self.capabilities.model_dump().items() if v]
        fields = [
            ("key", self.key),
            ("display_name", self.display_name),
            ("type", self.type),
            ("publisher", self.publisher),
            ("architecture", self.architecture),
            ("params", self.params_string),
            ("quantization", self.quantization.name if self.quantization else None),
            ("size", size(self.size_bytes) or None),
            ("format", self.format),
            ("max_context_length", self.max_context_length),
            ("capabilities", ", ".join(capabilities) or None),
            ("state", self.state),
            ("instances", ", ".join(i.identifier for i in self.instances) or None),
            ("device", self.device),
        ]
        return field_table("ModelInfo", fields)


_MODEL_HEADERS = ("key", "type", "params", "quantization", "size", "state")
_INSTANCE_HEADERS = ("identifier", "type", "status", "context", "ttl")


class ModelList(list[ModelInfo]):
    """What ``bridge.models.list()`` returns: a plain list of :class:`ModelInfo`, shown as a
    table (one line per model in a terminal, an HTML table in a notebook)."""

    def __repr__(self) -> str:
        if not self:
            return "ModelList([])"
        lines = [f"  {model!r}," for model in self]
        return "ModelList([\n" + "\n".join(lines) + "\n])"

    def _repr_html_(self) -> str:
        """A table of the models, for notebooks (all escaped)."""
        return grid(f"{len(self)} models", _MODEL_HEADERS, [m._row() for m in self])


class InstanceList(list[LoadedInstance]):
    """What ``bridge.models.loaded()`` returns: a plain list of :class:`LoadedInstance`, shown
    as a table in a notebook."""

    def __repr__(self) -> str:
        if not self:
            return "InstanceList([])"
        lines = [f"  {instance!r}," for instance in self]
        return "InstanceList([\n" + "\n".join(lines) + "\n])"

    def _repr_html_(self) -> str:
        """A table of the instances, for notebooks (all escaped)."""
        title = f"{len(self)} loaded instances"
        return grid(title, _INSTANCE_HEADERS, [i._row() for i in self])
