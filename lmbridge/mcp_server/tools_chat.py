"""Tools that ask a model once: chat, text completion, the Responses API, embeddings, images."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from lmbridge.chat.requests import SamplingOptions
from lmbridge.mcp_server.context import ServerContext, tool_errors
from lmbridge.mcp_server.formatting import (
    ChatReply,
    EmbeddingsReply,
    ResponseReply,
    TextReply,
    chat_reply,
    embeddings_reply,
    response_reply,
    text_reply,
)
from lmbridge.mcp_server.images import image_part

__all__ = ["register_chat_tools"]

_MODEL = Field(
    description="The model key or loaded instance identifier; default: the one loaded model."
)
_MAX_TOKENS = Field(description="The most tokens to generate.", ge=1)
_TEMPERATURE = Field(description="Sampling temperature (0 = deterministic).", ge=0, le=2)

Model = Annotated[str | None, _MODEL]
MaxTokens = Annotated[int | None, _MAX_TOKENS]
Temperature = Annotated[float | None, _TEMPERATURE]


def _sampling(max_tokens: int | None, temperature: float | None) -> SamplingOptions:
    # Left out when not given, so the server's (or the model's) defaults apply.
    options: SamplingOptions = {}
    if max_tokens is not None:
        options["max_tokens"] = max_tokens
    if temperature is not None:
        options["temperature"] = temperature
    return options


def register_chat_tools(server: MCPServer[Any], state: ServerContext) -> None:
    """Add ``chat_completion``, ``text_completion``, ``create_response``,
    ``generate_embeddings`` and ``analyze_image`` to ``server``."""
    bridge = state.bridge

    @server.tool()
    async def chat_completion(
        prompt: Annotated[
            str | None, Field(description="A single user message (or pass `messages`).")
        ] = None,
        messages: Annotated[
            list[dict[str, Any]] | None,
            Field(
                description='A conversation in OpenAI chat format, e.g. [{"role": "system", '
                '"content": "..."}, {"role": "user", "content": "..."}] (or pass `prompt`).'
            ),
        ] = None,
        model: Model = None,
        max_tokens: MaxTokens = None,
        temperature: Temperature = None,
        response_format: Annotated[
            dict[str, Any] | None,
            Field(
                description="A JSON schema the answer must follow (or an OpenAI "
                "response_format object); the parsed answer is returned in `parsed`."
            ),
        ] = None,
    ) -> ChatReply:
        """Ask a local model for a chat reply. Give either `prompt` or `messages`."""
        if (prompt is None) == (messages is None):
            raise ToolError("Give exactly one of `prompt` and `messages`")
        conversation: str | list[dict[str, Any]] = prompt if prompt is not None else messages or []
        with tool_errors():
            name = await state.pick_model(model)
            result = await bridge.chat(
                name,
                conversation,
                response_format=response_format,
                **_sampling(max_tokens, temperature),
            )
        return chat_reply(result)

    @server.tool()
    async def text_completion(
        prompt: Annotated[str, Field(description="The text to continue.")],
        model: Model = None,
        max_tokens: MaxTokens = None,
        temperature: Temperature = None,
    ) -> TextReply:
        """Continue raw text with a local model, with no chat template (code completion,
        fill-in)."""
        with tool_errors():
            name = await state.pick_model(model)
            result = await bridge.complete(name, prompt, **_sampling(max_tokens, temperature))
        return text_reply(result)

    @server.tool()
    async def create_response(
        input: Annotated[str, Field(description="The user's message.")],
        model: Model = None,
        previous_response_id: Annotated[
            str | None,
            Field(description="The `id` of an earlier response, to continue that conversation."),
        ] = None,
    ) -> ResponseReply:
        """Ask through LM Studio's stateful Responses API (LM Studio 0.3.29+): pass the returned
        `id` as `previous_response_id` to continue without resending the conversation."""
        with tool_errors():
            name = await state.pick_model(model)
            result = await bridge.respond(name, input, previous_response_id=previous_response_id)
        return response_reply(result)

    @server.tool()
    async def generate_embeddings(
        texts: Annotated[
            list[str], Field(description="The texts to embed (one or more).", min_length=1)
        ],
        model: Annotated[str, Field(description="The embedding model's key.")],
    ) -> EmbeddingsReply:
        """Turn texts into embedding vectors (one per text, in order) with a local embedding
        model."""
        with tool_errors():
            result = await bridge.embed(model, texts)
        return embeddings_reply(result)

    @server.tool()
    async def analyze_image(
        image: Annotated[
            str,
            Field(description="An image file path, an http(s) URL, or a data:image/... URI."),
        ],
        prompt: Annotated[str, Field(description="What to do with the image.")],
        model: Annotated[
            str | None,
            Field(description="A vision model; default: the one loaded model."),
        ] = None,
    ) -> ChatReply:
        """Ask a local vision model about an image (describe it, read its text, answer a
        question about it)."""
        with tool_errors():
            part = await image_part(image)
            name = await state.pick_model(model)
            message = {"role": "user", "content": [{"type": "text", "text": prompt}, part]}
            result = await bridge.chat(name, [message])
        return chat_reply(result)
