"""The house's layering, read from the source with ``ast`` so it stays true.

Every ``import`` counts: at module level, inside functions, and under ``if TYPE_CHECKING:``
(a type-only import still ties the two modules together for a reader and for mypy).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "lmbridge"

# Which layers each layer may import, besides itself. Errors, jsonparse (parsing untrusted JSON,
# every failure one ValueError) and display (the renderers behind reprs and notebook displays)
# are at the bottom; transport is pure HTTP; the chat model sits on transport; lifecycle sits on
# errors alone (never transport: it reaches the server through a protocol the transport
# satisfies); the agent loop sits on the chat model; the Bridge on all of them; the sync facade
# on the Bridge; the entry points on top (the command line among them, and `terminal`, what it
# and the demo share about writing to a person, at the bottom). The simulator imports nothing of
# the library, so testing with it tests the library and not a copy of its internals.
ALLOWED: dict[str, set[str]] = {
    "jsonparse": set(),
    "errors": set(),
    "display": set(),
    # Events, timings and the usage report sit beside errors: transport, lifecycle, chat and the
    # agent all emit them. OpenTelemetry (telemetry/) is an events consumer the Bridge plugs in.
    "events": set(),
    "telemetry": {"events"},
    "transport": {"jsonparse", "errors", "events"},
    "chat": {"jsonparse", "errors", "transport", "display", "events"},
    "lifecycle": {"jsonparse", "errors", "display", "events"},
    "agent": {"jsonparse", "errors", "chat", "display", "events"},
    "mcp_config": {"errors"},
    # The model call path (the guard, observed) below the Bridge, on what the Bridge builds.
    "calls": {"jsonparse", "errors", "transport", "chat", "lifecycle", "events"},
    # Fitting prompts into the loaded context window: on the transport, the chat model and the
    # model manager, below the Bridge.
    "context": {"jsonparse", "errors", "transport", "chat", "lifecycle", "display", "events"},
    # Several servers: each server's parts, routing and failover, and `bridge.models` over them,
    # on the call path and the context guard, below the Bridge.
    "servers": {"errors", "transport", "lifecycle", "calls", "context", "display", "events"},
    "bridge": {
        "servers",
        "jsonparse",
        "errors",
        "transport",
        "chat",
        "lifecycle",
        "agent",
        "events",
        "telemetry",
        "calls",
        "context",
        "endpoints",
    },
    # The facade's other calls (embeddings, completions, streamed responses), which Bridge inherits.
    "endpoints": {"jsonparse", "errors", "transport", "chat", "lifecycle", "events", "servers"},
    "sync": {
        "errors",
        "transport",
        "chat",
        "lifecycle",
        "agent",
        "context",
        "bridge",
        "events",
        "servers",
    },
    "terminal": set(),
    "demo": {"errors", "transport", "chat", "lifecycle", "bridge", "terminal", "testing"},
    # The MCP server sits on top, beside the demo: it serves the whole library to MCP hosts.
    "mcp_server": {
        "errors",
        "transport",
        "chat",
        "lifecycle",
        "agent",
        "mcp_config",
        "bridge",
    },
    # The command line sits on the Bridge like the demo, and runs the demo and the MCP server.
    "cli": {
        "__init__",  # __version__ alone: the package imports its names lazily, so no circle
        "errors",
        "transport",
        "chat",
        "lifecycle",
        "bridge",
        "terminal",
        "demo",
        "mcp_server",
    },
    "__main__": {"cli"},
    "__init__": {
        "jsonparse",
        "events",
        "errors",
        "transport",
        "chat",
        "lifecycle",
        "agent",
        "context",
        "mcp_config",
        "bridge",
        "sync",
        "display",
        "servers",
    },
    "testing": set(),
}

# The error catalogue is one flat module on purpose, and the simulated `lms` is one standalone
# script (run as `python -I file`, standard library only, so it cannot import a sibling);
# nothing else grows past this.
MAX_LINES = 450
LONG_MODULES_ALLOWED = {"errors.py", "lms_cli.py"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def layer(module: str) -> str:
    parts = module.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def imports_of(module: str) -> Iterator[str]:
    """Every lmbridge module ``module`` imports (packages resolved to the module imported)."""
    path = MODULES[module]
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                origin = ".".join([*base, *([node.module] if node.module else [])])
            else:
                origin = node.module or ""
            names = [
                f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in MODULES else origin
                for alias in node.names
            ]
        else:
            continue
        for name in names:
            while name and name not in MODULES and "." in name:
                name = name.rsplit(".", 1)[0]
            if name in MODULES and name != module and name.startswith("lmbridge"):
                yield name


GRAPH = {module: set(imports_of(module)) for module in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_graph_is_read() -> None:
    # Guards the reader itself: a parser that found nothing would make every test below pass.
    assert "lmbridge.chat.results" in GRAPH["lmbridge.bridge"]
    assert "lmbridge.transport.sse" in GRAPH["lmbridge.transport.client"]
    assert {"lmbridge.bridge", "lmbridge.agent.loop", "lmbridge.testing"} <= set(GRAPH)
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles() -> None:
    assert cycles(GRAPH) == []


def test_every_module_belongs_to_a_known_layer() -> None:
    assert {layer(module) for module in MODULES} <= set(ALLOWED)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_run_down_the_layers(module: str) -> None:
    own = layer(module)
    upward = sorted(
        target
        for target in GRAPH[module]
        if layer(target) != own and layer(target) not in ALLOWED[own]
    )
    assert upward == [], f"{module} ({own}) imports {upward}"


def test_modules_stay_readable() -> None:
    long = {
        module: lines
        for module, path in MODULES.items()
        if path.name not in LONG_MODULES_ALLOWED
        and (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
