#!/usr/bin/env bash
# The README's test command: a virtualenv with lmbridge[dev], the npm MCP server the agent tests
# use, then pytest (extra arguments go to pytest). Integration tests against real servers skip
# unless `scripts/integration-env.sh up` ran (see docs/compatibility.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -x .venv/bin/python ]; then
    "${PYTHON:-python3}" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
LMBRIDGE_MCP_EVERYTHING=$(bash scripts/install-mcp-servers.sh)
export LMBRIDGE_MCP_EVERYTHING
exec .venv/bin/python -m pytest "$@"
