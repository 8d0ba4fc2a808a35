"""LM Studio's documented JSON examples, copied verbatim (as Python literals) from the
repository lmstudio-ai/docs at commit c6854fba2575bf21e07702ee210e1bed09e7c577.

The simulator's answers are checked against these shapes (tests/testing/test_sim_documented.py)
and the client parses them (tests/lifecycle/test_lmstudio_04.py). Each constant names its source.
"""

from __future__ import annotations

from typing import Any

# 1_developer/2_rest/list.md, the "Response" example
LIST_MODELS: dict[str, Any] = {
    "models": [
        {
            "type": "llm",
            "publisher": "google",
            "key": "google/gemma-4-26b-a4b",
            "display_name": "Gemma 4 26B A4B",
            "architecture": "gemma4",
            "quantization": {"name": "Q4_K_M", "bits_per_weight": 4},
            "size_bytes": 17990911801,
            "params_string": "26B-A4B",
            "loaded_instances": [
                {
                    "id": "google/gemma-4-26b-a4b",
                    "config": {
                        "context_length": 4096,
                        "eval_batch_size": 512,
                        "parallel": 4,
                        "flash_attention": True,
                        "num_experts": 8,
                        "offload_kv_cache_to_gpu": True,
                    },
                }
            ],
            "max_context_length": 262144,
            "format": "gguf",
            "capabilities": {
                "vision": True,
                "trained_for_tool_use": True,
                "reasoning": {"allowed_options": ["off", "on"], "default": "on"},
            },
            "description": None,
            "variants": ["google/gemma-4-26b-a4b@q4_k_m"],
            "selected_variant": "google/gemma-4-26b-a4b@q4_k_m",
        },
        {
            "type": "llm",
            "publisher": "deepseek",
            "key": "deepseek-r1",
            "display_name": "DeepSeek R1",
            "architecture": "deepseek",
            "quantization": {"name": "Q4_K_M", "bits_per_weight": 4},
            "size_bytes": 40492610355,
            "params_string": "671B",
            "loaded_instances": [],
            "max_context_length": 131072,
            "format": "gguf",
            "capabilities": {
                "vision": False,
                "trained_for_tool_use": True,
                "reasoning": {"allowed_options": ["on"], "default": "on"},
            },
            "description": None,
        },
        {
            "type": "embedding",
            "publisher": "gaianet",
            "key": "text-embedding-nomic-embed-text-v1.5-embedding",
            "display_name": "Nomic Embed Text v1.5",
            "quantization": {"name": "F16", "bits_per_weight": 16},
            "size_bytes": 274290560,
            "params_string": None,
            "loaded_instances": [],
            "max_context_length": 2048,
            "format": "gguf",
        },
    ]
}

# 1_developer/2_rest/load.md, the "Response" example
LOAD_RESPONSE: dict[str, Any] = {
    "type": "llm",
    "instance_id": "openai/gpt-oss-20b",
    "load_time_seconds": 9.099,
    "status": "loaded",
    "load_config": {
        "context_length": 16384,
        "eval_batch_size": 512,
        "flash_attention": True,
        "offload_kv_cache_to_gpu": True,
        "num_experts": 4,
    },
}

# 1_developer/2_rest/download.md, the "Response" example
DOWNLOAD_RESPONSE: dict[str, Any] = {
    "job_id": "job_493c7c9ded",
    "status": "downloading",
    "total_size_bytes": 2279145003,
    "started_at": "2025-10-03T15:33:23.496Z",
}

# 1_developer/2_rest/download-status.md, the "Response" example
DOWNLOAD_STATUS_RESPONSE: dict[str, Any] = {
    "job_id": "job_493c7c9ded",
    "status": "completed",
    "total_size_bytes": 2279145003,
    "downloaded_bytes": 2279145003,
    "started_at": "2025-10-03T15:33:23.496Z",
    "completed_at": "2025-10-03T15:43:12.102Z",
}

# 1_developer/2_rest/unload.md, the "Response" example
UNLOAD_RESPONSE: dict[str, Any] = {"instance_id": "openai/gpt-oss-20b"}

# 1_developer/2_rest/streaming-events.md, the `model_load.progress` example
MODEL_LOAD_PROGRESS_EVENT: dict[str, Any] = {
    "type": "model_load.progress",
    "model_instance_id": "openai/gpt-oss-20b",
    "progress": 0.65,
}

# 1_developer/2_rest/streaming-events.md, the `model_load.end` example
MODEL_LOAD_END_EVENT: dict[str, Any] = {
    "type": "model_load.end",
    "model_instance_id": "openai/gpt-oss-20b",
    "load_time_seconds": 12.34,
}

# 1_developer/2_rest/streaming-events.md, the `model_load.start` example
MODEL_LOAD_START_EVENT: dict[str, Any] = {
    "type": "model_load.start",
    "model_instance_id": "openai/gpt-oss-20b",
}

# 1_developer/2_rest/streaming-events.md, the `error` example
ERROR_EVENT: dict[str, Any] = {
    "type": "error",
    "error": {
        "type": "invalid_request",
        "message": '"model" is required',
        "code": "missing_required_parameter",
        "param": "model",
    },
}
