"""Context windows: counting a prompt's tokens, the loaded window, and fitting before sending."""

from lmbridge.chat.tokens import ContextUsage, TokenCount
from lmbridge.chat.window import FitMode
from lmbridge.context.guard import ContextGuard

__all__ = ["ContextGuard", "ContextUsage", "FitMode", "TokenCount"]
