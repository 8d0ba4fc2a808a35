"""The chat model: wire types, results, stream assembly, reasoning, structured output, options.

It sits above :mod:`lmbridge.transport` (HTTP) and below :mod:`lmbridge.bridge`: it turns server
answers (bytes, or SSE events) into :class:`~lmbridge.chat.results.ChatResult` and stream events,
and builds request bodies. Nothing here performs I/O of its own except
:class:`~lmbridge.chat.streams.ChatStream`, which owns one HTTP stream.
"""
