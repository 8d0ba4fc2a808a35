"""Tests against real servers: llama.cpp's llama-server and npm MCP servers."""
