"""``models``/``ls``, ``ps``, ``load`` and ``unload`` against the simulator, as a user runs them."""

from __future__ import annotations

import json

from lmbridge.testing import SimulatedLMStudio, install_simulated_lms, read_cli_calls
from tests.cli.conftest import CLI, GEMMA, QWEN, assert_no_traceback

TABLE_RULE = "─"  # rich draws the rule under the headings; the plain fallback does not


async def test_models_json_says_what_is_downloaded_and_loaded(cli: CLI) -> None:
    run = await cli("models", "--json")
    assert run.status == 0, run.stderr
    models = {row["key"]: row for row in json.loads(run.stdout)}
    assert models[QWEN]["loaded"] is True
    assert models[GEMMA]["loaded"] is False
    assert models["text-embedding-nomic-embed-text-v1.5"]["type"] == "embedding"
    assert models[QWEN]["type"] == "llm"


async def test_ls_is_a_table_of_type_size_context_and_loaded_state(cli: CLI) -> None:
    run = await cli("ls")
    assert run.status == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].split() == ["KEY", "TYPE", "SIZE", "CONTEXT", "LOADED"]
    assert TABLE_RULE in lines[1]
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert rows[QWEN][1:] == ["llm", "2.5", "GB", "32768", "yes"]
    assert rows[GEMMA][-1] == "no"
    assert "\033[" not in run.stdout  # a pipe gets no colour
    assert all(line == line.rstrip() for line in lines)  # nor rich's padding


async def test_without_rich_the_table_is_plain_text(cli: CLI) -> None:
    run = await cli("models", plain=True)
    assert run.status == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].split() == ["KEY", "TYPE", "SIZE", "CONTEXT", "LOADED"]
    assert TABLE_RULE not in run.stdout
    assert any(line.split()[0] == QWEN and line.split()[-1] == "yes" for line in lines[1:])


async def test_load_then_ps(cli: CLI, sim: SimulatedLMStudio) -> None:
    sim.load_delay = 0.2
    loaded = await cli("load", GEMMA, "--context-length", "8192")
    assert loaded.status == 0, loaded.stderr
    assert loaded.stdout.strip() == f"Loaded {GEMMA} (context 8192)"
    assert "100%" in loaded.stderr  # the bar's last state
    assert GEMMA in [instance.identifier for instance in sim.loaded]

    ps = await cli("ps", "--json")
    assert ps.status == 0, ps.stderr
    instances = {row["identifier"]: row for row in json.loads(ps.stdout)}
    assert set(instances) == {QWEN, GEMMA}
    assert instances[GEMMA]["model_key"] == GEMMA
    assert instances[GEMMA]["context_length"] == 8192
    assert "status" in instances[GEMMA]

    table = await cli("ps")
    assert table.stdout.splitlines()[0].split() == [
        "IDENTIFIER",
        "MODEL",
        "STATUS",
        "TTL",
        "CONTEXT",
    ]


async def test_loading_a_loaded_model_makes_no_second_instance(
    cli: CLI, sim: SimulatedLMStudio
) -> None:
    run = await cli("load", QWEN, plain=True)
    assert run.status == 0, run.stderr
    assert run.stdout.strip() == f"Already loaded: {QWEN} (context 4096)"
    assert [instance.identifier for instance in sim.loaded] == [QWEN]


async def test_load_with_lms_passes_ttl_and_ps_shows_status_and_ttl(
    cli: CLI, sim: SimulatedLMStudio
) -> None:
    cli.lms_path = install_simulated_lms(cli.home / "bin", server_url=cli.url)
    run = await cli("load", GEMMA, "--ttl", "600", "--gpu", "max", plain=True)
    assert run.status == 0, run.stderr
    # Without rich, a pipe gets the plain bar's final state: one line, not a redrawn bar.
    [bar] = run.stderr.splitlines()
    assert bar.startswith(f"Loading {GEMMA} [{'#' * 30}] 100%")
    assert ["load", GEMMA, "-y", "--ttl", "600", "--gpu", "max"] in await read_cli_calls(cli.url)

    ps = await cli("ps", "--json")
    instances = {row["identifier"]: row for row in json.loads(ps.stdout)}
    assert instances[GEMMA]["ttl"] == 600
    assert instances[GEMMA]["status"] == "idle"  # lms ps reports statuses; REST listings do not
    table = await cli("ps")
    row = next(line for line in table.stdout.splitlines() if line.startswith(GEMMA))
    assert row.split()[2:] == ["idle", "10", "min", "4096"]


async def test_load_of_an_unknown_model_is_an_error_with_a_hint(cli: CLI) -> None:
    run = await cli("load", "no-such-model")
    assert run.status == 1
    assert "error: " in run.stderr and "hint: " in run.stderr
    assert "lmbridge models" in run.stderr
    assert_no_traceback(run)


async def test_unload_one_then_everything(cli: CLI, sim: SimulatedLMStudio) -> None:
    sim.load(GEMMA)
    sim.load(GEMMA)  # a second instance, google/gemma-3-4b:2

    one = await cli("unload", f"{GEMMA}:2")
    assert (one.status, one.stdout.strip()) == (0, f"Unloaded {GEMMA}:2")

    sim.load(GEMMA)
    everything = await cli("unload", "--all", "--json")
    assert everything.status == 0, everything.stderr
    assert sorted(json.loads(everything.stdout)) == sorted([QWEN, GEMMA, f"{GEMMA}:2"])
    assert sim.loaded == []

    ps = await cli("ps", "--json")
    assert json.loads(ps.stdout) == []
    again = await cli("unload", "--all")
    assert (again.status, again.stdout) == (0, "")
    assert "Nothing was loaded" in again.stderr


async def test_unload_of_something_not_loaded_is_an_error(cli: CLI) -> None:
    run = await cli("unload", GEMMA)
    assert run.status == 1
    assert "error: " in run.stderr and "hint: " in run.stderr
    assert_no_traceback(run)


async def test_with_several_servers_each_row_says_which(cli: CLI) -> None:
    other = SimulatedLMStudio(loaded=[GEMMA])
    async with other.serve() as url:
        run = await cli("ps", "--base-url", f"{cli.url},{url}")
        listed = await cli("models", "--json", env={"LMBRIDGE_BASE_URL": f"{cli.url},{url}"})
    assert run.status == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].split() == ["IDENTIFIER", "MODEL", "STATUS", "TTL", "CONTEXT", "SERVER"]
    rows = {line.split()[0]: line.split()[-1] for line in lines[2:]}
    assert rows == {QWEN: cli.url, GEMMA: url}
    servers = {(row["key"], row["server"]) for row in json.loads(listed.stdout)}
    assert {(QWEN, cli.url), (GEMMA, url)} <= servers
