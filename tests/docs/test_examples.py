"""Every example script and the example notebook run, on the simulator (no LM Studio here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# Nothing listens on port 9: every example must fall back to the simulated LM Studio.
NO_SERVER = {**os.environ, "LMBRIDGE_BASE_URL": "http://127.0.0.1:9"}

# What each script must print; agent_mcp.py is run by tests/agent/test_loop_example.py.
EXPECTED = {
    "gather_models.py": ["google/gemma-3-4b", "3 models in"],
    "several_servers.py": [
        "from the gpu-box",
        "answered by the gpu-box",
        "circuit closed -> open",
        "8 answers: 8 from the laptop",
        "gpu-box  state=down",
        "CircuitOpenError: gpu-box down after",
        "answered by the laptop",
    ],
    "streaming.py": ["finish_reason=stop", "the connection is free again"],
    "structured_output.py": ["Tokyo, Japan: 37,400,000 people"],
    "sync_facade.py": ["Hello from a plain function call!", "8 answers from 8 threads"],
}


def test_every_example_is_run_by_a_test() -> None:
    scripts = {p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_")}
    assert scripts == {*EXPECTED, "agent_mcp.py"}


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_an_example_runs_on_the_simulator(script: str) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        capture_output=True,
        text=True,
        env=NO_SERVER,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "using the simulated LM Studio" in done.stderr
    for text in EXPECTED[script]:
        assert text in done.stdout


def test_the_notebook_runs_and_shows_html(monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    notebook = nbformat.read(EXAMPLES / "notebook.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=60,
        kernel_name="python3",
        resources={"metadata": {"path": str(EXAMPLES)}},
    )
    monkeypatch.setenv("LMBRIDGE_BASE_URL", NO_SERVER["LMBRIDGE_BASE_URL"])  # the kernel's too
    client.execute()
    html = [
        output["data"]["text/html"]
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "text/html" in output.get("data", {})
    ]
    titles = ["ChatResult", "models", "EmbeddingResult", "LoadedInstance", "AgentResult"]
    for title in titles:
        assert any(title in page for page in html), f"no HTML display of {title}"
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
