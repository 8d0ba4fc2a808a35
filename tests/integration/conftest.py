"""Fixtures for the tests against real servers (see docs/compatibility.md).

Every test in this directory is marked ``integration``. The environment comes from the
``LMBRIDGE_IT_*`` variables (``eval "$(scripts/integration-env.sh env)"``) or, when they are unset,
from the file ``scripts/integration-env.sh up`` writes. Without a live environment the tests skip,
unless ``LMBRIDGE_REQUIRE_INTEGRATION=1`` (set in CI): then they fail, so a broken bring-up can
never pass as a green run of skipped tests.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from lmbridge import Bridge
from tests.integration.bridge_support import REQUEST_TIMEOUT_S
from tests.integration.llama_server import PrivateLlamaServer, run_llama_server

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

HERE = Path(__file__).resolve().parent
CHAT_TEMPLATE = HERE.parent.parent / "scripts" / "gemma3-tools.jinja"
NOT_UP = "integration environment not up: run scripts/integration-env.sh up"
REQUIRE_VAR = "LMBRIDGE_REQUIRE_INTEGRATION"
_REQUIRED_VARS = (
    "LMBRIDGE_IT_LLAMA_URL",
    "LMBRIDGE_IT_LLAMA_AUTH_URL",
    "LMBRIDGE_IT_API_KEY",
    "LMBRIDGE_IT_MODEL",
    "LMBRIDGE_IT_LLAMA_BIN",
    "LMBRIDGE_IT_MODEL_PATH",
)
_MCP_EVERYTHING_VAR = "LMBRIDGE_MCP_EVERYTHING"


@dataclass(frozen=True)
class IntegrationEnv:
    """What ``scripts/integration-env.sh up`` started."""

    llama_url: str
    llama_auth_url: str
    api_key: str
    model: str
    llama_bin: Path
    model_path: Path
    mcp_everything: Path | None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test collected from this directory ``integration``."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)


def _env_file() -> Path:
    state = os.environ.get("LMBRIDGE_INTEGRATION_HOME") or str(
        Path.home() / ".cache" / "lmbridge" / "integration"
    )
    return Path(state) / "run" / "env.sh"


def _read_env_file(path: Path) -> dict[str, str]:
    """Parse the ``export NAME=value`` lines (values quoted by bash's ``printf %q``)."""
    variables: dict[str, str] = {}
    for line in path.read_text().splitlines():
        words = shlex.split(line, comments=True)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, _, value = words[1].partition("=")
            variables[name] = value
    return variables


def _environment_variables() -> dict[str, str]:
    if "LMBRIDGE_IT_LLAMA_URL" in os.environ:
        return dict(os.environ)
    path = _env_file()
    return _read_env_file(path) if path.is_file() else {}


def _unreachable(url: str) -> str | None:
    """Return why ``url``'s llama-server is not serving, or None when it is."""
    try:
        response = httpx.get(f"{url}/health", timeout=3.0)
    except httpx.TransportError as exc:
        return f"{url}/health: {type(exc).__name__}"
    return None if response.status_code == 200 else f"{url}/health: HTTP {response.status_code}"


def _resolve() -> IntegrationEnv | str:
    """Return the live environment, or why there is none."""
    variables = _environment_variables()
    if "LMBRIDGE_IT_LLAMA_URL" not in variables:
        return NOT_UP
    missing = [name for name in _REQUIRED_VARS if not variables.get(name)]
    if missing:
        return f"{NOT_UP} (unset: {', '.join(missing)})"
    env = IntegrationEnv(
        llama_url=variables["LMBRIDGE_IT_LLAMA_URL"],
        llama_auth_url=variables["LMBRIDGE_IT_LLAMA_AUTH_URL"],
        api_key=variables["LMBRIDGE_IT_API_KEY"],
        model=variables["LMBRIDGE_IT_MODEL"],
        llama_bin=Path(variables["LMBRIDGE_IT_LLAMA_BIN"]),
        model_path=Path(variables["LMBRIDGE_IT_MODEL_PATH"]),
        mcp_everything=Path(variables[_MCP_EVERYTHING_VAR])
        if variables.get(_MCP_EVERYTHING_VAR)
        else None,
    )
    for url in (env.llama_url, env.llama_auth_url):
        if reason := _unreachable(url):
            return f"{NOT_UP} ({reason})"
    return env


def _unavailable(reason: str) -> None:
    """Skip, or fail when the environment is required."""
    if os.environ.get(REQUIRE_VAR) == "1":
        pytest.fail(f"{reason} [{REQUIRE_VAR}=1]", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def integration_env() -> IntegrationEnv:
    """The live environment; skips (or fails, see module doc) when it is not up."""
    resolved = _resolve()
    if isinstance(resolved, str):
        _unavailable(resolved)
        raise AssertionError("unreachable: skip and fail raise")
    return resolved


@pytest.fixture(autouse=True)
def _require_integration_env(integration_env: IntegrationEnv) -> None:
    """Apply the skip/fail decision to every test here, even those that take no fixture."""


@pytest.fixture
def llama_url(integration_env: IntegrationEnv) -> str:
    """Base URL of the main llama-server (embeddings on, no API key); append ``/v1``."""
    return integration_env.llama_url


@pytest.fixture
def llama_auth_url(integration_env: IntegrationEnv) -> str:
    """Base URL of the llama-server that demands ``api_key`` and has no embeddings."""
    return integration_env.llama_auth_url


@pytest.fixture
def api_key(integration_env: IntegrationEnv) -> str:
    """The API key of the ``llama_auth_url`` server."""
    return integration_env.api_key


@pytest.fixture
def model_name(integration_env: IntegrationEnv) -> str:
    """The model id the servers report (``gemma-3-270m``)."""
    return integration_env.model


@pytest.fixture
def llama_bin(integration_env: IntegrationEnv) -> Path:
    """The ``llama-server`` executable."""
    return integration_env.llama_bin


@pytest.fixture
def model_path(integration_env: IntegrationEnv) -> Path:
    """The ``.gguf`` model file."""
    return integration_env.model_path


@pytest.fixture
def chat_template() -> Path:
    """The tool-calling Gemma 3 chat template the servers run with."""
    return CHAT_TEMPLATE


@pytest.fixture
def mcp_everything(integration_env: IntegrationEnv) -> Path:
    """The ``mcp-server-everything`` executable (run it with the argument ``stdio``)."""
    if integration_env.mcp_everything is None:
        _unavailable(f"{_MCP_EVERYTHING_VAR} unset (npm missing when the environment came up)")
        raise AssertionError("unreachable: skip and fail raise")
    return integration_env.mcp_everything


@pytest.fixture
async def private_llama_server(
    llama_bin: Path, model_path: Path, model_name: str, chat_template: Path, tmp_path: Path
) -> AsyncIterator[PrivateLlamaServer]:
    """A llama-server of this test's own (e.g. to kill mid-stream); always terminated afterwards."""
    async with run_llama_server(
        llama_bin=llama_bin,
        model_path=model_path,
        model_name=model_name,
        chat_template=chat_template,
        log_path=tmp_path / "llama-server.log",
    ) as server:
        yield server


# --- fixtures for the tests that go through lmbridge.Bridge ----------------------------------------


@pytest.fixture
def missing_lms(tmp_path: Path) -> Path:
    """A path with no ``lms`` behind it: ``Bridge(lms_path=...)`` then never runs LM Studio's CLI.

    llama-server is not LM Studio; a developer's own ``lms`` must not be consulted about it.
    """
    return tmp_path / "no-lms-here" / "lms"


@pytest.fixture
async def bridge(llama_url: str, missing_lms: Path) -> AsyncIterator[Bridge]:
    """A Bridge on the main llama-server (no ``lms``, a generous read timeout)."""
    async with Bridge(llama_url, lms_path=missing_lms, timeout=REQUEST_TIMEOUT_S) as bridge:
        yield bridge
