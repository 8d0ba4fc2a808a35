"""What ``lms`` says about memory: a model's estimate, and the machine's total.

``lms load --estimate-only <key>`` (lms 0.3.27+, lmstudio-ai/lms ``src/subcommands/load.ts``,
``printEstimatedResourceUsage``) loads nothing and logs, on stderr, lines such as::

    Model: openai/gpt-oss-120b
    Context Length: 4,096                 (only when -c was given)
    GPU Offload: 100%                     (only when --gpu was given)
    Estimated GPU Memory:   65.68 GiB
    Estimated Total Memory: 65.68 GiB
    Confidence: LOW                       (only for a low-confidence estimate)

    Estimate: This model may be loaded based on your resource guardrails settings.

(or "...will fail to load based on..."); sizes are ``formatSizeBytes1024`` (``GiB``), older docs
show ``GB``. The verdict is LM Studio's ``passesGuardrails``: "with the current guardrail settings",
judged by reports against the memory free *now* (lmstudio-bug-tracker #1471: MemAvailable), so it
is not "would it fit alone", and lmbridge reads only the figure from it.

``lms runtime survey --json`` prints LM Studio's hardware survey (``RuntimeHardwareSurveyResult``
in lmstudio-js ``lms-shared-types``): ``{"engines": [{"memoryInfo": {"ramCapacity",
"vramCapacity", "totalMemory"}, ...}]}``, the machine's memory whatever is loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lmbridge.jsonparse import JSONParseError, parse_json
from lmbridge.lifecycle.lms.output import find_json, strip_ansi

__all__ = ["LmsEstimate", "parse_estimate", "parse_total_memory"]

_UNITS = {"": 1, "K": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4}
_SIZE = r"(\d+(?:\.\d+)?)\s*(?:([KMGT])(i?)B|Bytes|B)\b"
_GPU = re.compile(r"Estimated GPU Memory:\s*" + _SIZE, re.I)
_TOTAL = re.compile(r"Estimated Total Memory:\s*" + _SIZE, re.I)
_PASSES = re.compile(r"Estimate:\s*This model may be loaded", re.I)
_FAILS = re.compile(r"Estimate:\s*This model will fail to load", re.I)


@dataclass(frozen=True)
class LmsEstimate:
    """What ``lms load --estimate-only`` printed; ``None`` for what it did not.

    Attributes:
        gpu_bytes: the estimated GPU memory.
        total_bytes: the estimated total memory (the model and its context).
        passes_guardrails: LM Studio's verdict under the current guardrails and the memory free
            now (not whether the model fits on an empty machine).
    """

    gpu_bytes: int | None
    total_bytes: int | None
    passes_guardrails: bool | None


def _bytes(match: re.Match[str] | None) -> int | None:
    if match is None:
        return None
    number, prefix, binary = match.group(1), (match.group(2) or "").upper(), match.group(3)
    # GiB (what lms prints now) is binary; the GB of older docs decimal.
    unit = 1024 ** ("KMGT".index(prefix) + 1) if binary and prefix else _UNITS[prefix]
    return round(float(number) * unit)


def parse_estimate(*texts: str) -> LmsEstimate:
    """Read the estimate from the outputs of ``lms load --estimate-only`` (stderr, then stdout)."""
    text = strip_ansi("\n".join(texts))
    verdict = True if _PASSES.search(text) else False if _FAILS.search(text) else None
    return LmsEstimate(
        gpu_bytes=_bytes(_GPU.search(text)),
        total_bytes=_bytes(_TOTAL.search(text)),
        passes_guardrails=verdict,
    )


def parse_total_memory(stdout: str) -> int | None:
    """The machine's total memory from ``lms runtime survey --json``: the largest any engine
    reports (so that a model is called too big only when it is, for every engine); ``None`` when
    the output has no such figure."""
    found = find_json(stdout, "object")
    if found is None:
        return None
    try:
        survey = parse_json(found)
    except JSONParseError:
        return None
    engines = survey.get("engines") if isinstance(survey, dict) else None
    totals = [
        engine["memoryInfo"].get("totalMemory")
        for engine in engines or []
        if isinstance(engine, dict) and isinstance(engine.get("memoryInfo"), dict)
    ]
    numbers = [int(t) for t in totals if isinstance(t, (int, float)) and not isinstance(t, bool)]
    return max(numbers) if numbers and max(numbers) > 0 else None
