"""Deterministic pseudo-embeddings: the same text always gets the same unit vector."""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from typing import Any

__all__ = ["embedding_inputs", "encode_base64", "pseudo_vector"]


def pseudo_vector(text: str, *, dimensions: int, salt: str = "") -> list[float]:
    """A unit-length vector derived from a hash of ``text``, rounded to float32 precision.

    Rounding to float32 means the float and base64 encodings of a vector carry identical values.
    """
    values: list[float] = []
    counter = 0
    while len(values) < dimensions:
        digest = hashlib.sha256(f"{salt}\x00{counter}\x00{text}".encode()).digest()
        for i in range(0, len(digest), 4):
            (word,) = struct.unpack("<I", digest[i : i + 4])
            values.append(word / 0xFFFFFFFF * 2.0 - 1.0)
        counter += 1
    values = values[:dimensions]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    packed = struct.pack(f"<{dimensions}f", *(v / norm for v in values))
    return list(struct.unpack(f"<{dimensions}f", packed))


def encode_base64(vector: list[float]) -> str:
    """Little-endian float32 bytes, base64-encoded (OpenAI's ``encoding_format: "base64"``)."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def embedding_inputs(value: Any) -> list[str] | None:
    """The texts of an embeddings ``input``: a string, a list of strings, or token arrays.

    Token arrays are hashed by their text form. Returns ``None`` for anything else.
    """
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(v, str) for v in value):
            return list(value)
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return [repr(value)]
        if all(isinstance(v, list) for v in value):
            return [repr(v) for v in value]
    return None
