"""Exact counts where the server can count (llama.cpp's routes, stood in for by a stub)."""

from __future__ import annotations

import json

import httpx

from lmbridge import Bridge

PROMPT = "<start_of_turn>user\nHello there<end_of_turn>\n<start_of_turn>model\n"


def _llama_stub(calls: list[str]) -> httpx.MockTransport:
    """llama-server's answers: templating, tokenizing and its model list with ``meta``."""

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path == "/apply-template":
            body = json.loads(request.content)
            assert body["messages"][0]["content"] == "Hello there"
            return httpx.Response(200, json={"prompt": PROMPT})
        if request.url.path == "/tokenize":
            body = json.loads(request.content)
            assert body == {"content": PROMPT, "add_special": True}
            return httpx.Response(200, json={"tokens": list(range(19))})
        if request.url.path == "/v1/models":
            row = {"id": "gemma", "object": "model", "meta": {"n_ctx": 2048, "n_ctx_train": 32768}}
            return httpx.Response(200, json={"object": "list", "data": [row]})
        return httpx.Response(404, json={"error": {"message": "File Not Found", "code": 404}})

    return httpx.MockTransport(handle)


async def test_llama_cpp_counts_exactly_with_its_loaded_window() -> None:
    calls: list[str] = []
    async with Bridge(transport=_llama_stub(calls), auto_load=False) as bridge:
        count = await bridge.count_tokens("gemma", "Hello there")
        again = await bridge.count_tokens("gemma", "Hello there")
    assert (count.tokens, count.exact) == (19, True)
    assert (count.context_length, count.max_context_length) == (2048, 32768)
    assert again == count
    assert calls.count("/apply-template") == 2, "a server that can count is asked every time"
