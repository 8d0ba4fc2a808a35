"""Reading ``lms load --estimate-only`` and ``lms runtime survey --json`` as the real CLI prints them."""

from __future__ import annotations

import json

import pytest

from lmbridge.lifecycle.lms.estimate import LmsEstimate, parse_estimate, parse_total_memory

GIB = 1024**3

# printEstimatedResourceUsage (lms src/subcommands/load.ts), colours on (chalk green / yellow).
ESTIMATE = (
    "Model: openai/gpt-oss-20b\n"
    "Context Length: 8,192\n"
    "Estimated GPU Memory:   \x1b[33m12.41 GiB\x1b[39m\n"
    "Estimated Total Memory: \x1b[33m13.02 GiB\x1b[39m\n"
    "Confidence: \x1b[33mLOW\x1b[39m\n"
    "\n"
    "Estimate: \x1b[33mThis model will fail to load based on your resource guardrails settings."
    "\x1b[39m\n"
)


def test_the_estimate_figures_and_verdict() -> None:
    assert parse_estimate(ESTIMATE, "") == LmsEstimate(
        gpu_bytes=round(12.41 * GIB), total_bytes=round(13.02 * GIB), passes_guardrails=False
    )


def test_the_docs_example_in_decimal_gb() -> None:
    # lmstudio-ai/docs 3_cli/0_local-models/load.md
    text = (
        "Model: openai/gpt-oss-120b\nEstimated GPU Memory:   65.68 GB\n"
        "Estimated Total Memory: 65.68 GB\n\n"
        "Estimate: This model may be loaded based on your resource guardrails settings.\n"
    )
    assert parse_estimate(text) == LmsEstimate(65_680_000_000, 65_680_000_000, True)


def test_output_without_an_estimate_reads_as_unknown() -> None:
    assert parse_estimate("error: unknown option '--estimate-only'") == LmsEstimate(
        None, None, None
    )


def survey(*totals: object) -> str:
    engines = [{"engine": "llama.cpp", "memoryInfo": {"totalMemory": t}} for t in totals]
    return json.dumps({"status": "ok", "engines": engines}, indent=2)


@pytest.mark.parametrize(
    ("stdout", "total"),
    [
        (survey(34 * GIB), 34 * GIB),
        (survey(16 * GIB, 48 * GIB), 48 * GIB),  # the largest: "too big" only if for every one
        ("[LMStudioClient] Connecting...\n" + survey(8 * GIB), 8 * GIB),
        (survey(), None),
        (survey(0), None),
        (survey("lots", True), None),
        ("No runtime survey results\n", None),
    ],
)
def test_the_total_memory_from_the_survey(stdout: str, total: int | None) -> None:
    assert parse_total_memory(stdout) == total
