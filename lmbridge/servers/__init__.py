"""Several servers behind one Bridge: each server's parts, routing and failover between them,
and ``bridge.models`` over all of them. See the "Several servers" docs page."""

from lmbridge.servers.build import build_servers
from lmbridge.servers.config import for_server, server_urls
from lmbridge.servers.models import BridgeModels
from lmbridge.servers.routing import Router
from lmbridge.servers.server import Server, ServerStatus

__all__ = [
    "BridgeModels",
    "Router",
    "Server",
    "ServerStatus",
    "build_servers",
    "for_server",
    "server_urls",
]
