"""A simulated LM Studio for tests: in-process (no sockets) or on loopback.

```python
from lmbridge.testing import Reply, SimulatedLMStudio

sim = SimulatedLMStudio(loaded=["qwen/qwen3-4b"])
sim.script("qwen/qwen3-4b", Reply("Hello!"))
async with sim.client() as http:          # or: async with sim.serve() as url: ...
    r = await http.post("/v1/chat/completions", json={"model": "qwen/qwen3-4b", "messages": [...]})
```
"""

from lmbridge.testing.catalogue import ModelType, ReasoningShape, SimModel, default_catalogue
from lmbridge.testing.context import NotLoadedStyle, UnknownModelStyle
from lmbridge.testing.core import RecordedRequest
from lmbridge.testing.failures import SimError
from lmbridge.testing.script import ANY_MODEL, Reply, Responder, ToolCallSpec, ToolCallStyle
from lmbridge.testing.simulated_lms import install_simulated_lms, read_cli_calls
from lmbridge.testing.simulator import SimulatedLMStudio
from lmbridge.testing.state import InstanceStatus, LoadVia, SimInstance, SimLoadError
from lmbridge.testing.transport import SimTransport

__all__ = [
    "ANY_MODEL",
    "InstanceStatus",
    "LoadVia",
    "ModelType",
    "NotLoadedStyle",
    "ReasoningShape",
    "RecordedRequest",
    "Reply",
    "Responder",
    "SimError",
    "SimInstance",
    "SimLoadError",
    "SimModel",
    "SimTransport",
    "SimulatedLMStudio",
    "ToolCallSpec",
    "ToolCallStyle",
    "UnknownModelStyle",
    "default_catalogue",
    "install_simulated_lms",
    "read_cli_calls",
]
