"""Agent loop over MCP sessions and Python functions."""
