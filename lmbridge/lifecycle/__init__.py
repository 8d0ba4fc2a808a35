"""Model lifecycle: listing, loading and healing."""

from lmbridge.lifecycle.models import ModelManager, RequestKind
from lmbridge.lifecycle.server import RestAPI
from lmbridge.lifecycle.types import (
    Capabilities,
    InstanceStatus,
    ListingSource,
    LoadedInstance,
    ModelInfo,
    ModelState,
    ModelType,
    Quantization,
)

__all__ = [
    "Capabilities",
    "InstanceStatus",
    "ListingSource",
    "LoadedInstance",
    "ModelInfo",
    "ModelManager",
    "ModelState",
    "ModelType",
    "Quantization",
    "RequestKind",
    "RestAPI",
]
