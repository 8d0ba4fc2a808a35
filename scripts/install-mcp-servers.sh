#!/usr/bin/env bash
# Installs the npm MCP servers the agent tests talk to, once, outside the repository.
# Prints the path of `mcp-server-everything`.
set -euo pipefail
readonly PREFIX=${LMBRIDGE_NPM_PREFIX:-$HOME/.cache/lmbridge/npm}
readonly PACKAGES=("@modelcontextprotocol/server-everything@2026.8.31")
readonly BIN=$PREFIX/node_modules/.bin/mcp-server-everything

if [ ! -x "$BIN" ]; then
    command -v npm >/dev/null || { echo "npm is needed for the MCP test servers (apt-get install nodejs npm)" >&2; exit 1; }
    mkdir -p "$PREFIX"
    npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error "${PACKAGES[@]}" >&2
fi
echo "$BIN"
