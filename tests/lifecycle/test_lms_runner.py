"""LmsCli against small fake `lms` executables that print canned output.

Each fake records its arguments (calls.jsonl) and its pid, so the tests can check what ran and that no
process was left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import anyio
import pytest

from lmbridge.errors import (
    InsufficientMemoryError,
    LmsArgumentError,
    LmsError,
    LmsNotFoundError,
    LmsTimeoutError,
    LmsUnreachableError,
    ModelNotFoundError,
    ModelNotLoadedError,
)
from lmbridge.lifecycle.lms import LmsCli
from lmbridge.lifecycle.lms.types import LmsLoadOutcome, LmsServerStatus

PS_ROW = {
    "type": "llm",
    "modelKey": "qwen/qwen3-4b",
    "format": "gguf",
    "displayName": "Qwen3 4B",
    "publisher": "qwen",
    "path": "qwen/Qwen3-4B-GGUF/Qwen3-4B-Q4_K_M.gguf",
    "sizeBytes": 2497281312,
    "paramsString": "4B",
    "architecture": "qwen3",
    "quantization": {"name": "Q4_K_M", "bits": 4},
    "vision": False,
    "trainedForToolUse": True,
    "maxContextLength": 32768,
    "identifier": "qwen/qwen3-4b",
    "ttlMs": None,
    "lastUsedTime": None,
    "contextLength": 4096,
    "deviceIdentifier": None,
    "status": "generating",
    "queued": 2,
    "parallel": 4,
    "someFutureField": {"x": 1},
}
OLD_EMBEDDING_ROW = {
    "type": "embedding",
    "modelKey": "text-embedding-nomic-embed-text-v1.5",
    "identifier": "text-embedding-nomic-embed-text-v1.5",
    "contextLength": 2048,
    "parallel": None,
}

SCRIPT = """\
#!{python}
import json, os, signal, subprocess, sys
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "calls.jsonl"), "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
with open(os.path.join(here, "pid"), "w") as f:
    f.write(str(os.getpid()))
if {ignore_term!r}:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if {read_stdin!r}:
    sys.stdout.write("? Select a model to load\\n")
    sys.stdout.flush()
    if sys.stdin.readline() == "":
        sys.stderr.write("Error: prompt closed\\n")
        sys.exit(1)
if {grandchild!r}:
    child = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"])
    with open(os.path.join(here, "grandchild"), "w") as f:
        f.write(str(child.pid))
for stream, text in {writes!r}:
    target = sys.stdout if stream == "out" else sys.stderr
    target.write(text)
    target.flush()
while {pause!r}:
    signal.pause()
sys.exit({exit_code!r})
"""


class FakeLms:
    """A fake `lms` in its own directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "lms"

    def script(
        self,
        *,
        writes: Sequence[tuple[str, str]] = (),
        exit_code: int = 0,
        pause: bool = False,
        ignore_term: bool = False,
        read_stdin: bool = False,
        grandchild: bool = False,
    ) -> LmsCli:
        self.path.write_text(
            SCRIPT.format(
                python=sys.executable,
                writes=list(writes),
                exit_code=exit_code,
                pause=pause,
                ignore_term=ignore_term,
                read_stdin=read_stdin,
                grandchild=grandchild,
            )
        )
        self.path.chmod(0o755)
        return LmsCli(path=self.path)

    def calls(self) -> list[list[str]]:
        log = self.directory / "calls.jsonl"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    def pid(self, name: str = "pid") -> int:
        return int((self.directory / name).read_text())


def assert_gone(pid: int) -> None:
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeLms]:
    fake = FakeLms(tmp_path)
    yield fake
    grandchild = tmp_path / "grandchild"
    if grandchild.exists():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(grandchild.read_text()), signal.SIGKILL)


# --- listing ---------------------------------------------------------------------------------


async def test_ps_parses_rows_after_log_text_and_ansi(fake: FakeLms) -> None:
    stdout = (
        "\x1b[33m[LMStudioClient]\x1b[0m Waking up LM Studio service...\n"
        + json.dumps([PS_ROW, OLD_EMBEDDING_ROW])
        + "\n"
    )
    cli = fake.script(writes=[("err", "[INFO] log on stderr [1]\n"), ("out", stdout)])

    busy, embedding = await cli.ps()

    assert fake.calls() == [["ps", "--json"]]
    assert busy.model_key == "qwen/qwen3-4b"
    assert busy.identifier == "qwen/qwen3-4b"
    assert busy.status == "generating"
    assert busy.queued == 2
    assert busy.parallel == 4
    assert busy.size_bytes == 2497281312
    assert busy.quantization is not None
    assert busy.quantization.name == "Q4_K_M"
    assert busy.trained_for_tool_use is True
    assert busy.context_length == 4096
    # Old CLI: no status/queued; embeddings: no vision/tool-use.
    assert embedding.type == "embedding"
    assert embedding.status is None
    assert embedding.queued is None
    assert embedding.vision is None
    assert embedding.parallel is None


@pytest.mark.parametrize("stdout", ["[]\n", "\x1b[33mNo models are currently loaded.\x1b[0m\n"])
async def test_ps_empty(fake: FakeLms, stdout: str) -> None:
    assert await fake.script(writes=[("out", stdout)]).ps() == []


async def test_ls_parses_downloaded_models(fake: FakeLms) -> None:
    row = {k: v for k, v in PS_ROW.items() if k not in {"identifier", "status", "queued"}}
    cli = fake.script(writes=[("out", json.dumps([row]))])

    (model,) = await cli.ls()

    assert fake.calls() == [["ls", "--json"]]
    assert model.model_key == "qwen/qwen3-4b"
    assert model.max_context_length == 32768
    assert model.params_string == "4B"


async def test_json_of_the_wrong_shape_is_a_clear_error(fake: FakeLms) -> None:
    cli = fake.script(writes=[("out", '[{"type": "llm"}]')])
    with pytest.raises(LmsError, match="unexpected shape") as caught:
        await cli.ps()
    assert caught.value.command[1:] == ["ps", "--json"]


async def test_no_json_at_all_is_an_error(fake: FakeLms) -> None:
    cli = fake.script(writes=[("out", "IDENTIFIER  MODEL  STATUS\n")])
    with pytest.raises(LmsError, match="printed no JSON array"):
        await cli.ls()


@pytest.mark.parametrize(
    ("stdout", "expected"),
    [
        ('{"running":true,"port":1234}\n', LmsServerStatus(running=True, port=1234)),
        ('{"running":false}\n', LmsServerStatus(running=False, port=None)),
        (
            '[INFO] checking {x}\n{"running":true,"port":41343}',
            LmsServerStatus(running=True, port=41343),
        ),
        ("The server is running on port 1234.\n", LmsServerStatus(running=True, port=1234)),
        ("The server is not running.\n", LmsServerStatus(running=False)),
    ],
)
async def test_server_status(fake: FakeLms, stdout: str, expected: LmsServerStatus) -> None:
    cli = fake.script(writes=[("out", stdout)])
    assert await cli.server_status() == expected
    assert fake.calls() == [["server", "status", "--json"]]


# --- loading -------------------------------------------------------------------------------


async def test_load_builds_the_argument_list_and_reads_the_outcome(fake: FakeLms) -> None:
    stderr = (
        "Model loaded successfully in 6.88s.\n(4.37 GiB)\n"
        'To use the model in the API/SDK, use the identifier "mine".\n'
    )
    cli = fake.script(writes=[("err", stderr)])

    outcome = await cli.load(
        "qwen/qwen3-4b", ttl=300, context_length=4096, gpu=0.5, identifier="mine"
    )

    assert outcome == LmsLoadOutcome(identifier="mine", load_seconds=6.88, size_text="4.37 GiB")
    assert fake.calls() == [
        [
            "load",
            "qwen/qwen3-4b",
            "-y",
            "--ttl",
            "300",
            "-c",
            "4096",
            "--gpu",
            "0.5",
            "--identifier",
            "mine",
        ]
    ]


async def test_load_minimal_arguments(fake: FakeLms) -> None:
    cli = fake.script()
    assert await cli.load("a/b", gpu="MAX") == LmsLoadOutcome(None, None, None)
    assert fake.calls() == [["load", "a/b", "-y", "--gpu", "max"]]


async def test_load_reports_progress_from_chunked_spinner(fake: FakeLms) -> None:
    frames = [
        ("out", "\r\x1b[2K Loading a/b 0% ⠋"),
        ("out", "\r\x1b[2K Loading a/b 3"),
        ("out", "3% ⠙\r\x1b[2K Loading a/b 33% ⠹"),
        ("out", "\r\x1b[2"),
        ("out", "K Loading a/b 90% ⠸\r\x1b[2K\n"),
        ("err", "Model loaded successfully in 1.00s.\n"),
    ]
    seen: list[float] = []
    outcome = await fake.script(writes=frames).load("a/b", on_progress=seen.append)
    assert seen == [0.33, 0.9, 1.0]
    assert outcome.load_seconds == 1.0


async def test_async_progress_callbacks_are_awaited(fake: FakeLms) -> None:
    seen: list[float] = []

    async def record(fraction: float) -> None:
        await anyio.sleep(0)
        seen.append(fraction)

    await fake.script(writes=[("out", "Loading a/b 50%")]).load("a/b", on_progress=record)
    assert seen == [0.5, 1.0]


async def test_failed_load_reports_no_final_progress(fake: FakeLms) -> None:
    seen: list[float] = []
    cli = fake.script(writes=[("out", "Loading a/b 50%"), ("err", "boom\n")], exit_code=1)
    with pytest.raises(LmsError):
        await cli.load("a/b", on_progress=seen.append)
    assert seen == [0.5]


@pytest.mark.parametrize(
    ("stderr", "error_type"),
    [
        ("Error: Model not found\n", ModelNotFoundError),
        ('No model found that matches "zzz".\n', ModelNotFoundError),
        ("Failed to start or connect to local LM Studio API server.\n", LmsUnreachableError),
        ("Waking up LM Studio service...\nError: timed out\n", LmsUnreachableError),
        ("Error: something unexpected\n", LmsError),
    ],
)
async def test_load_failures_are_typed(
    fake: FakeLms, stderr: str, error_type: type[Exception]
) -> None:
    cli = fake.script(writes=[("err", stderr)], exit_code=1)
    with pytest.raises(error_type) as caught:
        await cli.load("zzz")
    error = caught.value
    assert type(error) is error_type
    assert getattr(error, "model", None) == "zzz"
    assert "exit 1" in str(error)
    if isinstance(error, LmsError):
        assert error.exit_code == 1
        assert error.command[1:] == ["load", "zzz", "-y"]
        assert error.stderr is not None
        assert stderr.strip().splitlines()[-1] in error.stderr


async def test_out_of_memory_carries_required_gb(fake: FakeLms) -> None:
    stderr = (
        "Error: Model loading aborted due to insufficient system resources. Loading this model "
        "requires approximately 117.19 GB of memory.\n"
    )
    cli = fake.script(writes=[("err", stderr)], exit_code=1)
    with pytest.raises(InsufficientMemoryError) as caught:
        await cli.load("big/model")
    assert caught.value.required_gb == pytest.approx(117.19)
    assert caught.value.model == "big/model"
    assert caught.value.hint


@pytest.mark.parametrize(
    "stderr",
    [
        "Not enough memory to load the model\n",
        # LM Studio 0.4.4's wording names no memory at all
        "Error: Not enough resources to load the model with the current settings\n",
    ],
)
async def test_out_of_memory_without_a_number(fake: FakeLms, stderr: str) -> None:
    cli = fake.script(writes=[("err", stderr)], exit_code=1)
    with pytest.raises(InsufficientMemoryError) as caught:
        await cli.load("big/model")
    assert caught.value.required_gb is None


# --- unloading -----------------------------------------------------------------------------


async def test_unload_one_and_all(fake: FakeLms) -> None:
    cli = fake.script(writes=[("err", 'Model "a/b:2" unloaded.\n')])
    await cli.unload("a/b:2")
    await cli.unload(all_instances=True)
    assert fake.calls() == [["unload", "a/b:2"], ["unload", "--all"]]


async def test_unload_unknown_identifier_exits_zero_but_raises(fake: FakeLms) -> None:
    cli = fake.script(writes=[("out", 'Cannot find a model with the identifier "nope"\n')])
    with pytest.raises(ModelNotLoadedError) as caught:
        await cli.unload("nope")
    assert caught.value.model == "nope"


async def test_unload_needs_exactly_one_target(fake: FakeLms) -> None:
    cli = fake.script()
    with pytest.raises(LmsError):
        await cli.unload()
    with pytest.raises(LmsError):
        await cli.unload("a/b", all_instances=True)
    assert fake.calls() == []


# --- argument safety -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["-rf", "--all", "", "  ", "a\nb", "a\x1b[31m", "a\x00b", "a\rb"])
async def test_dangerous_names_are_refused_before_running(fake: FakeLms, name: str) -> None:
    cli = fake.script()
    with pytest.raises(LmsArgumentError, match="Refusing"):
        await cli.load(name)
    with pytest.raises(LmsArgumentError, match="Refusing"):
        await cli.load("a/b", identifier=name)
    with pytest.raises(LmsArgumentError, match="Refusing"):
        await cli.unload(name)
    assert fake.calls() == []


@pytest.mark.parametrize(
    "options",
    [
        {"ttl": 0},
        {"ttl": -5},
        {"ttl": True},
        {"context_length": 0},
        {"gpu": 1.5},
        {"gpu": "--all"},
        {"gpu": "half"},
        {"gpu": float("nan")},
    ],
)
async def test_bad_load_options_are_refused_before_running(
    fake: FakeLms, options: dict[str, object]
) -> None:
    cli = fake.script()
    with pytest.raises(LmsArgumentError):
        await cli.load("a/b", **options)  # type: ignore[arg-type]
    assert fake.calls() == []


async def test_names_with_spaces_and_unicode_pass_through_unchanged(fake: FakeLms) -> None:
    cli = fake.script()
    await cli.load("café/model name; rm -rf ~", identifier="$(touch x)")
    assert fake.calls() == [
        ["load", "café/model name; rm -rf ~", "-y", "--identifier", "$(touch x)"]
    ]
    assert not (Path.cwd() / "x").exists()


# --- process hygiene -------------------------------------------------------------------------


async def test_stdin_is_closed_so_a_prompt_fails_instead_of_hanging(fake: FakeLms) -> None:
    cli = fake.script(read_stdin=True)
    with pytest.raises(LmsError, match="prompt closed"):
        await cli.load("ambiguous")


async def test_timeout_terminates_and_reaps(fake: FakeLms) -> None:
    cli = fake.script(writes=[("err", "Waking up LM Studio service...\n")], pause=True)
    with pytest.raises(LmsTimeoutError) as caught:
        await cli.load("a/b", timeout=3)
    assert caught.value.command[1:] == ["load", "a/b", "-y"]
    assert caught.value.model == "a/b"
    assert caught.value.stderr is not None
    assert "Waking up" in caught.value.stderr
    assert_gone(fake.pid())


async def test_a_process_that_ignores_sigterm_is_killed(fake: FakeLms) -> None:
    cli = fake.script(ignore_term=True, pause=True, writes=[("out", "\rLoading a/b 10%")])
    with anyio.CancelScope() as scope:
        await cli.load("a/b", on_progress=lambda _fraction: scope.cancel())
    assert scope.cancelled_caught
    assert_gone(fake.pid())


async def test_cancellation_during_load_reaps_the_process(fake: FakeLms) -> None:
    cli = fake.script(writes=[("out", "\rLoading a/b 10% ⠋")], pause=True)
    with anyio.CancelScope() as scope:
        await cli.load("a/b", on_progress=lambda _fraction: scope.cancel())
    assert scope.cancelled_caught
    assert_gone(fake.pid())


async def test_a_failing_progress_callback_stops_the_load_and_propagates(fake: FakeLms) -> None:
    def explode(_fraction: float) -> None:
        raise RuntimeError("callback failed")

    cli = fake.script(writes=[("out", "\rLoading a/b 10% ⠋")], pause=True)
    with pytest.raises(RuntimeError, match="callback failed"):
        await cli.load("a/b", on_progress=explode)
    assert_gone(fake.pid())


async def test_a_grandchild_holding_the_pipes_does_not_hang_the_call(fake: FakeLms) -> None:
    cli = fake.script(grandchild=True, writes=[("out", "[]")])
    with anyio.fail_after(30):
        assert await cli.ps() == []
    assert_gone(fake.pid())


# --- missing executable --------------------------------------------------------------------


async def test_executable_that_vanished_raises_not_found_then_relocates(fake: FakeLms) -> None:
    fake.script(writes=[("out", "[]")])
    cli = LmsCli(path=fake.path, recheck_missing_after=0)
    assert await cli.ps() == []
    fake.path.unlink()
    with pytest.raises(LmsNotFoundError):
        await cli.ps()
    assert await cli.locate() is None
    fake.script(writes=[("out", "[]")])
    assert await cli.locate() == str(fake.path)
    assert await cli.ps() == []
