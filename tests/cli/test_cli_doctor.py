"""``doctor``: each check with what it saw and what to do; exit 1 when something essential fails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lmbridge.testing import SimulatedLMStudio, install_simulated_lms
from tests.cli.conftest import CLI, QWEN


def checks_of(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in report["checks"]}


async def test_all_good_with_lms(cli: CLI) -> None:
    cli.lms_path = install_simulated_lms(cli.home / "bin", server_url=cli.url)
    run = await cli("doctor", "--json")
    assert run.status == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report["ok"] is True
    checks = checks_of(report)
    assert all(check["ok"] for check in checks.values()), checks
    assert {"server", "token", "version", "models", "lms", "loaded", "jit"} <= set(checks)
    assert "0.4.8" in checks["version"]["detail"]
    assert QWEN in checks["loaded"]["detail"]
    assert checks["jit"]["detail"].startswith("on")
    assert "managing this server" in checks["lms"]["detail"]


async def test_missing_lms_is_a_warning_not_a_failure(cli: CLI, sim: SimulatedLMStudio) -> None:
    sim.jit = False
    run = await cli("doctor")
    assert run.status == 0, run.stdout
    lines = run.stdout.splitlines()
    lms = next(line for line in lines if line.split()[1:2] == ["lms"])
    assert lms.split()[0] == "warn"
    assert "LMS_PATH" in run.stdout  # what to do about it
    jit = next(line for line in lines if line.split()[1:2] == ["jit"])
    assert "off" in jit
    assert lines[-1] == "Usable; the warnings above say what would help."


async def test_an_unreachable_server_fails_with_a_hint(tmp_path: Path) -> None:
    cli = CLI(url="http://127.0.0.1:9", home=tmp_path)
    text = await cli("doctor")
    assert text.status == 1
    assert text.stdout.startswith("FAIL  server  nothing answers at http://127.0.0.1:9")
    assert "Is LM Studio" in text.stdout

    as_json = await cli("doctor", "--json")
    assert as_json.status == 1
    report = json.loads(as_json.stdout)
    assert report["ok"] is False
    [server] = report["checks"]
    assert (server["name"], server["ok"]) == ("server", False)
    assert server["hint"]


async def test_a_required_token_is_checked_and_never_printed(
    cli: CLI, sim: SimulatedLMStudio
) -> None:
    sim.auth_token = "s3cret-token"
    missing = await cli("doctor", "--json")
    assert missing.status == 1
    token = checks_of(json.loads(missing.stdout))["token"]
    assert (token["ok"], token["detail"]) == (False, "the server requires an API token")
    assert "LM_API_TOKEN" in token["hint"]

    wrong = await cli("doctor", "--json", env={"LM_API_TOKEN": "wrong"})
    assert checks_of(json.loads(wrong.stdout))["token"]["detail"] == "the token was refused"

    right = await cli("doctor", "--token", "s3cret-token")
    assert right.status == 0, right.stdout
    assert "s3cret-token" not in right.stdout + right.stderr


async def test_with_several_servers_each_is_checked_on_its_own(cli: CLI) -> None:
    urls = f"{cli.url},http://127.0.0.1:9"
    as_json = await cli("doctor", "--json", "--base-url", urls)
    assert as_json.status == 1  # one of them answers nothing
    report = json.loads(as_json.stdout)
    assert report["ok"] is False
    up, down = report["servers"]
    assert (up["base_url"], up["ok"]) == (cli.url, True)
    assert QWEN in checks_of(up)["loaded"]["detail"]
    assert (down["base_url"], down["ok"]) == ("http://127.0.0.1:9", False)

    text = await cli("doctor", "--base-url", urls)
    assert text.status == 1
    lines = text.stdout.splitlines()
    assert lines[0] == cli.url
    assert "http://127.0.0.1:9" in lines
    assert "FAIL  server  nothing answers at http://127.0.0.1:9" in text.stdout
