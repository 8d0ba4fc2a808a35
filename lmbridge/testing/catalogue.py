"""The models the simulator knows: what ``lms ls`` would list as downloaded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["ModelType", "ReasoningShape", "SimModel", "default_catalogue"]

ModelType = Literal["llm", "vlm", "embedding"]
"""``vlm`` is an LLM with vision: ``llm`` in ``lms`` and REST v1 listings, ``vlm`` in REST v0."""

ReasoningShape = Literal["reasoning_content", "reasoning", "think"]
"""Where reasoning text goes: ``delta.reasoning_content``, ``delta.reasoning`` or inline ``<think>``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SimModel:
    """A downloaded model of the simulated LM Studio.

    Only ``key`` is required; the other fields default to plausible values derived from it.

    Attributes:
        key: the model key, e.g. ``"qwen/qwen3-4b"``.
        type: ``"llm"``, ``"vlm"`` (an LLM with vision) or ``"embedding"``.
        display_name: the human name (defaults to the part of the key after the publisher).
        publisher: the publisher (defaults to the part of the key before ``/``, else ``"lmstudio-community"``).
        architecture: the model architecture, e.g. ``"qwen3"``.
        quantization: the quantization name, e.g. ``"Q4_K_M"``.
        bits: bits per weight of the quantization.
        size_bytes: file size; also the memory a load needs when the simulator has a memory limit.
        params_string: parameter count as LM Studio prints it, e.g. ``"4B"``.
        max_context_length: the longest context the model supports.
        default_context_length: the context length of a load that does not ask for one.
        format: the file format (``"gguf"``).
        path: the file path relative to the models folder.
        vision: whether the model accepts images.
        trained_for_tool_use: whether the model was trained for tool calling.
        reasoning_shape: for reasoning models, how default replies carry their reasoning; ``None`` for
            models that do not reason.
        embedding_dimensions: length of the vectors an embedding model returns.
        variant_in_response: embedding responses name the variant (``key@q4_k_m``) as LM Studio does.
        devices: where the model file is: ``None`` for this machine, else an LM Link device
            identifier; one key may be on several devices (``lms ls`` lists it once per device).
        reasoning_options: the ``capabilities.reasoning.allowed_options`` REST v1 lists for it;
            ``None`` lists no reasoning object (``("off", "on")`` by default for reasoning models).
        reasoning_default: the default among ``reasoning_options`` (``"on"`` when not given).
        variants: for a multi-variant model, its variant names (REST v1 lists ``variants`` and
            ``selected_variant`` only then).
        moe_experts: for a mixture-of-experts model, its default ``num_experts``.
    """

    key: str
    type: ModelType = "llm"
    display_name: str | None = None
    publisher: str | None = None
    architecture: str = "llama"
    quantization: str = "Q4_K_M"
    bits: int = 4
    size_bytes: int = 2_000_000_000
    params_string: str | None = "4B"
    max_context_length: int = 32768
    default_context_length: int = 4096
    format: str = "gguf"
    path: str | None = None
    vision: bool = False
    trained_for_tool_use: bool = False
    reasoning_shape: ReasoningShape | None = None
    embedding_dimensions: int = 8
    variant_in_response: bool = False
    devices: tuple[str | None, ...] = (None,)
    reasoning_options: tuple[str, ...] | None = None
    reasoning_default: str | None = None
    variants: tuple[str, ...] = ()
    moe_experts: int | None = None

    @property
    def name(self) -> str:
        """The display name, derived from the key when not given."""
        if self.display_name is not None:
            return self.display_name
        return self.key.rsplit("/", 1)[-1]

    @property
    def publisher_name(self) -> str:
        """The publisher, derived from the key when not given."""
        if self.publisher is not None:
            return self.publisher
        return self.key.split("/", 1)[0] if "/" in self.key else "lmstudio-community"

    @property
    def file_path(self) -> str:
        """The model file's path relative to the models folder."""
        if self.path is not None:
            return self.path
        base = self.key.rsplit("/", 1)[-1]
        return f"{self.publisher_name}/{base}-GGUF/{base}-{self.quantization}.{self.format}"

    @property
    def is_embedding(self) -> bool:
        """Whether this is an embedding model (not usable for chat)."""
        return self.type == "embedding"

    @property
    def lms_type(self) -> Literal["llm", "embedding"]:
        """The type as ``lms`` and REST v1 spell it (a VLM is an ``llm`` with ``vision``)."""
        return "embedding" if self.type == "embedding" else "llm"


def default_catalogue() -> list[SimModel]:
    """The simulator's default downloaded models.

    Five models: a tool-using LLM, a near-duplicate reasoning variant of it (so fuzzy name matching has
    two candidates), a vision model, a large reasoning model, and an embedding model.
    """
    return [
        SimModel(
            key="qwen/qwen3-4b",
            display_name="Qwen3 4B",
            publisher="qwen",
            architecture="qwen3",
            size_bytes=2_497_281_312,
            params_string="4B",
            max_context_length=32768,
            path="qwen/Qwen3-4B-GGUF/Qwen3-4B-Q4_K_M.gguf",
            trained_for_tool_use=True,
        ),
        SimModel(
            key="qwen/qwen3-4b-thinking-2507",
            display_name="Qwen3 4B Thinking 2507",
            publisher="qwen",
            architecture="qwen3",
            size_bytes=2_497_283_456,
            params_string="4B",
            max_context_length=262144,
            path="qwen/Qwen3-4B-Thinking-2507-GGUF/Qwen3-4B-Thinking-2507-Q4_K_M.gguf",
            trained_for_tool_use=True,
            reasoning_shape="reasoning_content",
        ),
        SimModel(
            key="google/gemma-3-4b",
            type="vlm",
            display_name="Gemma 3 4B",
            publisher="google",
            architecture="gemma3",
            size_bytes=3_341_081_600,
            params_string="4B",
            max_context_length=131072,
            path="lmstudio-community/gemma-3-4b-it-GGUF/gemma-3-4b-it-Q4_K_M.gguf",
            vision=True,
        ),
        SimModel(
            key="openai/gpt-oss-20b",
            display_name="OpenAI's gpt-oss 20B",
            publisher="openai",
            architecture="gpt-oss",
            quantization="MXFP4",
            bits=4,
            size_bytes=12_109_565_632,
            params_string="20B",
            max_context_length=131072,
            path="lmstudio-community/gpt-oss-20b-GGUF/gpt-oss-20b-MXFP4.gguf",
            trained_for_tool_use=True,
            reasoning_shape="reasoning",
            reasoning_options=("low", "medium", "high"),
            reasoning_default="medium",
            moe_experts=4,
            variants=("openai/gpt-oss-20b@mxfp4", "openai/gpt-oss-20b@q8_0"),
        ),
        SimModel(
            key="text-embedding-nomic-embed-text-v1.5",
            type="embedding",
            display_name="Nomic Embed Text v1.5",
            publisher="nomic-ai",
            architecture="nomic-bert",
            size_bytes=84_106_624,
            params_string=None,
            max_context_length=2048,
            default_context_length=2048,
            path="nomic-ai/nomic-embed-text-v1.5-GGUF/nomic-embed-text-v1.5.Q4_K_M.gguf",
            variant_in_response=True,
        ),
    ]
