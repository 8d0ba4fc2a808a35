"""Embeddings through lmbridge against the real llama-server (``--embeddings --pooling mean``)."""

from __future__ import annotations

import math
import struct

from lmbridge import Bridge

EMBEDDING_DIM = 640  # Gemma 3 270M hidden size
TEXTS = ["first text", "a second, longer text than the first", "third"]


def as_float32(value: float) -> float:
    result: float = struct.unpack("<f", struct.pack("<f", value))[0]
    return result


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


async def test_embeddings_come_back_in_input_order(bridge: Bridge, model_name: str) -> None:
    result = await bridge.embed(model_name, TEXTS)
    alone = [(await bridge.embed(model_name, text))[0] for text in TEXTS]

    assert len(result) == len(TEXTS)
    assert all(len(vector) == EMBEDDING_DIM for vector in result)
    assert all(math.isfinite(x) for vector in result for x in vector)
    assert result.model == model_name and not result.model_mismatch
    # Each text embedded alone is nearest to the batch vector at its own index: the order was
    # kept. (Not equal: llama-server's batched and single embeddings differ slightly.)
    for index, vector in enumerate(alone):
        similarities = [cosine(vector, other) for other in result]
        assert similarities.index(max(similarities)) == index


async def test_base64_encoding_decodes_to_the_float_values(bridge: Bridge, model_name: str) -> None:
    floats = await bridge.embed(model_name, TEXTS, encoding_format="float")
    packed = await bridge.embed(model_name, TEXTS, encoding_format="base64")

    assert packed.raw is not None
    assert all(isinstance(item.embedding, str) for item in packed.raw.data), "sent as base64"
    assert [len(v) for v in packed] == [EMBEDDING_DIM] * len(TEXTS)
    # base64 carries float32; the JSON floats are the same float32 values printed in decimal.
    for decoded, printed in zip(packed, floats, strict=True):
        assert decoded == [as_float32(x) for x in printed]
