"""``doctor``: is the setup sound, and what to do about each thing that is not.

Each check says what it saw (``detail``) and, when something is off, what to do (``hint``). Only
essential checks decide the exit status: the server must answer and accept the token. A missing
``lms`` is a warning (lmbridge falls back to the REST API), and the rest are facts to know.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict, dataclass
from typing import Any

from lmbridge.bridge import Bridge
from lmbridge.cli.models import human_ttl
from lmbridge.cli.output import Output
from lmbridge.errors import (
    APIConnectionError,
    AuthenticationError,
    LMBridgeError,
)
from lmbridge.lifecycle.server import LmsGate
from lmbridge.lifecycle.types import LoadedInstance, ModelInfo

__all__ = ["Check", "doctor", "run_checks"]

_TOKEN_HINT = (
    "Set LM_API_TOKEN (or pass --token) to the token in LM Studio's Developer tab, server "
    "settings; or turn 'Require authentication' off there."
)


@dataclass(frozen=True)
class Check:
    """One finding.

    Attributes:
        name: what was checked (``server``, ``token``, ``version``, ``models``, ``lms``,
            ``loaded``, ``jit``).
        ok: whether it is as it should be.
        detail: what was seen.
        hint: what to do, when not ok (or worth knowing).
        essential: whether a failure makes the whole check fail (exit status 1).
    """

    name: str
    ok: bool
    detail: str
    hint: str | None = None
    essential: bool = False


async def run_checks(bridge: Bridge, *, token_given: bool) -> list[Check]:
    """Every check, in order; later ones are skipped when the server cannot be asked."""
    url = bridge.base_url
    checks: list[Check] = []
    try:
        served = await bridge.http.get_json("/v1/models")
    except AuthenticationError:
        checks.append(Check("server", True, f"a server answers at {url}", essential=True))
        checks.append(
            Check(
                "token",
                False,
                "the token was refused" if token_given else "the server requires an API token",
                _TOKEN_HINT,
                essential=True,
            )
        )
        return checks
    except APIConnectionError as error:
        checks.append(Check("server", False, f"nothing answers at {url}", error.hint, True))
        return checks
    except LMBridgeError as error:
        checks.append(Check("server", False, f"{url}: {error.message}", error.hint, True))
        return checks
    checks.append(Check("server", True, f"a server answers at {url}", essential=True))
    checks.append(
        Check(
            "token",
            True,
            "accepted" if token_given else "none given, none needed",
            essential=True,
        )
    )
    checks.append(await _version(bridge))
    try:
        listing = await bridge.models.list()
        instances = await bridge.models.loaded()
    except LMBridgeError as error:
        checks.append(Check("models", False, f"listing failed: {error.message}", error.hint, True))
        return checks
    checks.append(_models(listing, bridge.models.source))
    checks.append(await _lms(bridge))
    checks.append(_loaded(instances))
    checks.append(_jit(served, listing, instances))
    return checks


async def _version(bridge: Bridge) -> Check:
    try:
        status = await bridge.http.get_json("/lms-status")
    except LMBridgeError:  # a 404, or a page that is not JSON: not LM Studio's route
        return Check(
            "version",
            True,
            "unknown: not LM Studio, or one too old to say (no /lms-status)",
            "Model loading and listing need LM Studio 0.3.6 or later; other servers get chat only.",
        )
    version = status.get("version") if isinstance(status, dict) else None
    return Check("version", True, f"LM Studio {version}" if version else "LM Studio")


def _models(listing: list[ModelInfo], source: str | None) -> Check:
    if not listing:
        return Check(
            "models",
            False,
            f"no models downloaded (listed from {source})",
            "Download one in LM Studio, or: lms get qwen/qwen3-4b",
        )
    chat = sum(1 for model in listing if model.type != "embedding")
    detail = f"{len(listing)} downloaded, {chat} for chat (listed from {source})"
    if source == "/v1/models":
        return Check(
            "models",
            True,
            detail,
            "This server lists names only: lmbridge cannot see load state, and cannot load.",
        )
    return Check("models", True, detail)


async def _lms(bridge: Bridge) -> Check:
    path = await bridge.lms.locate()
    if path is None:
        return Check(
            "lms",
            False,
            "the lms CLI was not found",
            "lmbridge works without it (REST API), but loads with --ttl, --gpu and --identifier "
            "need it. LM Studio installs it: run `~/.lmstudio/bin/lms bootstrap`, or set LMS_PATH.",
        )
    gate = LmsGate(lms=bridge.lms, base_url=bridge.base_url)
    if await gate.usable():
        return Check("lms", True, f"{path}, managing this server")
    return Check(
        "lms",
        False,
        f"{path} found but not used: {gate.problem}",
        "lms drives the LM Studio on this machine only; point --base-url at it "
        "(`lms server status` shows the port) or start it with `lms server start`.",
    )


def _loaded(instances: list[LoadedInstance]) -> Check:
    if not instances:
        return Check(
            "loaded",
            True,
            "nothing loaded",
            "Requests load what they need (auto_load); to load ahead: lmbridge load KEY",
        )
    shown = []
    for instance in instances:
        facts = [instance.status or "", f"TTL {human_ttl(instance.ttl)}" if instance.ttl else ""]
        facts_text = ", ".join(fact for fact in facts if fact)
        shown.append(instance.identifier + (f" ({facts_text})" if facts_text else ""))
    return Check("loaded", True, "; ".join(shown))


def _jit(served: Any, listing: list[ModelInfo], instances: list[LoadedInstance]) -> Check:
    """JIT loading shows in ``/v1/models``: with it on, the server lists models not loaded."""
    rows = served.get("data") if isinstance(served, dict) else None
    ids = {row.get("id") for row in rows or [] if isinstance(row, dict)}
    loaded = {instance.identifier for instance in instances} | {i.model_key for i in instances}
    unloaded = [model.key for model in listing if model.key not in loaded]
    if not unloaded:
        return Check("jit", True, "unknown (every model is loaded, so /v1/models cannot tell)")
    if ids & set(unloaded):
        return Check(
            "jit",
            True,
            "on: a request for a model not loaded loads it (with LM Studio's idle TTL, "
            "and auto-evict may unload the previous JIT model)",
        )
    return Check(
        "jit",
        True,
        "off: requests for a model not loaded fail unless lmbridge loads it first",
        "lmbridge loads before each request (auto_load, the default); or load ahead: "
        "lmbridge load KEY",
    )


async def doctor(bridge: Bridge, args: argparse.Namespace, out: Output) -> int:
    token_given = any(
        (args.token, os.environ.get("LM_API_TOKEN"), os.environ.get("LMSTUDIO_API_TOKEN"))
    )
    urls = [server.url for server in bridge.servers]
    if len(urls) == 1:
        checks = await run_checks(bridge, token_given=token_given)
        ok = all(check.ok for check in checks if check.essential)
        if args.json:
            report = {"ok": ok, "base_url": bridge.base_url, "checks": [asdict(c) for c in checks]}
            out.json(report)
            return 0 if ok else 1
        return _report(checks, ok, out)
    # Several servers (--base-url a,b): each is checked on its own, as if it were the only one.
    reports = []
    for url in urls:
        async with Bridge(url, api_token=args.token, max_retries=0) as one:
            checks = await run_checks(one, token_given=token_given)
        reports.append((url, checks, all(check.ok for check in checks if check.essential)))
    ok = all(each_ok for _, _, each_ok in reports)
    if args.json:
        servers = [
            {"ok": each_ok, "base_url": url, "checks": [asdict(c) for c in checks]}
            for url, checks, each_ok in reports
        ]
        out.json({"ok": ok, "servers": servers})
        return 0 if ok else 1
    for url, checks, each_ok in reports:
        out.line(out.style.bold(url))
        _report(checks, each_ok, out)
    return 0 if ok else 1


def _report(checks: list[Check], ok: bool, out: Output) -> int:
    style = out.style
    width = max(len(check.name) for check in checks)
    for check in checks:
        if check.ok:
            mark = style.green("ok  ")
        elif check.essential:
            mark = style.red("FAIL")
        else:
            mark = style.yellow("warn")
        out.line(f"{mark}  {check.name.ljust(width)}  {check.detail}")
        if check.hint:
            out.line(f"      {' ' * width}  {style.dim('-> ' + check.hint)}")
    out.line()
    if not ok:
        out.line("Something is wrong: see FAIL above.")
    elif all(check.ok for check in checks):
        out.line("All good.")
    else:
        out.line("Usable; the warnings above say what would help.")
    return 0 if ok else 1
